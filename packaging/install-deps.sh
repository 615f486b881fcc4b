#!/usr/bin/env bash
# Install the Debian packages named in packaging/deps.txt (what the build, tests, demo and VM
# lab need). Idempotent: apt runs only when something is missing.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)

mapfile -t pkgs < <(awk '!/^#/ && NF >= 2 {print $2}' "$HERE/deps.txt" | sort -u)
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
