#!/usr/bin/env bash
# Install the Debian packages svcmgr's build, tests and demo need. Idempotent: apt runs only
# when something is missing.
set -euo pipefail

pkgs=(
  # build: ssh2's libssh2 and openssl
  pkg-config libssh2-1-dev libssl-dev
  # what the drivers run
  iproute2 iputils-arping iputils-ping e2fsprogs psmisc util-linux lvm2 kpartx podman runc
  # the lab: per-node sshd, container images, benchmarks
  openssh-server openssh-client busybox-static hyperfine
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
