# svcmgr: `make demo` and `make test` install what they need (Debian packages), build, and run.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: deps build release test unit lab vmlab demo bench lint clean

deps:
	@packaging/install-deps.sh

build: deps
	$(CARGO) build --workspace --bins

release: deps
	$(CARGO) build --workspace --release --bins

## Every test: unit tests, the namespace lab tests (root), then the VM lab.
test: build
	$(CARGO) test --workspace
	$(MAKE) vmlab

vmlab: build
	SVCMGR_BIN=$(CURDIR)/target/debug/svcmgr tests/vmlab/run.sh

demo: build
	target/debug/demo

bench: release
	target/release/bench

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

clean:
	$(CARGO) clean
