//! AuditEvents about people and services: who they are (agent), sign-ins and sign-outs,
//! and changes to accounts and tokens.

use access::{Principal, Role};
use serde_json::{json, Value};

const DCM: &str = "http://dicom.nema.org/resources/ontology/DCM";
/// Tend's code system for its roles in `AuditEvent.agent.role`.
pub(crate) const ROLE_SYSTEM: &str = "https://tend.example.org/fhir/CodeSystem/role";
/// Tend's identifier system for user names (and service client ids).
pub(crate) const USER_SYSTEM: &str = "https://tend.example.org/fhir/NamingSystem/user";
const ACT_REASON: &str = "http://terminology.hl7.org/CodeSystem/v3-ActReason";

fn recorded(now_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(now_ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn source() -> Value {
    json!({"observer": {"display": "Tend"}, "type": [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "4", "display": "Application Server"}]})
}

fn role_coding(role: Role) -> Value {
    json!([{"coding": [{"system": ROLE_SYSTEM, "code": role.code(), "display": role.title()}]}])
}

/// The requesting agent of an AuditEvent: who (user name or client id, practitioner), role,
/// network address, and the break-the-glass reason when there was one.
pub fn agent(who: Option<&Principal>, address: Option<&str>, break_glass: Option<&str>) -> Value {
    let mut a = match who {
        Some(p) => {
            let mut w =
                json!({"identifier": {"system": USER_SYSTEM, "value": p.id}, "display": p.name});
            if let Some(r) = &p.practitioner {
                w["reference"] = json!(r);
            }
            json!({"requestor": true, "who": w, "role": role_coding(p.role),
                   "altId": p.id})
        }
        None => json!({"requestor": true, "who": {"display": "unauthenticated client"}}),
    };
    if let Some(ip) = address {
        a["network"] = json!({"address": ip, "type": "2"});
    }
    if let Some(reason) = break_glass {
        a["purposeOfUse"] = json!([{"coding": [{"system": ACT_REASON, "code": "BTG", "display": "break the glass"}], "text": reason}]);
    }
    a
}

/// A sign-in attempt (success or failure, with why).
pub fn authentication_event(
    now_ms: i64,
    username: &str,
    role: Option<Role>,
    from: &str,
    success: bool,
    why: &str,
) -> Value {
    let mut who = json!({"requestor": true, "who": {"identifier": {"system": USER_SYSTEM, "value": username}}, "altId": username, "network": {"address": from, "type": "2"}});
    if let Some(r) = role {
        who["role"] = role_coding(r);
    }
    json!({
        "resourceType": "AuditEvent",
        "id": store::audit::event_id(),
        "type": {"system": DCM, "code": "110114", "display": "User Authentication"},
        "subtype": [{"system": DCM, "code": "110122", "display": "Login"}],
        "action": "E",
        "recorded": recorded(now_ms),
        "outcome": if success { "0" } else { "4" },
        "outcomeDesc": why,
        "agent": [who],
        "source": source(),
    })
}

/// A sign-out.
pub(crate) fn logout_event(now_ms: i64, username: &str, from: &str) -> Value {
    json!({
        "resourceType": "AuditEvent",
        "id": store::audit::event_id(),
        "type": {"system": DCM, "code": "110114", "display": "User Authentication"},
        "subtype": [{"system": DCM, "code": "110123", "display": "Logout"}],
        "action": "E",
        "recorded": recorded(now_ms),
        "outcome": "0",
        "agent": [{"requestor": true, "who": {"identifier": {"system": USER_SYSTEM, "value": username}}, "altId": username, "network": {"address": from, "type": "2"}}],
        "source": source(),
    })
}

/// A change to an account or its tokens, by `by` (a user name, or `tend users` at the console).
pub(crate) fn admin_event(now_ms: i64, by: &str, what: &str, username: &str) -> Value {
    json!({
        "resourceType": "AuditEvent",
        "id": store::audit::event_id(),
        "type": {"system": DCM, "code": "110137", "display": "User Security Attributes Changed"},
        "action": "U",
        "recorded": recorded(now_ms),
        "outcome": "0",
        "outcomeDesc": what,
        "agent": [{"requestor": true, "who": {"identifier": {"system": USER_SYSTEM, "value": by}}, "altId": by}],
        "source": source(),
        "entity": [{"what": {"identifier": {"system": USER_SYSTEM, "value": username}},
                    "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2", "display": "System Object"},
                    "description": what}],
    })
}
