# shellcheck shell=sh
# realoutput, node B: second registrant, and the refusals as the target words them.
KEY=0xb2
DEV=$(lun_dev) || { mark "STEP lun FAIL no LIO disk"; abort_role; }
mark "STEP lun OK $DEV"

wait_for a_registered
step register sg_persist --out --register-ignore --param-sark=$KEY "$DEV"
capture read-keys-2 sg_persist --in --read-keys "$DEV"
capture read-keys-2-noinquiry sg_persist -n --in --read-keys "$DEV"
signal b_registered

wait_for a_reserved
capture reserve-conflict sg_persist --out --reserve --param-rk=$KEY --prout-type=5 "$DEV"
capture read-reservation-held-noinquiry sg_persist -n --in --read-reservation "$DEV"
step still_two_keys check_keys "$DEV" "0xa1 $KEY"
