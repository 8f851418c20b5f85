//! The caller's [`Access`] as SQL: one condition added to every statement that returns
//! resources (searches, includes, chains, `_has`, history, compartments, conditional
//! matches), so nothing outside the caller's reach is ever loaded, counted or revealed.
//!
//! The alias it applies to is a `resource` or `resource_version` row (both have `rtype`,
//! `seq` and `restricted`); `compartment (seq, patient)` holds each version's patients.

use access::{Access, Reach};
use search::Registry;

use crate::sql::Arg;

/// Which types a statement can return.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Types<'a> {
    /// Only this type, whose readability the caller already checked.
    One(&'a str),
    /// Any type: types the caller may not read are excluded in SQL.
    Any,
}

/// The condition on alias `t`, with its arguments appended to `args` in order; `None` when
/// the access reaches everything (Tend itself).
pub(crate) fn condition(
    access: &Access,
    t: &str,
    types: Types<'_>,
    args: &mut Vec<Arg>,
) -> Option<String> {
    if access.is_system() {
        return None;
    }
    let mut conds = Vec::new();
    let all_types = || {
        let mut v: Vec<&str> = Registry::r4().resource_types().collect();
        v.sort_unstable();
        v
    };
    let mut free: Vec<&str> = Vec::new();
    match types {
        Types::One(rtype) => {
            if !access.may_type(rtype, false) {
                return Some("1 = 0".into());
            }
            if access.reaches_all(rtype) {
                free.push(rtype);
            }
        }
        Types::Any => {
            let types = all_types();
            let denied: Vec<&str> = types
                .iter()
                .copied()
                .filter(|ty| !access.may_type(ty, false))
                .collect();
            if !denied.is_empty() {
                conds.push(format!("{t}.rtype NOT IN ({})", marks(denied.len())));
                args.extend(denied.iter().map(|d| Arg::Text(d.to_string())));
            }
            free = types
                .into_iter()
                .filter(|ty| access.may_type(ty, false) && access.reaches_all(ty))
                .collect();
        }
    }
    if !access.sees_restricted() {
        conds.push(format!("{t}.restricted = 0"));
    }
    if let Some(org) = access.partner_of() {
        // A community partner: of the referral types, only what was shared with its
        // organisation.
        let narrowed: Vec<&str> = match types {
            Types::One(rtype) => access::SHARED_TYPES
                .iter()
                .copied()
                .filter(|s| *s == rtype)
                .collect(),
            Types::Any => access::SHARED_TYPES.to_vec(),
        };
        if !narrowed.is_empty() {
            conds.push(format!(
                "({t}.rtype NOT IN ({}) OR {t}.shared = ?)",
                marks(narrowed.len())
            ));
            args.extend(narrowed.iter().map(|s| Arg::Text(s.to_string())));
            args.push(Arg::Text(org.to_string()));
        }
    }
    if let Some(me) = access.reporter() {
        // Safety-event reports: a reporter's own only (compartment-free for them, above).
        match types {
            Types::One("AdverseEvent") => {
                conds.push(format!("{t}.shared = ?"));
                args.push(Arg::Text(me));
            }
            Types::One(_) => {}
            Types::Any => {
                conds.push(format!("({t}.rtype <> ? OR {t}.shared = ?)"));
                args.push(Arg::Text("AdverseEvent".into()));
                args.push(Arg::Text(me));
            }
        }
    }
    let whole = matches!(types, Types::One(_)) && !free.is_empty();
    if !whole && *access.reach() != Reach::All {
        let mut alt = String::new();
        if !free.is_empty() {
            alt.push_str(&format!("{t}.rtype IN ({}) OR ", marks(free.len())));
            args.extend(free.iter().map(|f| Arg::Text(f.to_string())));
        }
        match access.reach() {
            Reach::Patients(set) if !set.is_empty() => {
                alt.push_str(&format!(
                    "NOT EXISTS (SELECT 1 FROM compartment c WHERE c.seq = {t}.seq AND c.patient NOT IN ({}))",
                    marks(set.len())
                ));
                args.extend(set.iter().map(|p| Arg::Text(p.clone())));
            }
            _ => alt.push_str(&format!(
                "NOT EXISTS (SELECT 1 FROM compartment c WHERE c.seq = {t}.seq)"
            )),
        }
        conds.push(format!("({alt})"));
    }
    if conds.is_empty() {
        None
    } else {
        Some(conds.join(" AND "))
    }
}

fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use access::{Principal, Role, Via};

    fn nurse(reach: &[&str]) -> Access {
        let p = Principal {
            id: "n".into(),
            name: "N".into(),
            role: Role::Nurse,
            practitioner: None,
            wards: vec![],
            organization: None,
            scopes: None,
            via: Via::Session,
        };
        Access::caller(
            p,
            Reach::Patients(reach.iter().map(|s| s.to_string()).collect()),
            None,
        )
    }

    #[test]
    fn system_adds_nothing() {
        let mut args = Vec::new();
        assert_eq!(
            condition(&Access::system(), "r", Types::Any, &mut args),
            None
        );
        assert!(args.is_empty());
    }

    #[test]
    fn a_nurse_is_limited_to_her_patients_and_open_records() {
        let mut args = Vec::new();
        let c = condition(
            &nurse(&["a", "b"]),
            "r",
            Types::One("Observation"),
            &mut args,
        )
        .unwrap();
        assert_eq!(
            c,
            "r.restricted = 0 AND (NOT EXISTS (SELECT 1 FROM compartment c WHERE c.seq = r.seq AND c.patient NOT IN (?, ?)))"
        );
        assert_eq!(args, vec![Arg::Text("a".into()), Arg::Text("b".into())]);
        let mut args = Vec::new();
        let c = condition(&nurse(&[]), "t", Types::Any, &mut args).unwrap();
        assert!(c.contains("t.rtype NOT IN ("), "{c}");
        assert!(args.contains(&Arg::Text("AuditEvent".into())));
        assert!(args.contains(&Arg::Text("MessageHeader".into())));
        assert!(c.ends_with("NOT EXISTS (SELECT 1 FROM compartment c WHERE c.seq = t.seq))"));
    }
}
