//! The pathway rules against the data files in `test_data/`: every shipped file parses and
//! validates and its clocks match the pinned table (`rules.tsv`); broken files are refused
//! (`invalid.tsv`); clock boundaries of each standard (`boundaries.tsv`); whole scenarios with
//! hand-checked expectations (`cases/*.json`: subsequent treatments, consultant upgrade,
//! ruled-out endings, each cited adjustment, corrections, sepsis minutes, CoC measures, OG
//! biomarkers); and the worklist order (`worklist.json`).
//!
//! The expectations are written from the cited rules, not generated: a change to a rule must
//! fail here until the table or case that states it is changed too.

use chrono::{DateTime, FixedOffset};
use pathways::{
    evaluate, worst_first, Adjustment, ClockStatus, Coding, Evaluation, Event, EventKind,
    MilestoneStatus, Pathway, PathwaySet, Per, ResourceType, Unit,
};
use serde_json::Value;

fn dir() -> String {
    format!("{}/test_data", env!("CARGO_MANIFEST_DIR"))
}

fn read(name: &str) -> String {
    let path = format!("{}/{name}", dir());
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn rows(name: &str) -> Vec<(usize, Vec<String>)> {
    read(name)
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|(i, l)| (i + 1, l.split('\t').map(str::to_string).collect()))
        .collect()
}

fn time(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("time {s}: {e}"))
}

fn system(alias: &str) -> &str {
    match alias {
        "PE" => "https://tend.example.org/fhir/CodeSystem/pathway-event",
        "LOINC" => "http://loinc.org",
        "SNOMED" => "http://snomed.info/sct",
        "ATC" => "http://www.whocc.no/atc",
        "ICD10" => "http://hl7.org/fhir/sid/icd-10",
        "pews-level" => "https://tend.example.org/fhir/CodeSystem/pews-level",
        other => other,
    }
}

fn coding(s: &str) -> Coding {
    let (sys, code) = s.split_once('#').unwrap_or_else(|| panic!("coding {s}"));
    Coding::new(system(sys), code)
}

/// `Resource SYS#code status [value=n] [code=SYS#c] [focus=SYS#c] [vs=x] [link=x] [supersedes=id] [retracted]`
/// (status `-`: none).
fn event(id: &str, spec: &str, at: DateTime<FixedOffset>) -> Event {
    let mut words = spec.split_whitespace();
    let rt = words.next().unwrap();
    let rt = ResourceType::parse(rt).unwrap_or_else(|| panic!("resource {rt}"));
    let mut e = Event::resource(id, rt, at);
    e.codes.push(coding(words.next().expect("a code")));
    let status = words.next().expect("a status");
    e.status = (status != "-").then(|| status.to_string());
    for w in words {
        match w.split_once('=') {
            Some(("value", v)) => e.value = Some(v.parse().unwrap()),
            Some(("code", c)) => e.value_codes.push(coding(c)),
            Some(("focus", c)) => e.focus.push(coding(c)),
            Some(("vs", v)) => e.verification_status = Some(v.to_string()),
            Some(("link", v)) => e.link = Some(v.to_string()),
            Some(("supersedes", v)) => e.supersedes = Some(v.to_string()),
            None if w == "retracted" => e.retracted = true,
            _ => panic!("event word {w}"),
        }
    }
    e
}

fn str_of<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

fn json_event(v: &Value) -> Event {
    let id = str_of(v, "id").unwrap();
    let at = time(str_of(v, "time").unwrap());
    let mut e = match (str_of(v, "spec"), str_of(v, "navigator")) {
        (Some(spec), None) => event(id, spec, at),
        (None, Some(m)) => Event::navigator(id, m, at, str_of(v, "by").unwrap()),
        _ => panic!("event {id}: give spec or navigator"),
    };
    if let Some(by) = str_of(v, "by") {
        e.recorded_by = Some(by.to_string());
    }
    if let Some(s) = str_of(v, "source") {
        e.source = Some(s.to_string());
    }
    if let Some(l) = str_of(v, "link") {
        e.link = Some(l.to_string());
    }
    if let Some(s) = str_of(v, "supersedes") {
        e.supersedes = Some(s.to_string());
    }
    e
}

fn json_adjustment(v: &Value) -> Adjustment {
    Adjustment {
        id: str_of(v, "id").unwrap().to_string(),
        rule: str_of(v, "rule").unwrap().to_string(),
        clock: str_of(v, "clock").map(str::to_string),
        link: str_of(v, "link").map(str::to_string),
        from: time(str_of(v, "from").unwrap()),
        until: str_of(v, "until").map(time),
        reason: str_of(v, "reason").unwrap().to_string(),
        recorded_by: str_of(v, "by").unwrap().to_string(),
        recorded_at: time(str_of(v, "at").unwrap()),
        supersedes: str_of(v, "supersedes").map(str::to_string),
        retracted: v.get("retracted").and_then(Value::as_bool).unwrap_or(false),
    }
}

