# shellcheck shell=sh disable=SC2154 # SVC, VG come from lib.sh
# realoutput, node B (n2): second registrant, the refusals as the target words them, and the
# agent's view of a reservation another node holds.
KEY=0xb2
write_svcmgr_config n2 "$KEY"
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
capture prstatus-registrant svcmgr -s "$SVC" prstatus --format json
step prstatus_registrant check_prstatus 2 '"status":"warn"' \
    "\"log\":[\"reservationheldby0xa1on$DEV\"]" '"keys":["0xa1","0xb2"]' \
    '"reservation":{"key":"0xa1","type":"WriteExclusive,registrantsonly"}'
step still_two_keys check_keys "$DEV" "0xa1 $KEY"
