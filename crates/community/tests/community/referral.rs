//! Referrals: made (`test_data/referrals.json` "new"), moved under the transition table
//! (`test_data/transitions.tsv`, every pair) and lived (`test_data/referrals.json` "stories").

use chrono::{DateTime, Utc};
use community::{
    apply, follow_up, follow_up_due, read, referral, Change, ConsentFacts, ConsentGiver,
    ConsentMethod, Ids, NewReferral, Outcome, Party, Reason, Requester, Rules, Status,
};
use serde_json::{json, Value};

use crate::{expect, shape};

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

fn text(v: &Value) -> String {
    v.as_str().unwrap().to_string()
}

fn new_referral(v: &Value) -> NewReferral {
    let requester = match v["requester"]["reference"].as_str() {
        Some(r) => Requester::Reference {
            reference: r.to_string(),
            name: text(&v["requester"]["name"]),
        },
        None => Requester::Name(text(&v["requester"]["name"])),
    };
    let consent = match &v["consent"] {
        Value::Null => None,
        c => Some(ConsentFacts {
            given_by: match &c["given_by"] {
                Value::String(s) if s == "patient" => ConsentGiver::Patient,
                g => ConsentGiver::Representative {
                    reference: g["reference"].as_str().map(str::to_string),
                    name: text(&g["name"]),
                },
            },
            at: time(&c["at"]),
            method: match c["method"].as_str() {
                Some("written") => ConsentMethod::Written,
                _ => ConsentMethod::Verbal,
            },
            document: c["document"].as_str().map(str::to_string),
        }),
    };
    NewReferral {
        ids: Ids {
            consent: text(&v["ids"]["consent"]),
            service_request: text(&v["ids"]["service_request"]),
            task: text(&v["ids"]["task"]),
        },
        patient: text(&v["patient"]),
        requester,
        hospital: text(&v["hospital"]),
        service: text(&v["service"]),
        service_name: text(&v["service_name"]),
        recipient: text(&v["recipient"]),
        recipient_name: text(&v["recipient_name"]),
        need: text(&v["need"]),
        reasons: v["reasons"].as_array().unwrap().iter().map(text).collect(),
        note: v["note"].as_str().map(str::to_string),
        contact_prohibited: v["contact_prohibited"].as_bool().unwrap(),
        consent,
        now: time(&v["now"]),
    }
}

fn base() -> Value {
    expect::json("referrals.json")["base"].clone()
}

fn with(base: &Value, change: &Value) -> Value {
    let mut v = base.clone();
    for (k, x) in change.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

/// The value at `Type.a.b[1].c` in the resources.
fn at<'a>(resources: &'a [Value], path: &str) -> &'a Value {
    let (t, rest) = path.split_once('.').unwrap();
    let mut v = resources.iter().find(|r| r["resourceType"] == t).unwrap();
    for part in rest.split('.') {
        let (name, index) = match part.split_once('[') {
            Some((n, i)) => (n, Some(i.trim_end_matches(']').parse::<usize>().unwrap())),
            None => (part, None),
        };
        v = &v[name];
        if let Some(i) = index {
            v = &v[i];
        }
    }
    v
}

#[test]
fn new_referrals_are_made_as_their_file_says() {
    let file = expect::json("referrals.json");
    let base = &file["base"];
    for c in file["new"].as_array().unwrap() {
        let what = c["what"].as_str().unwrap();
        let r = referral(&new_referral(&with(base, &c["change"])));
        if let Some(e) = c["error"].as_str() {
            assert_eq!(r.expect_err(what).to_string(), e, "{what}");
            continue;
        }
        let r = r.expect(what);
        let resources = [r.consent, r.service_request, r.task];
        for x in &resources {
            shape::check(x);
        }
        for (path, want) in c["expect"].as_object().unwrap() {
            assert_eq!(at(&resources, path), want, "{what}: {path}");
        }
        // The store shares the three records with the partner, and with no one else.
        for x in &resources {
            assert_eq!(
                access::shared_with(x).as_deref(),
                Some("cbo-o1"),
                "{what}: {}",
                x["resourceType"]
            );
        }
        let state = read(&resources[2]).expect(what);
        assert_eq!(state.status, Status::Requested);
        assert_eq!(state.service_request, "sr1");
        assert_eq!(state.service.as_deref(), Some("cbo-s1"));
        assert_eq!(state.owner.as_deref(), Some("cbo-o1"));
        assert_eq!(state.patient, "Patient/p1");
        assert_eq!(state.authored_on, time(&base["now"]));
        assert_eq!(state.last_modified, state.authored_on);
        assert_eq!(state.outcome, None);
    }
}

