#!/bin/bash
# Fetch and unpack the Debian packages the VM lab needs into a cache outside the clone.
# Prints two lines: "qemu=<dir>" and "guest=<dir>", the unpacked trees.
# Cache: $SVCMGR_VMLAB_CACHE (default /var/cache/svcmgr/vmlab); trees are keyed by the
# exact package versions, so a repeat run with the same versions does no work.
set -euo pipefail

CACHE=${SVCMGR_VMLAB_CACHE:-/var/cache/svcmgr/vmlab}

QEMU_PKGS="qemu-system-x86 qemu-system-common qemu-system-data seabios ipxe-qemu
 qemu-block-extra libiscsi7 libcapstone4 libfdt1 libpmem1 librdmacm1 libibverbs1 libvdeplug2
 libndctl6 libdaxctl1 libnl-3-200 libnl-route-3-200"

# Guest userland: the tools and the libraries they link (libc6 and libgcc-s1 come from the
# host, which runs the same release, when the initramfs is built).
GUEST_PKGS="busybox-static lvm2 dmsetup libdevmapper1.02.1 libdevmapper-event1.02.1
 liblvm2cmd2.03 libaio1 sg3-utils libsgutils2-1.46-2 e2fsprogs libext2fs2 libcom-err2 libss2
 libblkid1 libuuid1 libudev1 libselinux1 libpcre2-8-0 libedit2 libbsd0 libmd0 libtinfo6
 libcap2 libsystemd0 liblz4-1 liblzma5 libzstd1 libgcrypt20 libgpg-error0"

log() { echo "fetch: $*" >&2; }

# The cloud kernel the meta-package currently points at.
kernel_pkg() {
    apt-cache depends linux-image-cloud-amd64 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' | head -n1
}

# "pkg=version" lines for the candidate versions, sorted.
pin_versions() {
    apt-cache show --no-all-versions "$@" 2>/dev/null |
        awk '/^Package: /{p=$2} /^Version: /{print p "=" $2}' | sort -u
}

# Download (if missing) and unpack a pinned set into $CACHE/<name>-<key>; print the dir.
materialize() {
    local name=$1 pins=$2 key dir pin pkg ver deb
    key=$(printf '%s\n' "$pins" | sha256sum | cut -c1-16)
    dir=$CACHE/$name-$key
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
    done <<<"$pins"
    printf '%s\n' "$pins" >"$dir.tmp/.pins"
    touch "$dir.tmp/.complete"
    rm -rf "$dir"
    mv "$dir.tmp" "$dir"
    log "unpacked $name into $dir"
    echo "$dir"
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
    if [[ -z $kpkg ]]; then
        log "package lists do not know linux-image-cloud-amd64; refreshing them once"
        apt-get update -q >&2
        kpkg=$(kernel_pkg)
    fi
    [[ -n $kpkg ]] || { log "cannot resolve linux-image-cloud-amd64 from the package lists"; exit 1; }
    qpins=$(pin_versions $QEMU_PKGS)
    gpins=$(pin_versions $GUEST_PKGS "$kpkg")
    check_all "$QEMU_PKGS" "$qpins"
    check_all "$GUEST_PKGS $kpkg" "$gpins"
    local qdir gdir
    qdir=$(materialize qemu "$qpins")
    gdir=$(materialize guest "$gpins")
    echo "qemu=$qdir"
    echo "guest=$gdir"
}

check_all() {
    local p
    for p in $1; do
        grep -q "^$p=" <<<"$2" || { log "no candidate version for $p"; exit 1; }
    done
}

main "$@"
