# shellcheck shell=sh
# relogin, node B: preempts A's key after A came back, and must be the only registrant left.
KEY=0xb2
DEV=$(lun_dev) || { mark "STEP lun FAIL no LIO disk"; abort_role; }
mark "STEP lun OK $DEV"
wait_for a_back
step register sg_persist --out --register-ignore --param-sark=$KEY "$DEV"
step preempt_abort sg_persist --out --preempt-abort --param-rk=$KEY --param-sark=0xa1 --prout-type=5 "$DEV"
capture read-full-status-after-preempt sg_persist -n --in --read-full-status "$DEV"
step keys_only_B check_keys "$DEV" "$KEY"
step holder_is_B check_holder "$DEV" $KEY
signal b_preempted
wait_for a_done
step direct_write direct_write "$DEV" 4
