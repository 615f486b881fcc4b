# shellcheck shell=sh disable=SC2154 # SVC, VG, LV, MNT come from lib.sh
# failover, node B (n2): its daemon sees A run the service; A dies; B's orchestrator
# preempts A's key on the real LUN, starts the service, and finds A's data.
KEY=0xb2
DEV=$(lun_dev 0) || { mark "STEP lun FAIL no LIO disk"; abort_role; }
HB=$(lun_dev 1) || { mark "STEP hb_lun FAIL no heartbeat disk"; abort_role; }
mark "STEP luns OK $DEV $HB"
write_failover_config n2 "$KEY" "$HB" n1
wait_for a_up 240
step daemon_start svcmgr daemon start
step sees_a_running wait_decision "up on n1" 120
signal b_sees_a
step failed_over wait_decision "up on n2" 120
capture decision svc print decision
step holder_is_B check_holder "$DEV" "$KEY"
step keys_only_B check_keys "$DEV" "$KEY"
step status_up check_status "vg#1pr=up vg#1=up fs#1=up avail=up"
step data_intact check_data "$MNT/data"
signal b_started
wait_for a_checked 300
step stop svc stop