#[test]
fn a_note_is_bounded() {
    let mut r = new_referral(&base());
    r.note = Some("x".repeat(community::MAX_TEXT + 1));
    assert_eq!(
        referral(&r).unwrap_err().to_string(),
        "the note is longer than 10000 characters"
    );
}

fn task_at(status: Status) -> Value {
    let mut t = referral(&new_referral(&base())).unwrap().task;
    t["status"] = json!(status.code());
    t
}

fn party(code: &str) -> Party {
    match code {
        "sender" => Party::Sender,
        "recipient" => Party::Recipient,
        other => panic!("party {other}"),
    }
}

#[test]
fn every_party_from_to_is_allowed_or_refused_as_the_table_says() {
    let rules = Rules::shipped();
    let now = time(&json!("2026-03-02T10:00:00Z"));
    let text = expect::read("transitions.tsv");
    let mut rows = 0;
    for line in text.lines().filter(|l| !l.starts_with('#')).skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let (p, from, to) = (
            party(f[0]),
            Status::from_code(f[1]).unwrap(),
            Status::from_code(f[2]).unwrap(),
        );
        let allowed = f[3] == "yes";
        assert_eq!(rules.allows(p, from, to), allowed, "{line}");
        assert_eq!(rules.next(p, from).contains(&to), allowed, "{line}");
        let reason = rules.status_reasons(to).first().map(|r| Reason {
            code: r.code.clone(),
            text: Some("As discussed".into()),
        });
        let change = Change {
            to,
            reason,
            outcome: None,
            note: None,
        };
        let got = apply(&task_at(from), p, &change, "someone", now);
        if allowed {
            let t = got.unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(t["status"], to.code(), "{line}");
            assert_eq!(t["lastModified"], "2026-03-02T10:00:00Z");
            shape::check(&t);
        } else {
            let e = got.expect_err(line);
            assert_eq!(
                e,
                community::Error::NotAllowed { party: p, from, to },
                "{line}"
            );
        }
        rows += 1;
    }
    assert_eq!(rows, 2 * 9 * 9, "every pair is listed");
}

fn change(step: &Value) -> Change {
    let outcome = match step["outcome"].as_str() {
        None => None,
        Some("need-met") => Some(Outcome::NeedMet),
        Some(_) => Some(Outcome::NotMet {
            reason: text(&step["outcome_reason"]),
            text: step["outcome_text"].as_str().map(str::to_string),
        }),
    };
    Change {
        // A follow-up step names no status: it is the outcome alone.
        to: Status::from_code(step["to"].as_str().unwrap_or("completed")).unwrap(),
        reason: step["reason"].as_str().map(|code| Reason {
            code: code.to_string(),
            text: step["reason_text"].as_str().map(str::to_string),
        }),
        outcome,
        note: step["note"].as_str().map(str::to_string),
    }
}

