# shellcheck shell=bash
# The ELF files the VM lab starts, relative to their unpacked tree (build-initramfs.sh copies
# GUEST_TOOLS into the initramfs; check-tree.sh checks both lists before any guest boots).
# shellcheck disable=SC2034 # read by the scripts that source this file
QEMU_ELFS="usr/bin/qemu-system-x86_64 usr/lib/x86_64-linux-gnu/qemu/block-iscsi.so
 usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so"
# shellcheck disable=SC2034
GUEST_TOOLS="bin/busybox sbin/lvm sbin/dmsetup sbin/e2fsck sbin/mke2fs
 usr/bin/sg_persist usr/bin/sg_inq usr/bin/sg_readcap usr/bin/sg_turs usr/bin/sg_vpd
 usr/bin/sg_luns usr/bin/sg_raw usr/bin/sg_requests"
