# shellcheck shell=sh
# realoutput, node A: record what the real LIO target answers, for the agent's parsers.
KEY=0xa1
DEV=$(lun_dev) || { mark "STEP lun FAIL no LIO disk"; abort_role; }
mark "STEP lun OK $DEV"

capture read-keys-0 sg_persist --in --read-keys "$DEV"
capture read-reservation-none sg_persist --in --read-reservation "$DEV"
capture read-full-status-0 sg_persist --in --read-full-status "$DEV"
capture report-capabilities sg_persist --in --report-capabilities "$DEV"
step register sg_persist --out --register-ignore --param-sark=$KEY "$DEV"
capture read-keys-1 sg_persist --in --read-keys "$DEV"
signal a_registered

wait_for b_registered
step reserve sg_persist --out --reserve --param-rk=$KEY --prout-type=5 "$DEV"
capture read-reservation-held sg_persist --in --read-reservation "$DEV"
capture read-full-status-held sg_persist --in --read-full-status "$DEV"
signal a_reserved
