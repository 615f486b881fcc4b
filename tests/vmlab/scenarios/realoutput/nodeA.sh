# shellcheck shell=sh disable=SC2154 # SVC, VG come from lib.sh
# realoutput, node A (n1): record what the real LIO target answers (the agent's parsers are
# unit-tested on these captures), and run the agent's parsers on it live: prstatus while A
# holds the reservation and B is registered too (a warning: B could write).
KEY=0xa1
write_svcmgr_config n1 "$KEY"
DEV=$(lun_dev) || { mark "STEP lun FAIL no LIO disk"; abort_role; }
mark "STEP lun OK $DEV"
# setup: the VG whose PV the agent's reservation covers
step vgcreate vgcreate -y "$VG" "$DEV"

capture read-keys-0 sg_persist --in --read-keys "$DEV"
capture read-reservation-none sg_persist --in --read-reservation "$DEV"
capture read-full-status-0 sg_persist --in --read-full-status "$DEV"
capture report-capabilities sg_persist --in --report-capabilities "$DEV"
step prstatus_free check_prstatus 1 '"status":"down"' '"keys":[]' '"reservation":null' \
    "\"dev\":\"$DEV\"" '"backend":"sg_persist"'
step register sg_persist --out --register-ignore --param-sark=$KEY "$DEV"
capture read-keys-1 sg_persist --in --read-keys "$DEV"
signal a_registered

wait_for b_registered
step reserve sg_persist --out --reserve --param-rk=$KEY --prout-type=5 "$DEV"
capture read-reservation-held sg_persist --in --read-reservation "$DEV"
capture read-full-status-held sg_persist --in --read-full-status "$DEV"
capture prstatus-holder svcmgr -s "$SVC" prstatus --format json
# A holds it, but B's registration lets B write too (type 5): a warning, not up.
step prstatus_holder check_prstatus 2 '"status":"warn"' '"label":"0xa1on1/1device"' \
    '0xb2alsoregisteredon' \
    '"keys":["0xa1","0xb2"]' \
    '"reservation":{"key":"0xa1","type":"WriteExclusive,registrantsonly"}'
signal a_reserved
