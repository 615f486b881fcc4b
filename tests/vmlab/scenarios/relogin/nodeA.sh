# shellcheck shell=sh
# relogin, node A first boot: register and reserve, write, then power off without releasing.
KEY=0xa1
DEV=$(lun_dev) || { mark "STEP lun FAIL no LIO disk"; abort_role; }
mark "STEP lun OK $DEV"
step register sg_persist --out --register-ignore --param-sark=$KEY "$DEV"
step reserve sg_persist --out --reserve --param-rk=$KEY --prout-type=5 "$DEV"
step direct_write direct_write "$DEV" 0
capture read-full-status-boot1 sg_persist -n --in --read-full-status "$DEV"
