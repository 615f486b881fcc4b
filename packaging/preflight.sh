#!/usr/bin/env bash
# Check that everything packaging/deps.txt lists is present: each command on PATH (the sbin
# directories included), each pkg-config module, each absolute file. For each one missing,
# one line names it, the Debian package that should have provided it and who needs it.
# Exit 1 when anything is missing and CI=true (or --strict); otherwise warn and exit 0.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
strict=${CI:-false}
[[ ${1:-} == --strict ]] && strict=true
export PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin

missing=0
while read -r what pkg who; do
  case $what in
    '' | '#'*) continue ;;
    pkg:*) pkg-config --exists "${what#pkg:}" 2>/dev/null && continue ;;
    /*) [[ -x $what ]] && continue ;;
    *) command -v "$what" >/dev/null 2>&1 && continue ;;
  esac
  echo "preflight: missing $what (Debian package $pkg, needed by $who)" >&2
  missing=$((missing + 1))
done <"$HERE/deps.txt"

if ((missing)); then
  echo "preflight: $missing missing; packaging/install-deps.sh should have installed them" >&2
  [[ $strict == true ]] && exit 1
  exit 0
fi
echo "preflight: every command the build, tests, demo and VM lab use is present"
