# rudder: the two commands that matter are `make run` and `make test` (see README.md).

DATA_DIR ?= $(CURDIR)/.data
PORT ?= 6443
CARGO ?= cargo

.PHONY: run build test deps bench fmt lint clean

## Build and run a single-node cluster; kubectl access via $(DATA_DIR)/kubeconfig.yaml.
run: deps build
	@echo "export KUBECONFIG=$(DATA_DIR)/kubeconfig.yaml"
	./target/release/rudder server --data-dir $(DATA_DIR) --port $(PORT)

build:
	$(CARGO) build --release -p rudder

## Install what the tests need on a fresh Debian machine, then run every test.
test: deps
	$(CARGO) build -p rudder
	$(CARGO) nextest run --workspace --no-fail-fast

deps:
	./scripts/install-deps

## Benchmarks; figures go to docs/benchmarks.md.
bench: build
	./scripts/bench

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) clippy --workspace --all-targets

clean:
	rm -rf $(DATA_DIR)
	$(CARGO) clean