#[test]
fn stories_go_as_their_file_says() {
    let file = expect::json("referrals.json");
    let made = referral(&new_referral(&file["base"])).unwrap();
    let sent = time(&file["base"]["now"]);
    for story in file["stories"].as_array().unwrap() {
        let what = story["what"].as_str().unwrap();
        let mut task = made.task.clone();
        for (i, step) in story["steps"].as_array().unwrap().iter().enumerate() {
            let at = time(&step["at"]);
            let actor = step["actor"].as_str().unwrap_or("someone");
            // The hospital's follow-up ("was the need met?") is a step of its own.
            let got = if step["party"] == "follow-up" {
                follow_up(&task, &change(step).outcome.unwrap(), actor, at)
            } else {
                apply(
                    &task,
                    party(step["party"].as_str().unwrap()),
                    &change(step),
                    actor,
                    at,
                )
            };
            if let Some(e) = step["error"].as_str() {
                let got = got.expect_err(&format!("{what}, step {}", i + 1));
                assert_eq!(got.to_string(), e, "{what}, step {}", i + 1);
                continue;
            }
            task = got.unwrap_or_else(|e| panic!("{what}, step {}: {e}", i + 1));
            shape::check(&task);
            let s = read(&task).unwrap();
            let summary = json!({
                "status": s.status.code(),
                "business_status": s.business_status,
                "reason": s.reason.as_ref().map(|r| json!([r.code, r.text])),
                "outcome": match &s.outcome {
                    None => Value::Null,
                    Some(Outcome::NeedMet) => json!("need-met"),
                    Some(Outcome::NotMet { reason, text }) => json!(["need-not-met", reason, text]),
                },
                "notes": s.notes.iter().map(|n| json!([n.author, n.time.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)), n.text])).collect::<Vec<_>>(),
            });
            for (k, want) in step["expect"].as_object().unwrap() {
                assert_eq!(&summary[k], want, "{what}, step {}: {k}", i + 1);
            }
            assert_eq!(s.last_modified, at, "{what}, step {}", i + 1);
        }
        let s = read(&task).unwrap();
        for (days, want) in story["follow_up"].as_object().unwrap() {
            let due = follow_up_due(
                sent,
                s.last_modified,
                s.status,
                s.outcome.is_some(),
                days.parse().unwrap(),
            );
            let due = due.map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            assert_eq!(json!(due), *want, "{what}: follow-up after {days} days");
        }
    }
}

#[test]
fn an_outcome_replaces_the_last_and_keeps_other_outputs() {
    let made = referral(&new_referral(&base())).unwrap();
    let now = time(&json!("2026-03-02T10:00:00Z"));
    let mut task = made.task;
    task["status"] = json!("in-progress");
    task["output"] = json!([{
        "type": {"coding": [{"system": "http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes", "code": "resulting-activity"}]},
        "valueReference": {"reference": "Procedure/food-given"},
    }]);
    let change = Change {
        to: Status::Completed,
        reason: None,
        outcome: Some(Outcome::NotMet {
            reason: "patient-declined".into(),
            text: None,
        }),
        note: None,
    };
    let done = apply(&task, Party::Recipient, &change, "Sam", now).unwrap();
    let outputs = done["output"].as_array().unwrap();
    assert_eq!(outputs.len(), 3);
    assert_eq!(
        outputs[0]["valueReference"]["reference"],
        "Procedure/food-given"
    );
    assert_eq!(
        outputs[2]["valueCodeableConcept"]["text"],
        "Patient declined"
    );
    assert_eq!(
        read(&done).unwrap().outcome,
        Some(Outcome::NotMet {
            reason: "patient-declined".into(),
            text: None
        })
    );
}

#[test]
fn only_referral_tasks_are_read_or_changed() {
    let made = referral(&new_referral(&base())).unwrap();
    let now = time(&json!("2026-03-02T10:00:00Z"));
    let change = Change {
        to: Status::Received,
        reason: None,
        outcome: None,
        note: None,
    };
    let e = |r: &Value| read(r).unwrap_err().to_string();
    assert_eq!(
        e(&made.consent),
        "the referral task has no valid resourceType (Task)"
    );
    let mut other = made.task.clone();
    other["code"]["coding"][0]["code"] = json!("approve");
    assert_eq!(e(&other), "the referral task has no valid code (fulfill)");
    assert_eq!(
        apply(&other, Party::Recipient, &change, "x", now)
            .unwrap_err()
            .to_string(),
        "the referral task has no valid code (fulfill)"
    );
    let mut draft = made.task.clone();
    draft["status"] = json!("draft");
    assert_eq!(e(&draft), "\"draft\" is not a status a referral can have");
    let mut unfocused = made.task.clone();
    unfocused["focus"] = json!({"reference": "CarePlan/x"});
    assert_eq!(
        e(&unfocused),
        "the referral task has no valid focus (ServiceRequest)"
    );
    let mut undated = made.task;
    undated.as_object_mut().unwrap().remove("authoredOn");
    assert_eq!(e(&undated), "the referral task has no valid authoredOn");
}
