# Cairn: the two commands a fresh machine needs are `make up` and `make test`.
# Everything they need is installed here from the lock files; nothing is assumed to be running.

CARGO   ?= cargo
CAIRN   := target/debug/cairn
NPM_STAMP := node_modules/.package-lock.json
CONTRACT_SOURCES := $(wildcard contracts/src/*.sol) contracts/build.mjs

.PHONY: up down status test lint fmt build contracts deps clean check-tools

## up: install, build, start the devnet with Uniswap V2 and seeded pools, print a summary
up: build
	$(CAIRN) devnet up

## down: stop the devnet (state is kept in .cairn/devnet/state.json)
down:
	@if [ -x $(CAIRN) ]; then $(CAIRN) devnet down; else echo "cairn is not built; nothing to stop"; fi

status: build
	$(CAIRN) devnet status

## test: format check, clippy (warnings are errors), unit and integration tests (spawn anvil)
test: contracts
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	$(CARGO) test --workspace --locked

build: contracts
	$(CARGO) build --locked --bin cairn

fmt:
	$(CARGO) fmt --all

## contracts: compile Cairn's Solidity and extract the Uniswap V2 artifacts into contracts/out
contracts: contracts/out/STAMP

contracts/out/STAMP: $(NPM_STAMP) $(CONTRACT_SOURCES)
	node contracts/build.mjs

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