fn list<T>(v: &Value, k: &str, f: impl Fn(&Value) -> T) -> Vec<T> {
    v.get(k)
        .and_then(Value::as_array)
        .map(|a| a.iter().map(f).collect())
        .unwrap_or_default()
}

fn status(s: &str) -> ClockStatus {
    match s {
        "NotStarted" => ClockStatus::NotStarted,
        "NotApplicable" => ClockStatus::NotApplicable,
        "Running" => ClockStatus::Running,
        "Paused" => ClockStatus::Paused,
        "Met" => ClockStatus::Met,
        "Breached" => ClockStatus::Breached,
        "Ended" => ClockStatus::Ended,
        _ => panic!("clock status {s}"),
    }
}

fn milestone_status(s: &str) -> MilestoneStatus {
    match s {
        "Done" => MilestoneStatus::Done,
        "Pending" => MilestoneStatus::Pending,
        "Overdue" => MilestoneStatus::Overdue,
        "NotNeeded" => MilestoneStatus::NotNeeded,
        _ => panic!("milestone status {s}"),
    }
}

#[test]
fn every_shipped_pathway_parses_and_validates() {
    let set = PathwaySet::builtin();
    assert_eq!(set.pathways().len(), PathwaySet::builtin_files().len());
    for (name, text) in PathwaySet::builtin_files() {
        let p = Pathway::parse(name, text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(format!("{}.json", p.id), *name, "file named after its id");
        assert!(!p.sources.is_empty());
        for c in &p.clocks {
            assert!(!c.cite.is_empty(), "{}: clock {} cites", p.id, c.id);
        }
        for a in &p.adjustments {
            assert!(!a.cite.is_empty(), "{}: adjustment {} cites", p.id, a.id);
        }
    }
}

#[test]
fn shipped_clocks_match_the_pinned_table() {
    let set = PathwaySet::builtin();
    let dash = |v: Vec<String>| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.join(",")
        }
    };
    let mut seen = 0;
    for (line, r) in rows("rules.tsv") {
        let p = set
            .pathway(&r[0])
            .unwrap_or_else(|| panic!("line {line}: {}", r[0]));
        let c = p
            .clock(&r[1])
            .unwrap_or_else(|| panic!("line {line}: {}", r[1]));
        let per = match c.per {
            Per::Episode => "episode",
            Per::EachStart => "each-start",
        };
        let starts = dash(
            c.start
                .iter()
                .map(|s| {
                    let plus = if s.overrides { "+" } else { "" };
                    match s.target {
                        Some(t) => format!("{plus}{}:{}", s.milestone, t.amount()),
                        None => format!("{plus}{}", s.milestone),
                    }
                })
                .collect(),
        );
        let stops = dash(
            c.stop
                .iter()
                .map(|s| format!("{}:{}", s.milestone, s.ending.as_deref().unwrap_or("-")))
                .collect(),
        );
        let unit = match c.target.unit() {
            Unit::Days => "days",
            Unit::Minutes => "minutes",
        };
        let pct = c
            .standard_percent
            .map_or("-".to_string(), |p| format!("{p}"));
        let got = vec![
            p.id.clone(),
            c.id.clone(),
            per.to_string(),
            starts,
            dash(c.requires.clone()),
            stops,
            dash(c.ended_by.clone()),
            c.target.amount().to_string(),
            unit.to_string(),
            pct,
            dash(c.adjustments.clone()),
            dash(c.applies_if.clone()),
            dash(c.not_if.clone()),
        ];
        assert_eq!(got, r, "line {line}");
        seen += 1;
    }
    let all: usize = set.pathways().iter().map(|p| p.clocks.len()).sum();
    assert_eq!(seen, all, "every shipped clock is in rules.tsv");
}

#[test]
fn broken_files_are_refused_with_the_reason() {
    for (line, r) in rows("invalid.tsv") {
        let (_, text) = PathwaySet::builtin_files()
            .iter()
            .find(|(n, _)| *n == r[0])
            .unwrap_or_else(|| panic!("line {line}: {}", r[0]));
        let mut doc: Value = serde_json::from_str(text).unwrap();
        let slot = doc
            .pointer_mut(&r[1])
            .unwrap_or_else(|| panic!("line {line}: no {}", r[1]));
        *slot = serde_json::from_str(&r[2]).unwrap_or_else(|e| panic!("line {line}: {e}"));
        let err = Pathway::parse(&r[0], &doc.to_string())
            .expect_err(&format!("line {line}: accepted"))
            .to_string();
        assert!(err.contains(&r[3]), "line {line}: {err}");
    }
}

