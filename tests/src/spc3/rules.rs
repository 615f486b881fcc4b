//! SPC-3 PERSISTENT RESERVE OUT semantics for one logical unit with a single target port.
//! Each initiator name is one I_T nexus. PERSISTENT RESERVE IN never fails and changes
//! nothing, so only the OUT side lives here.

use super::state::{DeviceState, PrType, Registration, Reservation};

/// PERSISTENT RESERVE OUT service actions (SPC-3 codes 0..=8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceAction {
    Register,
    Reserve,
    Release,
    Clear,
    Preempt,
    PreemptAbort,
    RegisterIgnore,
    RegisterMove,
    ReplaceLost,
}

/// The parts of a PERSISTENT RESERVE OUT command the rules look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProutRequest {
    pub action: ServiceAction,
    /// 4-bit SCOPE field of the CDB; both tools always send 0 (LU_SCOPE).
    pub scope: u8,
    /// 4-bit TYPE field of the CDB.
    pub type_code: u8,
    /// RESERVATION KEY parameter.
    pub key: u64,
    /// SERVICE ACTION RESERVATION KEY parameter.
    pub sa_key: u64,
}

/// How the device server ends a command that is not performed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Status RESERVATION CONFLICT.
    ReservationConflict,
    /// CHECK CONDITION, ILLEGAL REQUEST, INVALID FIELD IN CDB (asc 0x24/0x00); also what
    /// this device answers to the service actions it does not implement.
    InvalidFieldInCdb,
    /// CHECK CONDITION, ILLEGAL REQUEST, INVALID FIELD IN PARAMETER LIST (asc 0x26/0x00).
    InvalidFieldInParameterList,
    /// CHECK CONDITION, ILLEGAL REQUEST, INVALID RELEASE OF PERSISTENT RESERVATION
    /// (asc 0x26/0x04).
    InvalidRelease,
}

/// Performs `req` from the I_T nexus `initiator` on `state`. On failure `state` is left
/// untouched.
pub fn persistent_reserve_out(
    state: &mut DeviceState,
    initiator: &str,
    req: &ProutRequest,
) -> Result<(), Failure> {
    let mut next = state.clone();
    match req.action {
        ServiceAction::Register => register(&mut next, initiator, req, false)?,
        ServiceAction::RegisterIgnore => register(&mut next, initiator, req, true)?,
        // This device reports neither capability; a device server rejects the CDB.
        ServiceAction::RegisterMove | ServiceAction::ReplaceLost => {
            return Err(Failure::InvalidFieldInCdb)
        }
        ServiceAction::Reserve => {
            check_registered(&next, initiator, req.key)?;
            reserve(&mut next, initiator, req)?;
        }
        ServiceAction::Release => {
            check_registered(&next, initiator, req.key)?;
            release(&mut next, initiator, req)?;
        }
        ServiceAction::Clear => {
            check_registered(&next, initiator, req.key)?;
            next.registrations.clear();
            next.reservation = None;
            bump(&mut next);
        }
        ServiceAction::Preempt | ServiceAction::PreemptAbort => {
            check_registered(&next, initiator, req.key)?;
            preempt(&mut next, initiator, req)?;
            bump(&mut next);
        }
    }
    *state = next;
    Ok(())
}

fn bump(state: &mut DeviceState) {
    state.generation = state.generation.wrapping_add(1);
}

/// Every service action but the two registering ones requires the I_T nexus to be
/// registered with the given RESERVATION KEY.
fn check_registered(state: &DeviceState, initiator: &str, key: u64) -> Result<(), Failure> {
    match state.registration(initiator) {
        Some(r) if r.key == key => Ok(()),
        _ => Err(Failure::ReservationConflict),
    }
}

fn register(
    state: &mut DeviceState,
    initiator: &str,
    req: &ProutRequest,
    ignore_key: bool,
) -> Result<(), Failure> {
    let current = state.registration(initiator).map(|r| r.key);
    match current {
        None => {
            if !ignore_key && req.key != 0 {
                return Err(Failure::ReservationConflict);
            }
            if req.sa_key == 0 {
                // Unregistered nexus unregistering: GOOD, nothing happens.
                return Ok(());
            }
            state.registrations.push(Registration {
                initiator: initiator.to_string(),
                key: req.sa_key,
            });
        }
        Some(key) => {
            if !ignore_key && req.key != key {
                return Err(Failure::ReservationConflict);
            }
            if req.sa_key == 0 {
                unregister(state, initiator);
            } else if let Some(r) = state
                .registrations
                .iter_mut()
                .find(|r| r.initiator == initiator)
            {
                r.key = req.sa_key;
            }
        }
    }
    bump(state);
    Ok(())
}

