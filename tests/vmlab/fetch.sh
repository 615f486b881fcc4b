#!/bin/bash
# Fetch and unpack the Debian packages the VM lab needs into a cache outside the clone.
# Prints two lines: "qemu=<dir>" and "guest=<dir>", the unpacked trees.
#
# The package sets are not listed by hand: each is the Depends/Pre-Depends closure of a few
# root packages, as apt resolves it for an empty system (apt-get -s against an empty dpkg
# status), minus what must come from the host:
#   libc6  the trees run under the host's dynamic loader (/lib64/ld-linux-x86-64.so.2),
#          and a libc must match its loader exactly; the host runs the same release.
# Cache: $SVCMGR_VMLAB_CACHE (default /var/cache/svcmgr/vmlab); each tree is keyed by the
# exact versions of its whole closure, so a repeat run with the same versions does no work.
set -euo pipefail

CACHE=${SVCMGR_VMLAB_CACHE:-/var/cache/svcmgr/vmlab}

# QEMU itself, and its block modules (the libiscsi driver the node guests attach the LUN with).
QEMU_ROOTS="qemu-system-x86 qemu-block-extra"
# Guest userland (the cloud kernel is added by main): LVM, SCSI tools, ext4, busybox.
GUEST_ROOTS="busybox-static lvm2 dmsetup sg3-utils e2fsprogs"
FROM_HOST="libc6"

log() { echo "fetch: $*" >&2; }

# The cloud kernel the meta-package currently points at.
kernel_pkg() {
    apt-cache depends linux-image-cloud-amd64 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' | head -n1
}

# "pkg=version" lines of the closure of the root packages, sorted, without FROM_HOST.
closure() {
    local out
    out=$(apt-get -s -q -o Dir::State::status=/dev/null -o Debug::NoLocking=1 \
        install --no-install-recommends "$@" 2>&1) || {
        log "apt cannot resolve $*:"
        sed 's/^/fetch:   /' <<<"$out" | grep -v '^fetch:   \(Reading\|Building\|NOTE\)' >&2
        return 1
    }
    awk -v host=" $FROM_HOST " '$1 == "Inst" {
            v = $3; gsub(/[()]/, "", v)
            if (index(host, " " $2 " ") == 0) print $2 "=" v
        }' <<<"$out" | sort -u
}

# Download (if missing) and unpack a pinned set into $CACHE/<name>-<key>; print the dir.
materialize() {
    local name=$1 pins=$2 key dir pin pkg ver deb
    key=$(printf '%s\n' "$pins" | sha256sum | cut -c1-16)
    dir=$CACHE/$name-$key
    prune "$name" "$dir"
    if [[ -f $dir/.complete ]]; then
        echo "$dir"
        return
    fi
    mkdir -p "$CACHE/debs"
    local want=()
    while read -r pin; do
        pkg=${pin%%=*}
        ver=${pin#*=}
        deb=$(deb_path "$pkg" "$ver")
        [[ -f $deb ]] || want+=("$pin")
    done <<<"$pins"
    if ((${#want[@]})); then
        log "downloading ${#want[@]} packages for $name"
        if ! (cd "$CACHE/debs" && apt-get download -q -o APT::Sandbox::User=root "${want[@]}" >&2); then
            log "download failed; refreshing package lists once"
            apt-get update -q >&2
            (cd "$CACHE/debs" && apt-get download -q -o APT::Sandbox::User=root "${want[@]}" >&2)
        fi
    fi
    rm -rf "$dir.tmp"
    mkdir -p "$dir.tmp"
    while read -r pin; do
        deb=$(deb_path "${pin%%=*}" "${pin#*=}")
        [[ -f $deb ]] || { log "missing $deb after download"; exit 1; }
        dpkg-deb -x "$deb" "$dir.tmp"
        # Which package brought which file: the tree check names the package of a library.
        dpkg-deb -c "$deb" | awk -v p="${pin%%=*}" '{print p "\t" substr($6, 2)}' >>"$dir.tmp/.files"
    done <<<"$pins"
    printf '%s\n' "$pins" >"$dir.tmp/.pins"
    touch "$dir.tmp/.complete"
    rm -rf "$dir"
    mv "$dir.tmp" "$dir"
    log "unpacked $name ($(wc -l <<<"$pins") packages) into $dir"
    echo "$dir"
}

# Remove the trees of `name` other than `keep`: trees of closures that no longer resolve
# (an older point release, or the hand-written package list this script replaced, which
# lacked libslirp0) are never used again, and must not be mistaken for the lab's tree.
prune() {
    local name=$1 keep=$2 old
    for old in "$CACHE/$name"-*; do
        [[ -d $old && $old != "$keep" && $old != "$keep.tmp" ]] || continue
        log "removing superseded tree $old"
        rm -rf "$old"
    done
}

# apt-get download names files <pkg>_<version, ':' encoded as %3a>_<arch>.deb
deb_path() {
    local pkg=$1 ver=$2 f
    for f in "$CACHE/debs/${pkg}_${ver//:/%3a}_"*.deb; do
        if [[ -f $f ]]; then
            echo "$f"
            return
        fi
    done
    echo "$CACHE/debs/${pkg}_${ver}_missing.deb"
}

main() {
    local kpkg qpins gpins
    # One fetcher at a time per cache (parallel runs share it).
    mkdir -p "$CACHE"
    exec 9>"$CACHE/.lock"
    flock -w 600 9 || { log "cache $CACHE is locked"; exit 1; }
    kpkg=$(kernel_pkg)
    if [[ -z $kpkg ]] || ! qpins=$(closure $QEMU_ROOTS 2>/dev/null); then
        log "package lists incomplete; refreshing them once"
        apt-get update -q >&2
        kpkg=$(kernel_pkg)
    fi
    [[ -n $kpkg ]] || { log "cannot resolve linux-image-cloud-amd64 from the package lists"; exit 1; }
    # shellcheck disable=SC2086 # word lists
    qpins=$(closure $QEMU_ROOTS)
    # shellcheck disable=SC2086
    gpins=$(closure $GUEST_ROOTS "$kpkg")
    local qdir gdir
    qdir=$(materialize qemu "$qpins")
    gdir=$(materialize guest "$gpins")
    echo "qemu=$qdir"
    echo "guest=$gdir"
}

main "$@"
