#!/bin/bash
# Build the guest initramfs (one image for every role) and print its path.
# Usage: build-initramfs.sh GUEST_ROOT SVCMGR_BIN OUT_DIR
#   GUEST_ROOT  unpacked guest packages (second line of fetch.sh)
#   SVCMGR_BIN  the agent binary to embed (a stripped copy goes to /usr/bin/svcmgr)
#   OUT_DIR     where initramfs.cpio.gz and the staging tree are written
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
GROOT=$1
SVCMGR_BIN=$2
OUT=$3

KVER=$(basename "$(ls -d "$GROOT"/lib/modules/*/ | head -n1)")
KMOD=$GROOT/lib/modules/$KVER
STAGE=$OUT/initramfs
MULTI=lib/x86_64-linux-gnu

# Modules per role; dependencies are added from each module's depends= metadata.
MODS_COMMON="virtio_pci configfs"
# shellcheck disable=SC2034 # MODS_<role> are read through ${!var}
MODS_storage="virtio_net target_core_mod target_core_file iscsi_target_mod"
# shellcheck disable=SC2034
MODS_node="scsi_mod sd_mod sg virtio_scsi dm-mod"

# Guest tools, from the unpacked packages (GUEST_TOOLS, paths relative to GUEST_ROOT).
# shellcheck source=tools.sh
. "$HERE/tools.sh"
LVM_LINKS="pvcreate pvs pvscan pvremove vgcreate vgchange vgs vgscan vgremove vgdisplay
 lvcreate lvchange lvs lvscan lvremove lvdisplay"

rm -rf "$STAGE"
mkdir -p "$STAGE"/{bin,sbin,usr/bin,usr/sbin,$MULTI,lib64,etc/lvm,etc/vmlab,proc,sys,dev,run,tmp,mnt,var,root}

LIBPATH=$GROOT/$MULTI:$GROOT/usr/$MULTI

# Copy an executable and every library ldd resolves for it (guest packages first, then host).
copy_with_libs() {
    local src=$1 dst=$2 lib
    install -D -m 0755 "$src" "$STAGE/$dst"
    while read -r lib; do
        [[ -n $lib ]] || continue
        [[ -e $STAGE/$MULTI/$(basename "$lib") ]] && continue
        cp -L "$lib" "$STAGE/$MULTI/$(basename "$lib")"
    done < <(LD_LIBRARY_PATH=$LIBPATH ldd "$src" 2>/dev/null |
        awk '$2 == "=>" && $3 ~ /^\// {print $3}')
}

# busybox and its applet links (never over a real tool).
install -m 0755 "$GROOT/bin/busybox" "$STAGE/bin/busybox"

for t in $GUEST_TOOLS; do
    [[ $t == bin/busybox ]] && continue
    copy_with_libs "$GROOT/$t" "$t"
done
for l in $LVM_LINKS; do ln -s lvm "$STAGE/sbin/$l"; done
ln -s mke2fs "$STAGE/sbin/mkfs.ext4"
ln -s e2fsck "$STAGE/sbin/fsck.ext4"
# coreutils dd from the host (same release): O_DIRECT writes with a clear errno message.
copy_with_libs "$(command -v dd)" usr/bin/dd
cp -L /lib64/ld-linux-x86-64.so.2 "$STAGE/lib64/"

"$GROOT/bin/busybox" --list-full | while read -r a; do
    [[ -e $STAGE/$a || -L $STAGE/$a ]] && continue
    [[ -e $STAGE/usr/bin/$(basename "$a") ]] && continue
    mkdir -p "$STAGE/$(dirname "$a")"
    ln -s /bin/busybox "$STAGE/$a"
done

# The agent, stripped.
strip -o "$OUT/svcmgr.stripped" "$SVCMGR_BIN"
copy_with_libs "$OUT/svcmgr.stripped" usr/bin/svcmgr

# Kernel modules in load order (dependencies first).
declare -A SEEN=()
ORDER=()
mod_path() {
    local n=$1 f
    f=$(find "$KMOD/kernel" \( -name "$n.ko" -o -name "${n//_/-}.ko" -o -name "${n//-/_}.ko" \) -print -quit)
    [[ -n $f ]] || { echo "build-initramfs: module $n not found" >&2; exit 1; }
    echo "$f"
}
add_mod() {
    local n=${1//-/_} f d
    [[ -n ${SEEN[$n]:-} ]] && return
    SEEN[$n]=1
    if grep -q "/${n}.ko\$\|/${n//_/-}.ko\$" "$KMOD/modules.builtin"; then return; fi
    f=$(mod_path "$1")
    for d in $(tr '\0' '\n' <"$f" | sed -n 's/^depends=//p' | tr ',' ' '); do add_mod "$d"; done
    ORDER+=("${f#"$GROOT"/}")
}
for role in storage node; do
    SEEN=()
    ORDER=()
    var=MODS_$role
    for m in $MODS_COMMON ${!var}; do add_mod "$m"; done
    : >"$STAGE/etc/vmlab/modules.$role"
    for p in "${ORDER[@]}"; do
        install -D -m 0644 "$GROOT/$p" "$STAGE/$p"
        echo "/$p" >>"$STAGE/etc/vmlab/modules.$role"
    done
done

# LVM without udev or daemons.
cat >"$STAGE/etc/lvm/lvm.conf" <<'CONF'
devices {
    obtain_device_list_from_udev = 0
    external_device_info_source = "none"
    use_devicesfile = 0
}
activation {
    udev_sync = 0
    udev_rules = 0
    monitoring = 0
}
backup {
    backup = 0
    archive = 0
}
CONF

# Init, guest library, storage setup and every scenario's role scripts.
install -m 0755 "$HERE/guest/init" "$STAGE/init"
install -m 0644 "$HERE/guest/lib.sh" "$STAGE/etc/vmlab/lib.sh"
install -m 0644 "$HERE/guest/storage.sh" "$STAGE/etc/vmlab/storage.sh"
for d in "$HERE"/scenarios/*/; do
    s=$(basename "$d")
    mkdir -p "$STAGE/etc/vmlab/scenarios/$s"
    cp "$d"/*.sh "$STAGE/etc/vmlab/scenarios/$s/" 2>/dev/null || true
done

(cd "$STAGE" && find . -mindepth 1 | LC_ALL=C sort |
    "$GROOT/bin/busybox" cpio -o -H newc 2>/dev/null) | gzip -1 >"$OUT/initramfs.cpio.gz"
rm -rf "$STAGE" "$OUT/svcmgr.stripped"
echo "$OUT/initramfs.cpio.gz"
