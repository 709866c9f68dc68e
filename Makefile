# Cairn: the two commands a fresh machine needs are `make up` and `make test`.
# Everything they need is installed here from the lock files; nothing is assumed to be running.

CARGO   ?= cargo
CAIRN   := target/debug/cairn
NPM_STAMP := node_modules/.package-lock.json
CONTRACT_SOURCES := $(wildcard contracts/src/*.sol) contracts/build.mjs

.PHONY: up devnet down status test lint fmt build contracts deps clean check-tools jobs wasi-toolchain fuzz-smoke browser

## up: install, build, start the whole local network in the foreground (`cairn up`); Ctrl-C stops it
up: build jobs
	$(CAIRN) up

## devnet: install, build, start only the devnet with Uniswap V2 and seeded pools, print a summary
devnet: build
	$(CAIRN) devnet up

## down: stop the devnet (state is kept in .cairn/devnet/state.json)
down:
	@if [ -x $(CAIRN) ]; then $(CAIRN) devnet down; else echo "cairn is not built; nothing to stop"; fi

status: build
	$(CAIRN) devnet status

## test: format check, clippy (warnings are errors), unit and integration tests (spawn anvil;
## the dashboard's in headless Chromium)
test: contracts jobs browser
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	$(CARGO) test --workspace --locked
	$(MAKE) fuzz-smoke

## fuzz-smoke: every fuzz target for a few seconds over its committed corpus (fuzz/corpus/<target>);
## new inputs go to a scratch corpus, crashes to fuzz/artifacts/. Installs cargo-fuzz if missing.
FUZZ_TARGETS ?= note checkpoint tile_path tiles proofs tlog_proof bundle dsse job_toml plan_toml csv model_file train_trace
FUZZ_SECONDS ?= 3
FUZZ_SCRATCH := target/fuzz-scratch
fuzz-smoke:
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@$(CARGO) +nightly fuzz --version >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --locked
	cd fuzz && $(CARGO) +nightly fuzz build -a -s none
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_SCRATCH)/$$t; \
		echo "fuzz $$t ($(FUZZ_SECONDS) s)"; \
		(cd fuzz && $(CARGO) +nightly fuzz run -a -s none $$t ../$(FUZZ_SCRATCH)/$$t corpus/$$t -- \
			-max_total_time=$(FUZZ_SECONDS) > ../$(FUZZ_SCRATCH)/$$t.log 2>&1) \
			|| { tail -n 40 $(FUZZ_SCRATCH)/$$t.log; echo "fuzz target $$t failed: see fuzz/artifacts/$$t"; exit 1; }; \
		grep -E '^Done [0-9]+ runs' $(FUZZ_SCRATCH)/$$t.log || true; \
	done

build: contracts
	$(CARGO) build --locked --bin cairn

fmt:
	$(CARGO) fmt --all

## contracts: compile Cairn's Solidity and extract the Uniswap V2 artifacts into contracts/out
contracts: contracts/out/STAMP

contracts/out/STAMP: $(NPM_STAMP) $(CONTRACT_SOURCES)
	node contracts/build.mjs

## jobs: build the example compute jobs (C -> wasm32-wasi) and the native kernel into target/jobs
JOBS_DIR      := target/jobs
WASI_CC       ?= clang
WASI_CFLAGS   := --target=wasm32-wasi --sysroot=/usr -O2 -Wall -Wextra
NATIVE_CC     ?= clang
WASI_PACKAGES := clang lld wasi-libc libclang-rt-14-dev-wasm32
SUDO          := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

jobs: $(JOBS_DIR)/wordcount.wasm $(JOBS_DIR)/matmul.wasm $(JOBS_DIR)/matmul-native \
      $(JOBS_DIR)/qgemm.wasm $(JOBS_DIR)/qgemm-native

$(JOBS_DIR)/wordcount.wasm: examples/jobs/wordcount/wordcount.c | wasi-toolchain
	@mkdir -p $(@D)
	$(WASI_CC) $(WASI_CFLAGS) -o $@ $<

# The kernel uses 128-bit SIMD in both builds (SSE2 natively), so the speed comparison is like for like.
$(JOBS_DIR)/matmul.wasm: examples/jobs/matmul/matmul.c | wasi-toolchain
	@mkdir -p $(@D)
	$(WASI_CC) $(WASI_CFLAGS) -msimd128 -o $@ $<

$(JOBS_DIR)/matmul-native: examples/jobs/matmul/matmul.c | wasi-toolchain
	@mkdir -p $(@D)
	$(NATIVE_CC) -O2 -Wall -Wextra -o $@ $<

$(JOBS_DIR)/qgemm.wasm: examples/jobs/qgemm/qgemm.c | wasi-toolchain
	@mkdir -p $(@D)
	$(WASI_CC) $(WASI_CFLAGS) -msimd128 -o $@ $<

# -march=native: wasmtime compiles for the host CPU too, so both sides get its full SIMD.
$(JOBS_DIR)/qgemm-native: examples/jobs/qgemm/qgemm.c | wasi-toolchain
	@mkdir -p $(@D)
	$(NATIVE_CC) -O2 -march=native -Wall -Wextra -o $@ $<

# Debian bookworm's clang 14 + wasi-libc; installed only when a package is missing.
wasi-toolchain:
	@dpkg -s $(WASI_PACKAGES) >/dev/null 2>&1 || { \
	  command -v apt-get >/dev/null || { echo "error: install clang, wasm-ld and wasi-libc for wasm32-wasi (Debian: $(WASI_PACKAGES))"; exit 1; }; \
	  echo "installing the wasm32-wasi C toolchain: $(WASI_PACKAGES)"; \
	  $(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends $(WASI_PACKAGES); }

## browser: Debian's chromium for the dashboard's browser tests (driven by playwright-core from npm;
## no browser is downloaded)
browser: $(NPM_STAMP)
	@command -v chromium >/dev/null || { \
	  command -v apt-get >/dev/null || { echo "error: install Chromium at /usr/bin/chromium for the dashboard's browser tests (Debian: chromium)"; exit 1; }; \
	  echo "installing Debian's chromium for the dashboard's browser tests"; \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y chromium || \
	  { $(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y chromium; }; }

deps: $(NPM_STAMP)

$(NPM_STAMP): package.json package-lock.json | check-tools
	npm ci --no-audit --no-fund
	@touch $@

check-tools:
	@command -v node >/dev/null || { echo "error: node is not installed; install Node.js 20+ (apt-get install nodejs npm)"; exit 1; }
	@command -v npm >/dev/null || { echo "error: npm is not installed; install it (apt-get install npm)"; exit 1; }
	@command -v $(CARGO) >/dev/null || { echo "error: cargo is not installed; install the Rust toolchain (rustup)"; exit 1; }

clean:
	rm -rf target contracts/out node_modules