#[test]
fn a_site_replaces_adds_and_switches_off_pathways() {
    let (_, sepsis) = PathwaySet::builtin_files()
        .iter()
        .find(|(n, _)| *n == "sepsis-adult.json")
        .unwrap();
    let mut doc: Value = serde_json::from_str(sepsis).unwrap();
    doc["clocks"][0]["target"] = serde_json::json!({"minutes": 45});
    let mut off: Value = serde_json::from_str(sepsis).unwrap();
    off["id"] = "coc-quality-measures".into();
    off["enabled"] = false.into();
    let mut new: Value = serde_json::from_str(sepsis).unwrap();
    new["id"] = "sepsis-site".into();
    let set = PathwaySet::with_overrides(vec![
        ("site/sepsis.json".into(), doc.to_string()),
        ("site/off.json".into(), off.to_string()),
        ("site/new.json".into(), new.to_string()),
    ])
    .unwrap();
    let ids: Vec<&str> = set.pathways().iter().map(|p| p.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "nhs-suspected-cancer",
            "oesophago-gastric",
            "sepsis-adult",
            "sepsis-site"
        ]
    );
    let c = set
        .pathway("sepsis-adult")
        .unwrap()
        .clock("antibiotics-within-hour");
    assert_eq!(c.unwrap().target.amount(), 45);
}

#[test]
fn clock_boundaries() {
    let set = PathwaySet::builtin();
    let mut n = 0;
    for (line, r) in rows("boundaries.tsv") {
        let p = set.pathway(&r[0]).unwrap();
        let mut events = vec![event("start", &r[2], time(&r[3]))];
        if r[4] != "-" {
            events.push(event("stop", &r[4], time(&r[5])));
        }
        let ev = evaluate(p, &events, &[], time(&r[6]));
        let c = ev
            .clocks
            .iter()
            .find(|c| c.clock == r[1])
            .unwrap_or_else(|| panic!("line {line}: clock {}", r[1]));
        let what = format!("line {line}: {} {}", r[0], r[1]);
        assert_eq!(c.status, status(&r[7]), "{what}: status");
        assert_eq!(c.elapsed.to_string(), r[8], "{what}: elapsed");
        assert_eq!(c.remaining.to_string(), r[9], "{what}: remaining");
        let deadline = c.deadline.map_or("-".to_string(), |d| d.to_rfc3339());
        assert_eq!(deadline, r[10], "{what}: deadline");
        n += 1;
    }
    assert!(n >= 20);
}

fn check_case(name: &str, case: &Value, ev: &Evaluation) {
    let expect = &case["expect"];
    if let Some(clocks) = expect.get("clocks").and_then(Value::as_array) {
        assert_eq!(
            clocks.len(),
            ev.clocks.len(),
            "{name}: clocks {:#?}",
            ev.clocks
        );
        for (want, got) in clocks.iter().zip(&ev.clocks) {
            let what = format!("{name}: clock {}", got.clock);
            assert_eq!(str_of(want, "clock"), Some(got.clock.as_str()), "{what}");
            assert_eq!(
                got.status,
                status(str_of(want, "status").unwrap()),
                "{what}: {got:#?}"
            );
            let int = |k: &str| want.get(k).and_then(Value::as_i64);
            if let Some(x) = int("elapsed") {
                assert_eq!(got.elapsed, x, "{what}: elapsed");
            }
            if let Some(x) = int("remaining") {
                assert_eq!(got.remaining, x, "{what}: remaining");
            }
            if let Some(x) = int("paused") {
                assert_eq!(got.paused, x, "{what}: paused");
            }
            let text = |k: &str, v: Option<String>| {
                if let Some(w) = want.get(k) {
                    assert_eq!(w.as_str().map(str::to_string), v, "{what}: {k}");
                }
            };
            text("link", got.link.clone());
            text("start", got.start.map(|t| t.to_rfc3339()));
            text("start_event", got.start_event.clone());
            text("stop_event", got.stop_event.clone());
            text("ending", got.ending.clone());
            text("reason", got.reason.clone());
            text("deadline", got.deadline.map(|t| t.to_rfc3339()));
            if want.get("adjustments").is_some() {
                let ids: Vec<String> = got.adjustments.iter().map(|a| a.id.clone()).collect();
                assert_eq!(
                    ids,
                    list(want, "adjustments", |v| v.as_str().unwrap().to_string()),
                    "{what}"
                );
            }
        }
    }
    if let Some(ms) = expect.get("milestones").and_then(Value::as_object) {
        for (id, want) in ms {
            let m = ev.milestones.iter().find(|m| m.id == *id).unwrap();
            assert_eq!(
                m.status,
                milestone_status(want.as_str().unwrap()),
                "{name}: {id}"
            );
        }
    }
    if let Some(ds) = expect.get("deadlines").and_then(Value::as_object) {
        for (id, want) in ds {
            let m = ev.milestones.iter().find(|m| m.id == *id).unwrap();
            assert_eq!(
                m.deadline.map(|t| t.to_rfc3339()).as_deref(),
                want.as_str(),
                "{name}: {id}"
            );
        }
    }
    if let Some(by) = expect.get("done_by").and_then(Value::as_object) {
        for (id, want) in by {
            let m = ev.milestones.iter().find(|m| m.id == *id).unwrap();
            let c = &m.done[0];
            let got = [
                c.source.clone().unwrap_or_default(),
                c.recorded_by.clone().unwrap_or_default(),
            ];
            assert_eq!(Value::from(got.to_vec()), *want, "{name}: {id}");
        }
    }
    if let Some(cs) = expect.get("corrects").and_then(Value::as_object) {
        for (id, want) in cs {
            let m = ev.milestones.iter().find(|m| m.id == *id).unwrap();
            assert_eq!(
                Value::from(m.done[0].corrects.clone()),
                *want,
                "{name}: {id}"
            );
        }
    }
    if let Some(n) = expect.get("next_step") {
        assert_eq!(
            ev.next_step.as_ref().map(|s| s.milestone.as_str()),
            n.as_str(),
            "{name}: next step"
        );
    }
    if let Some(e) = expect.get("ending") {
        assert_eq!(
            ev.ending.as_ref().map(|e| e.label.as_str()),
            e.as_str(),
            "{name}: ending"
        );
    }
    let issues: Vec<&str> = ev.issues.iter().map(|i| i.id.as_str()).collect();
    let want: Vec<String> = list(expect, "issues", |v| v.as_str().unwrap().to_string());
    assert_eq!(issues, want, "{name}: issues {:#?}", ev.issues);
}

