# svcmgr: `make demo` and `make test` install what they need (Debian packages), build, and run.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: deps build release test unit lab vmlab demo bench lint fresh-check clean man deb

## Debian packages from packaging/deps.txt, then the check that every tool is there
## (a missing one fails under CI=true, with the package that should have provided it).
deps:
	@packaging/install-deps.sh
	@packaging/preflight.sh
	@packaging/install-cargo-deb.sh

build: deps
	$(CARGO) build --workspace --bins

release: deps
	$(CARGO) build --workspace --release --bins

## Every test: unit tests, the namespace lab tests (root; the systemd one installs the .deb),
## then the VM lab.
test: build deb
	$(CARGO) test --workspace
	$(MAKE) vmlab

vmlab: build
	SVCMGR_BIN=$(CURDIR)/target/debug/svcmgr tests/vmlab/run.sh

demo: build
	target/debug/demo

## The man page svcmgr(1), from the parser and the actions' docs.
TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)
man: build
	mkdir -p $(TARGET_DIR)/man
	$(TARGET_DIR)/debug/svcmgr man > $(TARGET_DIR)/man/svcmgr.1

## The Debian package (cargo-deb, installed by `deps` into cargo's own bin directory):
## $(TARGET_DIR)/debian/svcmgr_<version>_amd64.deb.
deb: deps
	$(CARGO) build -p agent --release --bins
	mkdir -p $(TARGET_DIR)/release/deb
	$(TARGET_DIR)/release/svcmgr man | gzip -9n > $(TARGET_DIR)/release/deb/svcmgr.1.gz
	$(TARGET_DIR)/release/svcmgr completion bash > $(TARGET_DIR)/release/deb/svcmgr.bash
	$(CARGO) deb -p agent --no-build $(if $(DEB_VERSION),--deb-version $(DEB_VERSION))

bench: release
	target/release/bench

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## install-deps + preflight + the VM lab tree check in a fresh minimal bookworm (podman).
fresh-check: deps
	.ci/fresh-check.sh

clean:
	$(CARGO) clean
