#!/usr/bin/env bash
# cargo-deb builds `make deb`: installed once with cargo (into cargo's bin directory, outside
# the clone), at the version below, with its own locked dependencies.
set -euo pipefail
VERSION=3.8.0
if cargo deb --version 2>/dev/null | grep -q " $VERSION\$"; then
  exit 0
fi
echo "installing cargo-deb $VERSION"
cargo install cargo-deb --version "$VERSION" --locked --quiet
