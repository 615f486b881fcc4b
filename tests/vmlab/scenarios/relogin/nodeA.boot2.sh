# shellcheck shell=sh
# relogin, node A second boot. Same initiator name, but a new QEMU process opens a new iSCSI
# session with a new random ISID: a new I_T nexus. Its old registration and reservation stay
# with the old nexus. LIO treats a session of the holder's initiator with another ISID as
# unregistered (it ignores registrations for it), so this boot can neither write, nor
# preempt its own stale key, even after registering again: only a peer's preempt frees it.
KEY=0xa1
DEV=$(lun_dev) || { mark "STEP lun FAIL no LIO disk"; abort_role; }
mark "STEP lun OK $DEV"
capture read-full-status-after-relogin sg_persist -n --in --read-full-status "$DEV"
step keys_stale check_keys "$DEV" "$KEY"
step holder_stale check_holder "$DEV" $KEY
step_refused write_new_nexus_refused 'Invalid exchange|reservation conflict' direct_write "$DEV" 1
step register_again sg_persist --out --register-ignore --param-sark=$KEY "$DEV"
step keys_twice check_keys "$DEV" "$KEY $KEY"
capture read-keys-reregistered sg_persist -n --in --read-keys "$DEV"
capture read-full-status-reregistered sg_persist -n --in --read-full-status "$DEV"
step_refused write_reregistered_refused 'Invalid exchange|reservation conflict' direct_write "$DEV" 2
step_refused preempt_own_key_refused 'conflict' \
    sg_persist --out --preempt --param-rk=$KEY --param-sark=$KEY --prout-type=5 "$DEV"
signal a_back

# B preempts key 0xa1: every registration carrying it goes, old session and new.
wait_for b_preempted
capture read-keys-first-after-preempt sg_persist -n --in --read-keys "$DEV"
step keys_gone check_keys "$DEV" "0xb2"
step_refused direct_write_fenced 'Invalid exchange|reservation conflict' direct_write "$DEV" 3
# Registering again makes this nexus a registrant of B's type 5 reservation: writes pass.
step register_after_preempt sg_persist --out --register-ignore --param-sark=$KEY "$DEV"
step direct_write_as_registrant direct_write "$DEV" 4
signal a_done
