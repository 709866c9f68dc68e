#!/usr/bin/env bash
# Compares cairn-data's dataset hashing with the `model-signing` PyPI package
# (its hashing-only API, `model_signing.hashing.hash`, default config: SHA-256
# per file, files hashed in parallel) on the same directory, from page cache.
#
#   crates/data/bench/compare_model_signing.sh [DIR]
#
# Without DIR it generates a 1 GiB directory of random data under /tmp
# (4 x 192 MiB + 256 x 1 MiB files) and deletes it afterwards.
# Env: VENV (virtualenv for model-signing, default /tmp/cairn-model-signing-venv),
#      RUNS (timed runs per tool, best is reported, default 5),
#      THREADS (cairn worker threads, default: all cores).
set -euo pipefail

RUNS="${RUNS:-5}"
VENV="${VENV:-/tmp/cairn-model-signing-venv}"
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"

DIR="${1:-}"
if [[ -z "$DIR" ]]; then
    DIR="$(mktemp -d /tmp/cairn-data-bench.XXXXXX)"
    trap 'rm -rf "$DIR"' EXIT
    echo "generating 1 GiB of random files in $DIR" >&2
    mkdir -p "$DIR/big" "$DIR/small"
    for i in 0 1 2 3; do head -c $((192 * 1024 * 1024)) /dev/urandom >"$DIR/big/shard-$i.bin"; done
    for i in $(seq 0 255); do head -c $((1024 * 1024)) /dev/urandom >"$DIR/small/f-$i.bin"; done
    # Flush the new files to disk first: write-back running during the timed
    # runs slows both tools (model-signing measured 1.5 instead of 2.6 GB/s).
    sync
fi

if [[ ! -x "$VENV/bin/python" ]]; then
    echo "installing model-signing into $VENV" >&2
    python3 -m venv "$VENV"
    # model-signing 1.1.1 imports OpenSSL (pyOpenSSL) without declaring it.
    "$VENV/bin/pip" install -q model-signing pyopenssl
fi

# Warm the page cache so both tools hash from memory. Other heavy processes
# (builds) skew the numbers: run on an otherwise idle machine.
find "$DIR" -type f -exec cat {} + >/dev/null

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "== model-signing $("$VENV/bin/pip" show model-signing | awk '/^Version/ {print $2}')"
"$VENV/bin/python" - "$DIR" "$RUNS" <<'PY'
import os, sys, time
import model_signing.hashing as h
path, runs = sys.argv[1], int(sys.argv[2])
total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)
h.hash(path)  # warm-up
best = min((lambda t0: (h.hash(path), time.perf_counter() - t0)[1])(time.perf_counter()) for _ in range(runs))
print(f"model_signing.hashing.hash: {total} bytes, best of {runs}: {best:.3f} s = {total / best / 1e9:.2f} GB/s")
PY

echo "== cairn-data (FastCDC + BLAKE3 Merkle + SHA-256 per file)"
cargo build -q --release -p cairn --manifest-path "$ROOT/Cargo.toml"
"$ROOT/target/release/cairn" --data-dir "$(mktemp -d)" bench data "$DIR" --runs "$RUNS" ${THREADS:+--threads "$THREADS"}