/// Removes the registration of `initiator`, releasing the reservation when it goes with it:
/// the holder's registration for the single-holder types, the last registration for the
/// all-registrants types.
fn unregister(state: &mut DeviceState, initiator: &str) {
    state.registrations.retain(|r| r.initiator != initiator);
    let Some(res) = state.reservation.as_mut() else {
        return;
    };
    if res.pr_type.is_all_registrants() {
        match state.registrations.first() {
            None => state.reservation = None,
            Some(first) if res.holder == initiator => res.holder = first.initiator.clone(),
            Some(_) => {}
        }
    } else if res.holder == initiator {
        state.reservation = None;
    }
}

fn checked_type(req: &ProutRequest) -> Result<PrType, Failure> {
    if req.scope != 0 {
        return Err(Failure::InvalidFieldInCdb);
    }
    PrType::from_code(req.type_code).ok_or(Failure::InvalidFieldInCdb)
}

fn reserve(state: &mut DeviceState, initiator: &str, req: &ProutRequest) -> Result<(), Failure> {
    let pr_type = checked_type(req)?;
    match &state.reservation {
        None => {
            state.reservation = Some(Reservation {
                holder: initiator.to_string(),
                pr_type,
                scope: req.scope,
            });
            Ok(())
        }
        // The holder asking again for the same reservation: GOOD, nothing changes.
        Some(r) if state.is_holder(initiator) && r.pr_type == pr_type && r.scope == req.scope => {
            Ok(())
        }
        // Another nexus's reservation, or the holder trying to change type or scope.
        Some(_) => Err(Failure::ReservationConflict),
    }
}

fn release(state: &mut DeviceState, initiator: &str, req: &ProutRequest) -> Result<(), Failure> {
    let Some(r) = &state.reservation else {
        return Ok(());
    };
    if !state.is_holder(initiator) {
        return Ok(());
    }
    if r.scope != req.scope || r.pr_type.code() != req.type_code {
        return Err(Failure::InvalidRelease);
    }
    state.reservation = None;
    Ok(())
}

/// Removes every other nexus registered with `key`. Fails with RESERVATION CONFLICT when
/// `key` identifies no registered nexus at all.
fn remove_registrations_with_key(
    state: &mut DeviceState,
    initiator: &str,
    key: u64,
) -> Result<(), Failure> {
    if !state.registrations.iter().any(|r| r.key == key) {
        return Err(Failure::ReservationConflict);
    }
    let victims: Vec<String> = state
        .registrations
        .iter()
        .filter(|r| r.key == key && r.initiator != initiator)
        .map(|r| r.initiator.clone())
        .collect();
    for v in victims {
        unregister(state, &v);
    }
    Ok(())
}

