/*
 * wordcount: a map-reduce word count over a dataset, as a Cairn `wasm` job.
 *
 * Map:    every regular file under /input (recursively) is split into words,
 *         a word being a maximal run of ASCII letters and digits, lowercased.
 * Reduce: counts are summed into one table.
 * Output: /output/counts.txt, one "COUNT WORD" line per distinct word, sorted
 *         by count (descending), then by word (byte order), so the result
 *         does not depend on file or hash-table order. A one-line summary
 *         goes to stdout.
 *
 * Exit status: 0 on success, 1 on an I/O error (explained on stderr),
 * 2 when memory runs out.
 *
 * Build: `make jobs` (clang --target=wasm32-wasi, see the root Makefile).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_WORD 256 /* longer words are cut here (and still counted once) */

typedef struct {
    char *word;
    uint64_t count;
} Entry;

static Entry *table;
static size_t table_cap;
static size_t table_used;
static uint64_t total_words;
static unsigned long files_read;

static void out_of_memory(void) {
    fputs("wordcount: out of memory\n", stderr);
    exit(2);
}

static uint64_t hash(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static void grow(void) {
    size_t cap = table_cap ? table_cap * 2 : 1024;
    Entry *t = calloc(cap, sizeof *t);
    if (!t) out_of_memory();
    for (size_t i = 0; i < table_cap; i++) {
        if (!table[i].word) continue;
        size_t j = hash(table[i].word, strlen(table[i].word)) & (cap - 1);
        while (t[j].word) j = (j + 1) & (cap - 1);
        t[j] = table[i];
    }
    free(table);
    table = t;
    table_cap = cap;
}

static void add_word(const char *w, size_t n) {
    if (10 * (table_used + 1) > 7 * table_cap) grow();
    size_t j = hash(w, n) & (table_cap - 1);
    while (table[j].word) {
        if (strlen(table[j].word) == n && memcmp(table[j].word, w, n) == 0) {
            table[j].count++;
            total_words++;
            return;
        }
        j = (j + 1) & (table_cap - 1);
    }
    char *copy = malloc(n + 1);
    if (!copy) out_of_memory();
    memcpy(copy, w, n);
    copy[n] = '\0';
    table[j].word = copy;
    table[j].count = 1;
    table_used++;
    total_words++;
}

/* Map one file: words are split on the fly, across read boundaries. */
static int count_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "wordcount: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    static unsigned char buf[1 << 16];
    char word[MAX_WORD];
    size_t len = 0;
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
        for (size_t i = 0; i < got; i++) {
            unsigned char c = buf[i];
            if (isalnum(c)) {
                if (len < MAX_WORD) word[len++] = (char)tolower(c);
            } else if (len) {
                add_word(word, len);
                len = 0;
            }
        }
    }
    if (len) add_word(word, len);
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        fprintf(stderr, "wordcount: cannot read %s\n", path);
        return -1;
    }
    files_read++;
    return 0;
}

static int walk(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "wordcount: cannot list %s: %s\n", dir, strerror(errno));
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        size_t n = strlen(dir) + 1 + strlen(e->d_name) + 1;
        char *path = malloc(n);
        if (!path) out_of_memory();
        snprintf(path, n, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0) {
            fprintf(stderr, "wordcount: cannot stat %s: %s\n", path, strerror(errno));
            rc = -1;
        } else if (S_ISDIR(st.st_mode)) {
            rc = walk(path);
        } else if (S_ISREG(st.st_mode)) {
            rc = count_file(path);
        }
        free(path);
    }
    closedir(d);
    return rc;
}

static int by_count_then_word(const void *a, const void *b) {
    const Entry *x = a, *y = b;
    if (x->count != y->count) return x->count < y->count ? 1 : -1;
    return strcmp(x->word, y->word);
}

int main(void) {
    grow();
    if (walk("/input") != 0) return 1;

    Entry *list = malloc((table_used ? table_used : 1) * sizeof *list);
    if (!list) out_of_memory();
    size_t n = 0;
    for (size_t i = 0; i < table_cap; i++)
        if (table[i].word) list[n++] = table[i];
    qsort(list, n, sizeof *list, by_count_then_word);

    FILE *out = fopen("/output/counts.txt", "w");
    if (!out) {
        fprintf(stderr, "wordcount: cannot create /output/counts.txt: %s\n", strerror(errno));
        return 1;
    }
    for (size_t i = 0; i < n; i++) fprintf(out, "%llu %s\n", (unsigned long long)list[i].count, list[i].word);
    if (fclose(out) != 0) {
        fprintf(stderr, "wordcount: cannot write /output/counts.txt: %s\n", strerror(errno));
        return 1;
    }
    printf("files=%lu words=%llu distinct=%zu\n", files_read, (unsigned long long)total_words, n);
    return 0;
}
