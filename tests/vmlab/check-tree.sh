#!/bin/bash
# Check the unpacked trees before any guest boots: every ELF the lab starts must find all its
# libraries under the library path the lab uses, and QEMU must start.
# Usage: check-tree.sh QEMU_ROOT GUEST_ROOT
# Prints one line per missing library, naming the binary and, where apt can tell, the Debian
# package providing it; exit 1 if anything is missing.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
QROOT=$1
GROOT=$2
MULTI=lib/x86_64-linux-gnu
# shellcheck source=tools.sh
. "$HERE/tools.sh"

# The package that provides library file $1: the unpacked packages' file lists, the host's
# dpkg database, then Debian's naming of library packages after their soname, checked
# against the package lists.
provider() {
    local lib=$1 root p base ver
    for root in "$QROOT" "$GROOT"; do
        p=$(awk -F'\t' -v f="/$lib" 'substr($2, length($2) - length(f) + 1) == f {print $1; exit}' \
            "$root/.files" 2>/dev/null)
        [[ -n $p ]] && { echo "$p"; return; }
    done
    p=$(dpkg -S "*/$lib" 2>/dev/null | head -n1 | cut -d: -f1)
    [[ -n $p ]] && { echo "$p"; return; }
    if [[ $lib =~ ^(lib.+)\.so\.([0-9]+)$ ]]; then
        base=${BASH_REMATCH[1]}
        ver=${BASH_REMATCH[2]}
        for p in "$base$ver" "$base-$ver" "${base}${ver}t64"; do
            [[ $base =~ [0-9]$ ]] && [[ $p == "$base$ver" ]] && continue
            if apt-cache show --no-all-versions "$p" >/dev/null 2>&1; then
                echo "$p"
                return
            fi
        done
    fi
    echo "unknown"
}

missing=0
# check ROOT LIBPATH ELF...: ldd each ELF (relative to ROOT) with LD_LIBRARY_PATH=LIBPATH.
check() {
    local root=$1 libpath=$2 elf lib
    shift 2
    for elf in "$@"; do
        if [[ ! -e $root/$elf ]]; then
            echo "vmlab: set-up error: $elf is not in the unpacked tree $root" >&2
            missing=$((missing + 1))
            continue
        fi
        while read -r lib; do
            echo "vmlab: set-up error: $elf needs $lib, not found (Debian package $(provider "$lib"))" >&2
            missing=$((missing + 1))
        done < <(LD_LIBRARY_PATH=$libpath ldd "$root/$elf" 2>&1 | awk '/=> not found/ {print $1}')
    done
}

check "$QROOT" "$QROOT/usr/$MULTI:$QROOT/$MULTI" $QEMU_ELFS
check "$GROOT" "$GROOT/$MULTI:$GROOT/usr/$MULTI" $GUEST_TOOLS
if ((missing)); then
    echo "vmlab: $missing missing: tests/vmlab/fetch.sh's closure or the host lacks them" >&2
    exit 1
fi
# ldd only reads the dynamic section: start QEMU once for real.
if ! out=$(env "LD_LIBRARY_PATH=$QROOT/usr/$MULTI:$QROOT/$MULTI" \
    "QEMU_MODULE_DIR=$QROOT/usr/$MULTI/qemu" "$QROOT/usr/bin/qemu-system-x86_64" -version 2>&1); then
    echo "vmlab: set-up error: qemu-system-x86_64 -version: $(head -n1 <<<"$out")" >&2
    exit 1
fi
echo "vmlab: trees checked: $(wc -w <<<"$QEMU_ELFS $GUEST_TOOLS") binaries, $(head -n1 <<<"$out")" >&2