fn preempt(state: &mut DeviceState, initiator: &str, req: &ProutRequest) -> Result<(), Failure> {
    let Some(res) = state.reservation.clone() else {
        if req.sa_key == 0 {
            return Err(Failure::InvalidFieldInParameterList);
        }
        return remove_registrations_with_key(state, initiator, req.sa_key);
    };
    if res.pr_type.is_all_registrants() {
        if req.sa_key != 0 {
            return remove_registrations_with_key(state, initiator, req.sa_key);
        }
        // Zero key under an all-registrants reservation: everybody else goes, and this
        // nexus gets a new reservation of the requested type.
        let pr_type = checked_type(req)?;
        state.registrations.retain(|r| r.initiator == initiator);
        state.reservation = Some(Reservation {
            holder: initiator.to_string(),
            pr_type,
            scope: req.scope,
        });
        return Ok(());
    }
    if req.sa_key == 0 {
        return Err(Failure::InvalidFieldInParameterList);
    }
    if state.reservation_key() != Some(req.sa_key) {
        return remove_registrations_with_key(state, initiator, req.sa_key);
    }
    // Preempting the reservation: the holder's key loses its registrations (except this
    // nexus's own, when it preempts itself) and this nexus holds the new reservation.
    let pr_type = checked_type(req)?;
    state
        .registrations
        .retain(|r| r.key != req.sa_key || r.initiator == initiator);
    state.reservation = Some(Reservation {
        holder: initiator.to_string(),
        pr_type,
        scope: req.scope,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(action: ServiceAction, key: u64, sa_key: u64, type_code: u8) -> ProutRequest {
        ProutRequest {
            action,
            scope: 0,
            type_code,
            key,
            sa_key,
        }
    }

    fn keys(s: &DeviceState) -> Vec<(&str, u64)> {
        s.registrations
            .iter()
            .map(|r| (r.initiator.as_str(), r.key))
            .collect()
    }

    fn run(s: &mut DeviceState, who: &str, r: ProutRequest) -> Result<(), Failure> {
        persistent_reserve_out(s, who, &r)
    }

    use ServiceAction::*;

    /// n1 registered 0xa and holding type 5, n2 registered 0xb; generation 2.
    fn two_registered_n1_holds() -> DeviceState {
        let mut s = DeviceState::default();
        run(&mut s, "n1", req(Register, 0, 0xa, 0)).unwrap();
        run(&mut s, "n2", req(Register, 0, 0xb, 0)).unwrap();
        run(&mut s, "n1", req(Reserve, 0xa, 0, 5)).unwrap();
        s
    }

    #[test]
    fn register_rules() {
        let mut s = DeviceState::default();
        // Unregistered nexus with a non-zero RESERVATION KEY: conflict, nothing changes.
        assert_eq!(
            run(&mut s, "n1", req(Register, 1, 2, 0)),
            Err(Failure::ReservationConflict)
        );
        assert_eq!(s, DeviceState::default());
        // Unregistered, both keys zero: GOOD, no change, no generation bump.
        run(&mut s, "n1", req(Register, 0, 0, 0)).unwrap();
        assert_eq!(s, DeviceState::default());
        run(&mut s, "n1", req(Register, 0, 0xa, 0)).unwrap();
        assert_eq!((s.generation, keys(&s)), (1, vec![("n1", 0xa)]));
        // Registered nexus with the wrong key: conflict.
        assert_eq!(
            run(&mut s, "n1", req(Register, 0xb, 0xc, 0)),
            Err(Failure::ReservationConflict)
        );
        assert_eq!(s.generation, 1);
        // Key change keeps the registration's place.
        run(&mut s, "n2", req(Register, 0, 0x5, 0)).unwrap();
        run(&mut s, "n1", req(Register, 0xa, 0xc, 0)).unwrap();
        assert_eq!(
            (s.generation, keys(&s)),
            (3, vec![("n1", 0xc), ("n2", 0x5)])
        );
        // Unregister.
        run(&mut s, "n1", req(Register, 0xc, 0, 0)).unwrap();
        assert_eq!((s.generation, keys(&s)), (4, vec![("n2", 0x5)]));
    }

    #[test]
    fn register_ignore_always_sets_the_key() {
        let mut s = DeviceState::default();
        run(&mut s, "n1", req(RegisterIgnore, 0x99, 0xa, 0)).unwrap();
        run(&mut s, "n1", req(RegisterIgnore, 0x77, 0xb, 0)).unwrap();
        assert_eq!((s.generation, keys(&s)), (2, vec![("n1", 0xb)]));
        run(&mut s, "n1", req(RegisterIgnore, 0, 0, 0)).unwrap();
        assert_eq!((s.generation, keys(&s)), (3, vec![]));
        run(&mut s, "n1", req(RegisterIgnore, 0, 0, 0)).unwrap();
        assert_eq!(s.generation, 3);
    }

    #[test]
    fn holder_changing_its_key_keeps_the_reservation() {
        let mut s = two_registered_n1_holds();
        run(&mut s, "n1", req(RegisterIgnore, 0, 0xd, 0)).unwrap();
        assert!(s.is_holder("n1"));
        assert_eq!(s.reservation_key(), Some(0xd));
    }

    #[test]
    fn unregistering_the_holder_releases() {
        let mut s = two_registered_n1_holds();
        run(&mut s, "n2", req(Register, 0xb, 0, 0)).unwrap();
        assert!(s.reservation.is_some());
        run(&mut s, "n1", req(Register, 0xa, 0, 0)).unwrap();
        assert_eq!(s.reservation, None);
        assert_eq!(s.generation, 4);
    }

    #[test]
    fn all_registrants_reservation_lives_until_the_last_registration() {
        let mut s = DeviceState::default();
        run(&mut s, "n1", req(Register, 0, 0xa, 0)).unwrap();
        run(&mut s, "n2", req(Register, 0, 0xb, 0)).unwrap();
        run(&mut s, "n1", req(Reserve, 0xa, 0, 7)).unwrap();
        // Every registrant is a holder: same type is GOOD, another type a conflict.
        run(&mut s, "n2", req(Reserve, 0xb, 0, 7)).unwrap();
        assert_eq!(
            run(&mut s, "n2", req(Reserve, 0xb, 0, 8)),
            Err(Failure::ReservationConflict)
        );
        run(&mut s, "n1", req(Register, 0xa, 0, 0)).unwrap();
        assert!(s.is_holder("n2"));
        assert_eq!(s.reservation_key(), Some(0));
        run(&mut s, "n2", req(Register, 0xb, 0, 0)).unwrap();
        assert_eq!(s.reservation, None);
    }

    #[test]
    fn reserve_rules() {
        let mut s = two_registered_n1_holds();
        let before = s.clone();
        assert_eq!(before.generation, 2);
        // Same type by the holder: GOOD, unchanged.
        run(&mut s, "n1", req(Reserve, 0xa, 0, 5)).unwrap();
        assert_eq!(s, before);
        // The holder changing type, or another nexus: conflict.
        assert_eq!(
            run(&mut s, "n1", req(Reserve, 0xa, 0, 6)),
            Err(Failure::ReservationConflict)
        );
        assert_eq!(
            run(&mut s, "n2", req(Reserve, 0xb, 0, 5)),
            Err(Failure::ReservationConflict)
        );
        // Unregistered nexus or wrong key: conflict.
        assert_eq!(
            run(&mut s, "n3", req(Reserve, 0, 0, 5)),
            Err(Failure::ReservationConflict)
        );
        assert_eq!(
            run(&mut s, "n1", req(Reserve, 0xb, 0, 5)),
            Err(Failure::ReservationConflict)
        );
        assert_eq!(s, before);
        // Obsolete type or non-LU scope: invalid field in CDB.
        let mut fresh = DeviceState::default();
        run(&mut fresh, "n1", req(Register, 0, 1, 0)).unwrap();
        assert_eq!(
            run(&mut fresh, "n1", req(Reserve, 1, 0, 2)),
            Err(Failure::InvalidFieldInCdb)
        );
        assert_eq!(
            run(&mut fresh, "n1", req(Reserve, 1, 0, 0)),
            Err(Failure::InvalidFieldInCdb)
        );
        let mut scoped = req(Reserve, 1, 0, 5);
        scoped.scope = 1;
        assert_eq!(
            run(&mut fresh, "n1", scoped),
            Err(Failure::InvalidFieldInCdb)
        );
        assert_eq!(fresh.reservation, None);
    }

    #[test]
    fn release_rules() {
        let mut s = two_registered_n1_holds();
        // Non-holder registrant: GOOD, nothing changes.
        run(&mut s, "n2", req(Release, 0xb, 0, 5)).unwrap();
        assert!(s.is_holder("n1"));
        // Unregistered: conflict.
        assert_eq!(
            run(&mut s, "n3", req(Release, 0, 0, 5)),
            Err(Failure::ReservationConflict)
        );
        // Holder with the wrong type: invalid release.
        assert_eq!(
            run(&mut s, "n1", req(Release, 0xa, 0, 6)),
            Err(Failure::InvalidRelease)
        );
        assert!(s.is_holder("n1"));
        run(&mut s, "n1", req(Release, 0xa, 0, 5)).unwrap();
        assert_eq!(s.reservation, None);
        assert_eq!(s.generation, 2);
        // Nothing held: GOOD.
        run(&mut s, "n1", req(Release, 0xa, 0, 5)).unwrap();
    }

    #[test]
    fn clear_drops_everything() {
        let mut s = two_registered_n1_holds();
        assert_eq!(
            run(&mut s, "n2", req(Clear, 0xa, 0, 0)),
            Err(Failure::ReservationConflict)
        );
        run(&mut s, "n2", req(Clear, 0xb, 0, 0)).unwrap();
        assert_eq!(
            (s.generation, keys(&s), s.reservation.clone()),
            (3, vec![], None)
        );
    }

    #[test]
    fn preempt_the_holder_takes_the_reservation() {
        for action in [Preempt, PreemptAbort] {
            let mut s = two_registered_n1_holds();
            run(&mut s, "n2", req(action, 0xb, 0xa, 6)).unwrap();
            assert_eq!(keys(&s), vec![("n2", 0xb)]);
            let r = s.reservation.clone().unwrap();
            assert_eq!(
                (r.holder.as_str(), r.pr_type),
                ("n2", PrType::ExclusiveAccessRegistrantsOnly)
            );
            assert_eq!(s.generation, 3);
        }
    }

    #[test]
    fn preempt_removes_every_registration_with_the_key() {
        let mut s = two_registered_n1_holds();
        run(&mut s, "n3", req(Register, 0, 0xa, 0)).unwrap();
        run(&mut s, "n2", req(Preempt, 0xb, 0xa, 5)).unwrap();
        assert_eq!(keys(&s), vec![("n2", 0xb)]);
        assert_eq!(s.reservation.unwrap().holder, "n2");
    }

    #[test]
    fn preempt_a_non_holder_key_only_unregisters() {
        let mut s = two_registered_n1_holds();
        run(&mut s, "n3", req(Register, 0, 0xc, 0)).unwrap();
        run(&mut s, "n2", req(Preempt, 0xb, 0xc, 5)).unwrap();
        assert_eq!(keys(&s), vec![("n1", 0xa), ("n2", 0xb)]);
        assert!(s.is_holder("n1"));
        assert_eq!(s.generation, 4);
    }

    #[test]
    fn preempt_failures_change_nothing() {
        let mut s = two_registered_n1_holds();
        let before = s.clone();
        // Key nobody registered: conflict.
        assert_eq!(
            run(&mut s, "n2", req(Preempt, 0xb, 0x77, 5)),
            Err(Failure::ReservationConflict)
        );
        // Not registered, or wrong own key: conflict.
        assert_eq!(
            run(&mut s, "n3", req(Preempt, 0, 0xa, 5)),
            Err(Failure::ReservationConflict)
        );
        assert_eq!(
            run(&mut s, "n2", req(Preempt, 0xc, 0xa, 5)),
            Err(Failure::ReservationConflict)
        );
        // Zero key with a single-holder reservation: invalid field in parameter list.
        assert_eq!(
            run(&mut s, "n2", req(Preempt, 0xb, 0, 5)),
            Err(Failure::InvalidFieldInParameterList)
        );
        // Taking the reservation needs a valid type.
        assert_eq!(
            run(&mut s, "n2", req(Preempt, 0xb, 0xa, 0)),
            Err(Failure::InvalidFieldInCdb)
        );
        assert_eq!(s, before);
        // No reservation: zero key is invalid, a registered key only unregisters.
        let mut s = DeviceState::default();
        run(&mut s, "n1", req(Register, 0, 0xa, 0)).unwrap();
        run(&mut s, "n2", req(Register, 0, 0xb, 0)).unwrap();
        assert_eq!(
            run(&mut s, "n2", req(Preempt, 0xb, 0, 5)),
            Err(Failure::InvalidFieldInParameterList)
        );
        run(&mut s, "n2", req(Preempt, 0xb, 0xa, 5)).unwrap();
        assert_eq!((keys(&s), s.reservation.clone()), (vec![("n2", 0xb)], None));
    }

    #[test]
    fn self_preempt_changes_the_type() {
        let mut s = two_registered_n1_holds();
        run(&mut s, "n1", req(Preempt, 0xa, 0xa, 6)).unwrap();
        assert_eq!(keys(&s), vec![("n1", 0xa), ("n2", 0xb)]);
        assert_eq!(
            s.reservation.unwrap().pr_type,
            PrType::ExclusiveAccessRegistrantsOnly
        );
    }

    #[test]
    fn preempt_zero_key_under_all_registrants() {
        let mut s = DeviceState::default();
        run(&mut s, "n1", req(Register, 0, 0xa, 0)).unwrap();
        run(&mut s, "n2", req(Register, 0, 0xb, 0)).unwrap();
        run(&mut s, "n1", req(Reserve, 0xa, 0, 8)).unwrap();
        run(&mut s, "n2", req(Preempt, 0xb, 0, 5)).unwrap();
        assert_eq!(keys(&s), vec![("n2", 0xb)]);
        assert_eq!(
            s.reservation.unwrap().pr_type,
            PrType::WriteExclusiveRegistrantsOnly
        );
    }

    #[test]
    fn unsupported_service_actions() {
        let mut s = two_registered_n1_holds();
        assert_eq!(
            run(&mut s, "n1", req(RegisterMove, 0xa, 0xa, 5)),
            Err(Failure::InvalidFieldInCdb)
        );
        assert_eq!(
            run(&mut s, "n1", req(ReplaceLost, 0xa, 0, 5)),
            Err(Failure::InvalidFieldInCdb)
        );
    }
}
