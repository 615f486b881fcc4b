# shellcheck shell=sh disable=SC2034 # variables for the role scripts that source this
# relocate: the service both nodes run, as svcmgr will configure it.
SVC=relocsvc
VG=vgreloc
LV=/dev/$VG/lv1
MNT=/srv/$SVC
KEY_nodeA=0xa1
KEY_nodeB=0xb2

# The agent configuration for this node (used once svcmgr drives the steps).
write_svcmgr_config() {
    mkdir -p /etc/svcmgr
    printf 'nodename = "%s"\nprkey = "%s"\n' "$1" "$2" >/etc/svcmgr/node.toml
    cat >/etc/svcmgr/$SVC.conf <<CONF
[DEFAULT]
nodes = nodeA nodeB
[vg#1]
vgname = $VG
scsireserv = true
[fs#1]
dev = $LV
mnt = $MNT
type = ext4
CONF
}
