# shellcheck shell=sh disable=SC2154 # SVC, VG, LV, MNT come from lib.sh
# failover, node A (n1), first boot: daemons with a disk heartbeat on LUN 1; A runs the
# service (orchestrate = ha), then dies: its daemon killed with SIGKILL (no last "stopping"
# beat), the guest powered off with the service up.
KEY=0xa1
DEV=$(lun_dev 0) || { mark "STEP lun FAIL no LIO disk"; abort_role; }
HB=$(lun_dev 1) || { mark "STEP hb_lun FAIL no heartbeat disk"; abort_role; }
mark "STEP luns OK $DEV $HB"
write_failover_config n1 "$KEY" "$HB" n2
step make_volumes make_volumes "$DEV"
step daemon_start svcmgr daemon start
step start svc start --local
step status_up check_status "vg#1pr=up vg#1=up fs#1=up avail=up"
step write_data write_data "$MNT/data"
signal a_up
wait_for b_sees_a 180
step daemon_killed sh -c 'kill -9 $(cat /var/lib/svcmgr/daemon/lock | cut -d" " -f1)'
