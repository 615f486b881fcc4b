#!/usr/bin/env bash
# Catch a missing install step even on a machine where the package happens to be present:
# run the project's dependency installation, the pre-flight and the VM lab's tree check inside
# a fresh minimal Debian bookworm (mmdebstrap --variant=apt, run by podman) with only the
# clone bind-mounted, read-only. It fails when anything the tests need is missing there.
#
# Caches, outside the clone: the rootfs tarball and podman image (keyed by suite, variant and
# the host's apt settings), the .debs apt downloads in the container, and the VM lab's
# package cache (shared with the host's runs). They only save downloads: every package is
# still installed or unpacked by the project's own scripts inside the container.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
CACHE=${SVCMGR_CI_CACHE:-/var/cache/svcmgr/ci}
VMLAB_CACHE=${SVCMGR_VMLAB_CACHE:-/var/cache/svcmgr/vmlab}
SUITE=bookworm
SOURCES=/etc/apt/sources.list.d/debian.sources
[[ -f $SOURCES ]] || SOURCES=/etc/apt/sources.list

# The host's apt settings that decide how the mirror is reached (proxies, validity checks).
mapfile -t APTCONF < <(grep -l '^[[:space:]]*Acquire::' /etc/apt/apt.conf.d/* 2>/dev/null || true)
KEY=$( (printf '%s\n' "$SUITE" variant=apt v1; cat "$SOURCES" "${APTCONF[@]}") | sha256sum | cut -c1-12)
IMG=localhost/svcmgr-fresh:$KEY
t0=$SECONDS

mkdir -p "$CACHE/apt-archives" "$VMLAB_CACHE"
if ! podman image exists "$IMG"; then
  if [[ ! -f $CACHE/rootfs-$KEY.tar ]]; then
    echo "fresh-check: building a minimal $SUITE rootfs (mmdebstrap, cached as $CACHE/rootfs-$KEY.tar)"
    opts=()
    for f in "${APTCONF[@]}"; do opts+=(--aptopt="$f"); done
    mmdebstrap --quiet --format=tar --variant=apt "${opts[@]}" \
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
      "$SUITE" "$CACHE/rootfs-$KEY.tar.tmp" "$SOURCES"
    mv "$CACHE/rootfs-$KEY.tar.tmp" "$CACHE/rootfs-$KEY.tar"
  fi
  podman import --quiet "$CACHE/rootfs-$KEY.tar" "$IMG" >/dev/null
fi

NAME=svcmgr-fresh-$$-$RANDOM
echo "fresh-check: in $IMG: install-deps, preflight, VM lab fetch and tree check"
podman run --rm --name "$NAME" --runtime runc --network host \
  --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 \
  -v "$SRC:/src:ro" \
  -v "$CACHE/apt-archives:/var/cache/apt/archives" \
  -v "$VMLAB_CACHE:/var/cache/svcmgr/vmlab" \
  -e CI=true -e DEBIAN_FRONTEND=noninteractive \
  "$IMG" bash -euo pipefail -c '
    cd /src
    packaging/install-deps.sh >/tmp/install.log 2>&1 || { tail -n 30 /tmp/install.log; exit 1; }
    echo "fresh-check: installed: $(sed -n "s/^installing: //p" /tmp/install.log)"
    packaging/preflight.sh --strict
    trees=$(tests/vmlab/fetch.sh 2>/tmp/fetch.log) || { tail -n 30 /tmp/fetch.log; exit 1; }
    tests/vmlab/check-tree.sh "$(sed -n "s/^qemu=//p" <<<"$trees")" "$(sed -n "s/^guest=//p" <<<"$trees")"
  '
echo "fresh-check: passed in $((SECONDS - t0)) s"
