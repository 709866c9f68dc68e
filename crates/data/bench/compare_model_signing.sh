#!/usr/bin/env bash
# Side by side: Cairn's dataset hashing (`cairn data add`, format v2, no cache)
# and the `model-signing` PyPI package (its hashing-only API,
# `model_signing.hashing.hash`, default config: SHA-256 per file, files hashed
# in parallel) on the same directory, from page cache, same cores, runs
# alternating (A B A B ...), each timed as a whole process. Then
# `cairn bench data` on the same directory for BLAKE3-only hashing of the same
# bytes (the ceiling) and the per-stage rates, and `cairn bench dedup`.
#
#   crates/data/bench/compare_model_signing.sh [DIR]
#
# Without DIR it generates a 1 GiB directory of random data under /tmp
# (4 x 192 MiB + 256 x 1 MiB files) and deletes it afterwards.
# Env: VENV (virtualenv for model-signing, default /tmp/cairn-model-signing-venv),
#      RUNS (timed runs per tool, default 7; the median is reported),
#      CAIRN (the cairn binary, default: target/release/cairn, built if missing).
set -euo pipefail

RUNS="${RUNS:-7}"
VENV="${VENV:-/tmp/cairn-model-signing-venv}"
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
CAIRN="${CAIRN:-$ROOT/target/release/cairn}"

DIR="${1:-}"
if [[ -z "$DIR" ]]; then
    DIR="$(mktemp -d /tmp/cairn-data-bench.XXXXXX)"
    trap 'rm -rf "$DIR"' EXIT
    echo "generating 1 GiB of random files in $DIR" >&2
    mkdir -p "$DIR/big" "$DIR/small"
    for i in 0 1 2 3; do head -c $((192 * 1024 * 1024)) /dev/urandom >"$DIR/big/shard-$i.bin"; done
    for i in $(seq 0 255); do head -c $((1024 * 1024)) /dev/urandom >"$DIR/small/f-$i.bin"; done
    # Flush the new files first: write-back during the timed runs slows both tools.
    sync
fi

if [[ ! -x "$VENV/bin/python" ]]; then
    echo "installing model-signing 1.1.1 into $VENV" >&2
    python3 -m venv "$VENV"
    # model-signing 1.1.1 imports OpenSSL (pyOpenSSL) without declaring it.
    "$VENV/bin/pip" install -q model-signing==1.1.1 pyopenssl
fi
if [[ ! -x "$CAIRN" ]]; then
    cargo build -q --release --bin cairn --manifest-path "$ROOT/Cargo.toml"
fi

# Warm the page cache so both tools hash from memory. Other heavy processes
# (builds) skew the numbers: run on an otherwise idle machine.
find "$DIR" -type f -exec cat {} + >/dev/null
BYTES=$(find "$DIR" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
WORK="$(mktemp -d /tmp/cairn-data-bench-work.XXXXXX)"
trap 'rm -rf "$WORK"; [[ -z "${1:-}" ]] && rm -rf "$DIR"' EXIT

now() { date +%s.%N; }
ms_cmd=("$VENV/bin/python" -c 'import sys, model_signing.hashing as h; h.hash(sys.argv[1])' "$DIR")
cairn_cmd=("$CAIRN" --data-dir "$WORK/cairn" data add "$DIR" --no-cache --manifest "$WORK/manifest.json")

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "== $BYTES bytes in $(find "$DIR" -type f | wc -l) files; $RUNS runs each, alternating, whole processes"
"${ms_cmd[@]}" && "${cairn_cmd[@]}" >/dev/null # warm-up
: >"$WORK/ms.txt"
: >"$WORK/cairn.txt"
for _ in $(seq "$RUNS"); do
    t0=$(now); "${ms_cmd[@]}"; t1=$(now)
    echo "$t1 - $t0" | bc -l >>"$WORK/ms.txt"
    t0=$(now); "${cairn_cmd[@]}" >/dev/null; t1=$(now)
    echo "$t1 - $t0" | bc -l >>"$WORK/cairn.txt"
done
median() { sort -g "$1" | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
ms=$(median "$WORK/ms.txt")
ca=$(median "$WORK/cairn.txt")
printf 'model-signing 1.1.1 (SHA-256 per file)  median %.3f s = %.2f GB/s\n' "$ms" "$(echo "$BYTES / $ms / 1000000000" | bc -l)"
printf 'cairn data add (format v2)              median %.3f s = %.2f GB/s (%.2f GB/s per core)\n' \
    "$ca" "$(echo "$BYTES / $ca / 1000000000" | bc -l)" "$(echo "$BYTES / $ca / 1000000000 / $(nproc)" | bc -l)"
printf 'cairn speed-up over model-signing       %.2fx\n' "$(echo "$ms / $ca" | bc -l)"

echo "== cairn bench data (in-process, alternating with BLAKE3-only hashing of the same files)"
"$CAIRN" --data-dir "$WORK/cairn" bench data "$DIR" --runs 5
echo "== cairn bench dedup"
"$CAIRN" --data-dir "$WORK/cairn" bench dedup