#[test]
fn scenarios() {
    let set = PathwaySet::builtin();
    let mut names: Vec<String> = std::fs::read_dir(format!("{}/cases", dir()))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    assert!(names.len() >= 15, "{names:?}");
    for name in names {
        let case: Value = serde_json::from_str(&read(&format!("cases/{name}")))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let p = set.pathway(str_of(&case, "pathway").unwrap()).unwrap();
        let events = list(&case, "events", json_event);
        let adjustments = list(&case, "adjustments", json_adjustment);
        let mut ev = evaluate(
            p,
            &events,
            &adjustments,
            time(str_of(&case, "now").unwrap()),
        );
        // The patient's birth date, when the case gives one (age-limited standards).
        let birth = str_of(&case, "birth_date")
            .map(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap());
        pathways::apply_age(p, &mut ev, birth);
        check_case(&name, &case, &ev);
    }
}

#[test]
fn worklist_orders_worst_first() {
    let set = PathwaySet::builtin();
    let doc: Value = serde_json::from_str(&read("worklist.json")).unwrap();
    let now = time(str_of(&doc, "now").unwrap());
    let mut evals: Vec<(String, Evaluation)> = list(&doc, "patients", |p| {
        let pathway = set.pathway(str_of(p, "pathway").unwrap()).unwrap();
        let ev = evaluate(
            pathway,
            &list(p, "events", json_event),
            &list(p, "adjustments", json_adjustment),
            now,
        );
        (str_of(p, "id").unwrap().to_string(), ev)
    });
    evals.sort_by_key(|(_, e)| e.urgency());
    let got: Vec<Value> = evals
        .iter()
        .map(|(id, e)| {
            let u = e.urgency();
            serde_json::json!([id, u.tier, u.remaining_minutes])
        })
        .collect();
    assert_eq!(Value::from(got), doc["expect"]);

    // The helper sorts evaluations the same way.
    let mut only: Vec<Evaluation> = evals.iter().rev().map(|(_, e)| e.clone()).collect();
    worst_first(&mut only);
    let tiers: Vec<u8> = only.iter().map(|e| e.urgency().tier).collect();
    assert_eq!(tiers, [0, 0, 1, 1, 1, 1, 2]);
}

#[test]
fn navigator_entries_for_unknown_or_record_only_milestones_are_reported() {
    let set = PathwaySet::builtin();
    let p = set.pathway("nhs-suspected-cancer").unwrap();
    let at = time("2026-03-01T09:00:00+00:00");
    let ev = evaluate(
        p,
        &[Event::navigator("n1", "no-such-step", at, "nav-1")],
        &[],
        at,
    );
    assert_eq!(ev.issues.len(), 1);
    assert!(ev.issues[0].message.contains("no milestone 'no-such-step'"));
    assert!(matches!(ev.clocks[0].status, ClockStatus::NotStarted));
    assert!(matches!(
        Event::navigator("n", "m", at, "x").kind,
        EventKind::Navigator { .. }
    ));
}
