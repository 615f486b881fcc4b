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
  # docker.io's postinst starts a system dockerd (its docker0 bridge, its iptables rules):
  # svcmgr needs none. Where the host has no policy of its own, deny service starts during
  # the install (policy-rc.d exit 101, honoured by invoke-rc.d and deb-systemd-invoke).
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    own_policy=1
  fi
  trap '((own_policy)) && rm -f "$policy"' EXIT
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
