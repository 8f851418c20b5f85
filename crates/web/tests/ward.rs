//! The ward's pages as a charge nurse meets them: the board puts the riskiest patient on
//! top (an overdue alert never lifts a lower band above a higher one), times are the
//! hospital's local time, and every failure keeps the app's frame with the way back.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::{json, Value};

mod support;
use support::send;

/// 2026-12-06T15:00:00Z: 10:00 in New York.
const T0: i64 = 1_796_569_200_000;
const MIN: i64 = 60_000;

struct TestClock(AtomicI64);
impl store::Clock for TestClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

fn get(path: &str, cookie: &str) -> Request<Body> {
    Request::get(path)
        .header(header::COOKIE, cookie)
        .header(header::ACCEPT, "text/html")
        .body(Body::empty())
        .unwrap()
}

use support::vital_set as set;

fn ward() -> Vec<Value> {
    let mut out = vec![
        json!({"resourceType": "Location", "id": "ward-9n", "name": "Ward 9 North", "status": "active",
            "physicalType": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/location-physical-type", "code": "wa"}]}}),
        json!({"resourceType": "Practitioner", "id": "n1", "name": [{"given": ["Nia"], "family": "Okafor"}]}),
    ];
    for (i, p) in ["pa", "pb", "pc"].iter().enumerate() {
        out.push(json!({"resourceType": "Location", "id": format!("bed-{}", i + 1), "name": format!("Bed {}", i + 1),
            "status": "active", "partOf": {"reference": "Location/ward-9n"},
            "physicalType": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/location-physical-type", "code": "bd"}]}}));
        out.push(json!({"resourceType": "Patient", "id": p, "name": [{"given": [format!("Patient {}", p.to_uppercase())], "family": "Test"}],
            "birthDate": "1950-01-01", "gender": "female"}));
        out.push(json!({"resourceType": "Encounter", "id": format!("e-{p}"), "status": "in-progress",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
            "subject": {"reference": format!("Patient/{p}")},
            "period": {"start": search::format_instant(T0 - 2 * 24 * 60 * MIN)},
            "location": [
                {"location": {"reference": "Location/ward-9n", "display": "Ward 9 North"}, "status": "active",
                 "physicalType": {"coding": [{"code": "wa"}]}},
                {"location": {"reference": format!("Location/bed-{}", i + 1), "display": format!("Bed {}", i + 1)}, "status": "active",
                 "physicalType": {"coding": [{"code": "bd"}]}}]}));
    }
    // Patient A's bedside essentials: a resuscitation decision, an allergy, a medicine, a
    // creatinine rising over two days, an oxygen target.
    let sct = "http://snomed.info/sct";
    out.push(json!({"resourceType": "Observation", "id": "resus-pa", "status": "final",
        "code": {"coding": [{"system": sct, "code": "304251008", "display": "Resuscitation status"}]},
        "subject": {"reference": "Patient/pa"}, "effectiveDateTime": search::format_instant(T0 - 24 * 60 * MIN),
        "valueCodeableConcept": {"coding": [{"system": sct, "code": "304253006", "display": "Not for resuscitation"}], "text": "Not for resuscitation"},
        "component": [{"code": {"text": "Ceiling of treatment"}, "valueString": "Ward-based care: not for intensive care"}]}));
    out.push(json!({"resourceType": "AllergyIntolerance", "id": "allergy-pa", "patient": {"reference": "Patient/pa"},
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active"}]},
        "criticality": "high", "code": {"coding": [{"system": sct, "code": "91936005", "display": "Allergy to penicillin"}], "text": "Allergy to penicillin"},
        "reaction": [{"manifestation": [{"coding": [{"system": sct, "code": "39579001", "display": "Anaphylaxis"}], "text": "Anaphylaxis"}]}]}));
    out.push(json!({"resourceType": "MedicationRequest", "id": "med-pa", "status": "active", "intent": "order",
        "medicationCodeableConcept": {"text": "Apixaban"}, "subject": {"reference": "Patient/pa"},
        "dosageInstruction": [{"text": "5 mg by mouth twice daily"}]}));
    for (k, (value, days)) in [(1.1, 2), (1.9, 1)].iter().enumerate() {
        out.push(json!({"resourceType": "Observation", "id": format!("creat-pa-{k}"), "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "2160-0", "display": "Creatinine"}], "text": "Creatinine"},
            "subject": {"reference": "Patient/pa"}, "effectiveDateTime": search::format_instant(T0 - days * 24 * 60 * MIN),
            "valueQuantity": {"value": value, "unit": "mg/dL", "system": "http://unitsofmeasure.org", "code": "mg/dL"},
            "referenceRange": [{"low": {"value": 0.6}, "high": {"value": 1.1}}]}));
    }
    out.push(json!({"resourceType": "Goal", "id": "goal-pa", "lifecycleStatus": "active", "description": {"text": "SpO2 target"},
        "subject": {"reference": "Patient/pa"},
        "target": [{"measure": {"coding": [{"system": "http://loinc.org", "code": "59408-5"}]},
            "detailRange": {"low": {"value": 88}, "high": {"value": 92}}}]}));
    out
}

struct World {
    app: axum::Router,
    clock: Arc<TestClock>,
    ew: Arc<early_warning::EarlyWarning>,
    _dir: tempfile::TempDir,
}

fn world(zone: &str) -> World {
    world_with(web::WebConfig {
        secure_cookies: false,
        zone: web::Zone::parse(zone).unwrap(),
        wall_names: false,
        ..Default::default()
    })
}

fn world_with(mut config: web::WebConfig) -> World {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(TestClock(AtomicI64::new(T0)));
    let store = store::open(
        &format!("sqlite://{}", dir.path().join("ward.db").display()),
        store::Options {
            clock: clock.clone(),
            indexer: Arc::new(search::Indexer::new(search::Registry::r4()).unwrap()),
            readers: 2,
        },
    )
    .unwrap();
    support::put_all(&*store, ward());
    // Bed 1: NEWS2 13 (high). Bed 2: 15 (high). Bed 3: 4 with a single 3 (low-medium).
    support::put_all(
        &*store,
        set("pa", T0 - 10 * MIN, 25, 91, 0.0, 95, 135, 39.5),
    );
    support::put_all(
        &*store,
        set("pb", T0 - 10 * MIN, 25, 91, 2.0, 95, 135, 39.5),
    );
    support::put_all(
        &*store,
        set("pc", T0 - 10 * MIN, 25, 97, 0.0, 120, 95, 37.0),
    );
    let ew = early_warning::EarlyWarning::new(
        store.clone(),
        early_warning::Config::default(),
        clock.clone(),
    );
    ew.catch_up().unwrap();
    ew.start();
    let hub = early_warning::Hub::start(ew.clone());
    let state = server::AppState::new(store.clone(), support::gate(&store))
        .with_early_warning(ew.clone(), hub);
    let gate = state.gate.clone();
    support::account(
        &gate,
        "nurse",
        access::Role::Nurse,
        Some("Practitioner/n1"),
        &["Location/ward-9n"],
    );
    // A hospital-wide role: any ward, including one that does not exist.
    support::account(&gate, "rapid", access::Role::RapidResponse, None, &[]);
    // A navigator, with no care relationship to the ward's patients.
    support::account(
        &gate,
        "navigator",
        access::Role::Navigator,
        Some("Practitioner/nav1"),
        &[],
    );
    let sepsis = sepsis_watch::Sepsis::new(store.clone(), config.zone.tz(), clock.clone());
    sepsis.start();
    config.sepsis = Some(sepsis);
    World {
        app: support::app_with(state, config),
        clock,
        ew,
        _dir: dir,
    }
}

fn position(page: &str, needle: &str) -> usize {
    page.find(needle)
        .unwrap_or_else(|| panic!("{needle} not on the page"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_riskiest_patient_is_on_top_whatever_alert_is_overdue() {
    let w = world("America/New_York");
    let scores: Vec<(String, Option<u32>, String)> =
        w.ew.ward_status("Location/ward-9n")
            .unwrap()
            .into_iter()
            .map(|s| {
                let n = s.news2.unwrap();
                (s.patient, n.total, n.band)
            })
            .collect();
    assert!(
        scores.contains(&("Patient/pa".into(), Some(13), "high".into())),
        "{scores:?}"
    );
    assert!(
        scores.contains(&("Patient/pb".into(), Some(15), "high".into())),
        "{scores:?}"
    );
    assert!(
        scores.contains(&("Patient/pc".into(), Some(4), "low-medium".into())),
        "{scores:?}"
    );
    // The high alerts are acknowledged; the low-medium one is left past its deadline.
    for a in w.ew.alerts(None, None, false).unwrap() {
        if a.band == "high" {
            w.ew.acknowledge(&a.id, "Practitioner/n1").unwrap();
        }
    }
    w.clock.0.store(T0 + 90 * MIN, Ordering::SeqCst);
    let overdue: Vec<_> =
        w.ew.alerts(None, None, false)
            .unwrap()
            .into_iter()
            .filter(|a| a.overdue)
            .map(|a| a.patient)
            .collect();
    assert_eq!(overdue, ["Patient/pc"]);

    let cookie = support::sign_in(&w.app, "nurse").await;
    let (s, _, page) = send(&w.app, get("/board", &cookie)).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let (b, a, c) = (
        position(&page, "id=\"row-pb\""),
        position(&page, "id=\"row-pa\""),
        position(&page, "id=\"row-pc\""),
    );
    assert!(
        b < a && a < c,
        "15, then 13, then the overdue 4: {b} {a} {c}"
    );
    // The overdue alert is shown as what it is.
    let row_c = &page[c..c + page[c..].find("</tr>").unwrap()];
    assert!(row_c.contains("past deadline"), "{row_c}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn times_are_the_hospitals_local_time() {
    let w = world("America/New_York");
    let cookie = support::sign_in(&w.app, "nurse").await;
    let (s, _, chart) = send(&w.app, get("/patients/pa", &cookie)).await;
    assert_eq!(s, StatusCode::OK, "{chart}");
    // The set at 14:50 UTC is 09:50 in New York; the admission two days ago shows its date.
    assert!(chart.contains("09:50"), "local set time");
    assert!(!chart.contains("14:50"), "no UTC time");
    assert!(chart.contains("4 Dec 10:00"), "admission in local time");
    assert!(chart.contains("Times are hospital time: America/New York (EST)"));
    assert!(
        chart.contains("1 Jan 1950"),
        "a date of another year shows its year"
    );

    let w = world("Europe/London");
    let cookie = support::sign_in(&w.app, "nurse").await;
    let (_, _, chart) = send(&w.app, get("/patients/pa", &cookie)).await;
    assert!(chart.contains("14:50"), "London is on UTC in December");
    assert!(chart.contains("Europe/London (GMT)"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_failure_keeps_the_frame_and_the_way_back() {
    let w = world("UTC");
    let cookie = support::sign_in(&w.app, "nurse").await;
    let framed = |page: &str| {
        assert!(page.contains("Sign out"), "sign-out in the frame: {page}");
        assert!(
            page.contains("href=\"/\""),
            "the way back to the start page: {page}"
        );
        assert!(page.contains("Ward board"), "the role's navigation: {page}");
    };
    // A page the role does not have.
    let (s, _, page) = send(&w.app, get("/privacy", &cookie)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    framed(&page);
    assert!(page.contains("not part of the Nurse role"));
    // An address with no page.
    let (s, _, page) = send(&w.app, get("/no/such/page", &cookie)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    framed(&page);
    assert!(page.contains("There is no page at this address"));
    // A query the page cannot read: plain words, not the parser's.
    let (s, _, page) = send(&w.app, get("/privacy?page=lots", &cookie)).await;
    assert!(s.is_client_error(), "{s}");
    framed(&page);
    let (s, _, page) = send(&w.app, get("/care-gaps?page=-1", &cookie)).await;
    assert!(s.is_client_error(), "{s}");
    assert!(!page.contains("deserialize"), "{page}");
    framed(&page);
    // An unknown patient: no break-the-glass offer, a plain 404 in the frame.
    let (s, _, page) = send(&w.app, get("/patients/nobody", &cookie)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    framed(&page);
    assert!(!page.contains("Break the glass"));
    assert!(page.contains("There is no patient with this record"));
    // Signed out: the way is to sign in.
    let (s, _, page) = send(
        &w.app,
        Request::get("/no/such/page")
            .header(header::ACCEPT, "text/html")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(page.contains("href=\"/sign-in\""), "{page}");
}

fn post(path: &str, cookie: &str, form: &str) -> Request<Body> {
    Request::post(path)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form.to_string()))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bedside_form_records_what_a_set_really_holds() {
    let w = world("America/New_York");
    let cookie = support::sign_in(&w.app, "nurse").await;
    let (s, _, page) = send(&w.app, get("/patients/pc/vitals", &cookie)).await;
    assert_eq!(s, StatusCode::OK);
    // Now, in hospital time, by default; back 24 h at most; the previous set beside the form.
    assert!(
        page.contains("value=\"2026-12-06T10:00\""),
        "default time taken"
    );
    assert!(page.contains("min=\"2026-12-05T10:00\""));
    assert!(page.contains("Previous set"));
    assert!(page.contains("Venturi mask"));
    let csrf = support::between(&page, "name=\"csrf\" value=\"", "\"").to_string();

    // Taken in the future: refused, nothing saved.
    let (s, _, page) = send(
        &w.app,
        post(
            "/patients/pc/vitals",
            &cookie,
            &format!("csrf={csrf}&taken=2026-12-06T10:30&rr=18"),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Time taken cannot be in the future"));

    // Taken 40 minutes ago on a Venturi mask at 28 %, temperature refused: saved, the
    // post redirects (a reload records nothing twice), the set scores as incomplete.
    let form = format!(
        "csrf={csrf}&taken=2026-12-06T09:20&rr=22&spo2=94&device=venturi&fio2=28&sbp=118&pulse=96&acvpu=A&temp=&temp_absent=refused&pain=3"
    );
    let resp =
        tower::ServiceExt::oneshot(w.app.clone(), post("/patients/pc/vitals", &cookie, &form))
            .await
            .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let to = resp.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_string();
    assert!(to.starts_with("/patients/pc/vitals?saved=vs-"), "{to}");
    let (s, _, page) = send(&w.app, get(&to, &cookie)).await;
    assert_eq!(s, StatusCode::OK);
    let result = support::between(&page, "id=\"result\"", "</section>");
    assert!(result.contains("incomplete"), "{result}");
    // Any device but air scores as oxygen: RR 22 (2) + SpO2 94 (1) + oxygen (2) + pulse 96 (1).
    assert!(result.contains("at least 6"), "{result}");
    // The stored readings: the time taken, the device, the reason for the gap.
    let panel = to
        .split("saved=")
        .nth(1)
        .unwrap()
        .split('#')
        .next()
        .unwrap();
    let store = w.ew.store();
    let read = |id: &str| -> Value {
        serde_json::from_str(
            &store
                .read(&store::Access::system(), "Observation", id)
                .unwrap()
                .unwrap()
                .body
                .unwrap(),
        )
        .unwrap()
    };
    let o2 = read(&format!("{panel}-o2"));
    assert_eq!(o2["effectiveDateTime"], "2026-12-06T14:20:00.000Z");
    assert_eq!(o2["code"]["coding"][0]["code"], "3150-0");
    assert_eq!(o2["method"]["text"], "Venturi mask");
    let temp = read(&format!("{panel}-temp"));
    assert_eq!(
        temp["dataAbsentReason"]["coding"][0]["code"],
        "asked-declined"
    );
    assert_eq!(read(&format!("{panel}-pain"))["valueQuantity"]["value"], 3);
    // A set back-dated before the patient's newest set does not replace it on the board.
    let latest =
        w.ew.ward_status("Location/ward-9n")
            .unwrap()
            .into_iter()
            .find(|s| s.patient == "Patient/pc")
            .and_then(|s| s.news2)
            .unwrap();
    assert_eq!(latest.effective, "2026-12-06T14:50:00.000Z");
    let ids_before = store.commits().latest();
    // Reloading the result records nothing.
    let (s, _, _) = send(&w.app, get(&to, &cookie)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(store.commits().latest(), ids_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_board_has_views_filters_and_orders_that_the_user_keeps() {
    let w = world("UTC");
    let cookie = support::sign_in(&w.app, "nurse").await;
    let order = |page: &str| -> Vec<usize> {
        ["pa", "pb", "pc"]
            .iter()
            .map(|p| position(page, &format!("id=\"row-{p}\"")))
            .collect()
    };
    // By bed, compact: bed 1, 2, 3 in order, one line each.
    let (s, _, page) = send(&w.app, get("/board?view=compact&sort=bed", &cookie)).await;
    assert_eq!(s, StatusCode::OK);
    let o = order(&page);
    assert!(o[0] < o[1] && o[1] < o[2], "by bed: {o:?}");
    assert!(page.contains("class=\"board compact\""));
    // Kept: the next visit, on any device, opens the same way.
    let (_, _, page) = send(&w.app, get("/board", &cookie)).await;
    assert!(page.contains("class=\"board compact\""), "the view is kept");
    let o = order(&page);
    assert!(o[0] < o[1] && o[1] < o[2], "the order is kept: {o:?}");
    // Most at risk first again.
    let (_, _, page) = send(&w.app, get("/board?sort=risk", &cookie)).await;
    let o = order(&page);
    assert!(o[1] < o[0] && o[0] < o[2], "15, 13, 4: {o:?}");
    // Filters: medium or high only.
    let (_, _, page) = send(&w.app, get("/board?show=urgent", &cookie)).await;
    assert!(page.contains("id=\"row-pa\"") && page.contains("id=\"row-pb\""));
    assert!(
        !page.contains("id=\"row-pc\""),
        "a low-medium patient is filtered out"
    );
    assert!(page.contains("Medium or high 2"));
    // The live rows follow the same choices.
    let (_, _, rows) = send(
        &w.app,
        get("/board/rows?ward=ward-9n&show=urgent&view=compact", &cookie),
    )
    .await;
    assert!(!rows.contains("id=\"row-pc\""));
    // The wall display shows no names.
    let (_, _, page) = send(&w.app, get("/board?view=wall&show=all", &cookie)).await;
    assert!(!page.contains("Patient PA Test"), "no names on the wall");
    assert!(page.contains("P. P. T."), "initials instead");
    // Where the site has chosen so, the wall display shows names.
    let named = world_with(web::WebConfig {
        secure_cookies: false,
        zone: web::Zone::parse("UTC").unwrap(),
        wall_names: true,
        ..Default::default()
    });
    let c = support::sign_in(&named.app, "nurse").await;
    let (_, _, wall) = send(&named.app, get("/board?view=wall&show=all", &c)).await;
    assert!(
        wall.contains("Patient PA Test"),
        "names on this site's wall"
    );
    assert!(page.contains("P. P. T."), "initials instead");
    // The chips are links a browser follows: the "By bed" one keeps the wall view.
    let hrefs: Vec<String> = page
        .split("<a href=\"")
        .skip(1)
        // One pass of HTML decoding, as a browser does.
        .map(|h| h.split('"').next().unwrap().replace("&#38;", "&"))
        .filter(|h| h.starts_with("/board?"))
        .collect();
    assert!(
        hrefs
            .iter()
            .all(|h| h.contains("&view=wall&") || h.contains("view=")),
        "{hrefs:?}"
    );
    assert!(hrefs.iter().all(|h| !h.contains("amp;")), "{hrefs:?}");
    let by_bed = page
        .split("<a href=\"")
        .map(|h| h.split('"').next().unwrap().replace("&#38;", "&"))
        .find(|h| h.contains("sort=bed"))
        .unwrap();
    let (s, _, followed) = send(&w.app, get(&by_bed, &cookie)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(followed.contains("class=\"board wall\""), "{by_bed}");
    // Sound for new high alerts is off until the user turns it on, then kept.
    assert!(page.contains("data-sound=\"off\""));
    send(&w.app, get("/board?sound=on", &cookie)).await;
    let (_, _, page) = send(&w.app, get("/board", &cookie)).await;
    assert!(page.contains("data-sound=\"on\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_cards_say_what_triggered_them_and_who_answered() {
    let w = world("UTC");
    let cookie = support::sign_in(&w.app, "nurse").await;
    let (s, _, page) = send(&w.app, get("/alerts", &cookie)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("data-live=\"alerts\""), "the inbox is live");
    let pc =
        w.ew.alerts(None, Some("Patient/pc"), false)
            .unwrap()
            .pop()
            .unwrap();
    let card = support::between(&page, &format!("id=\"alert-{}\"", pc.id), "</li>");
    // The reading that triggered it: a respiration rate of 25 scores 3.
    assert!(card.contains("Respiration rate 25 /min +3"), "{card}");
    assert!(card.contains("Not acknowledged: 50 min left"), "{card}");
    // No response is chosen for the nurse.
    assert!(card.contains("<option value=\"\">Choose the response given…</option>"));
    let csrf = support::between(&page, "name=\"csrf\" value=\"", "\"").to_string();
    let (s, _, _) = send(
        &w.app,
        post(
            &format!("/alerts/{}/acknowledge", pc.id),
            &cookie,
            &format!("csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    // Acknowledged: by whom and when; the deadline no longer counts down.
    w.clock.0.store(T0 + 90 * MIN, Ordering::SeqCst);
    let (_, _, page) = send(&w.app, get("/alerts", &cookie)).await;
    let card = support::between(&page, &format!("id=\"alert-{}\"", pc.id), "</li>");
    assert!(card.contains("Acknowledged 15:00 by Nia Okafor"), "{card}");
    assert!(!card.contains("past deadline"), "{card}");
    // A response without a choice is refused in plain words; then responded and resolved
    // with an outcome note.
    let (s, _, page) = send(
        &w.app,
        post(
            &format!("/alerts/{}/respond", pc.id),
            &cookie,
            &format!("csrf={csrf}&response="),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Choose the response you gave"));
    let action = rules::Action::ALL[0].code();
    send(
        &w.app,
        post(
            &format!("/alerts/{}/respond", pc.id),
            &cookie,
            &format!("csrf={csrf}&response={action}&note=seen"),
        ),
    )
    .await;
    let (s, _, _) = send(
        &w.app,
        post(
            &format!("/alerts/{}/resolve", pc.id),
            &cookie,
            &format!("csrf={csrf}&note=Reviewed+by+the+registrar"),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let done = w.ew.alert(&pc.id).unwrap();
    assert!(!done.open);
    // The JSON API's answers are audited with the patients they showed, from what the
    // handler read (no body is read back).
    let (s, _, _) = send(&w.app, get("/api/wards/ward-9n/patients", &cookie)).await;
    assert_eq!(s, StatusCode::OK);
    let (hits, _) = w.ew.store().scan("AuditEvent", 0, 10_000).unwrap();
    let audit: Value = hits
        .iter()
        .map(|h| serde_json::from_str::<Value>(&h.body).unwrap())
        .find(|e| {
            e["entity"]
                .to_string()
                .contains("GET /api/wards/ward-9n/patients")
        })
        .expect("the JSON API call is audited");
    let named = audit["entity"].to_string();
    for p in ["Patient/pa", "Patient/pb", "Patient/pc"] {
        assert!(named.contains(p), "{p} in {named}");
    }
    let timeline = serde_json::to_string(&done.timeline).unwrap();
    assert!(timeline.contains("Reviewed by the registrar"), "{timeline}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_handover_sheet_lists_every_bed_with_what_the_next_shift_needs() {
    let w = world("UTC");
    let cookie = support::sign_in(&w.app, "nurse").await;
    let (s, _, page) = send(&w.app, get("/board/handover?ward=ward-9n", &cookie)).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert!(page.contains("Handover · Ward 9 North"));
    let (b1, b2, b3) = (
        position(&page, ">Bed 1</th>"),
        position(&page, ">Bed 2</th>"),
        position(&page, ">Bed 3</th>"),
    );
    assert!(b1 < b2 && b2 < b3, "by bed");
    let row = |from: usize| &page[from..from + page[from..].find("</tr>").unwrap()];
    assert!(row(b2).contains("15"), "{}", row(b2));
    assert!(
        row(b3).contains("Low-medium alert, not acknowledged"),
        "{}",
        row(b3)
    );
    // Another ward's sheet is not this nurse's.
    let (s, _, _) = send(&w.app, get("/board/handover?ward=ward-elsewhere", &cookie)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_is_scored_with_pews_at_the_bedside() {
    let w = world("UTC");
    support::put_all(
        &**w.ew.store(),
        vec![
            json!({"resourceType": "Patient", "id": "pd", "name": [{"given": ["Child"], "family": "Test"}],
                "birthDate": "2023-06-01", "gender": "male"}),
            json!({"resourceType": "Encounter", "id": "e-pd", "status": "in-progress",
                "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
                "subject": {"reference": "Patient/pd"},
                "location": [{"location": {"reference": "Location/ward-9n", "display": "Ward 9 North"}, "status": "active",
                    "physicalType": {"coding": [{"code": "wa"}]}}]}),
        ],
    );
    let cookie = support::sign_in(&w.app, "nurse").await;
    let (_, _, page) = send(&w.app, get("/patients/pd/vitals", &cookie)).await;
    // A child's form also asks for the PEWS items an adult's does not.
    assert!(page.contains("Capillary refill"), "the child's form");
    assert!(page.contains("Respiratory distress"), "the child's form");
    let (_, _, adult) = send(&w.app, get("/patients/pa/vitals", &cookie)).await;
    assert!(!adult.contains("Capillary refill"), "an adult's form");
    let csrf = support::between(&page, "name=\"csrf\" value=\"", "\"").to_string();
    let resp = tower::ServiceExt::oneshot(
        w.app.clone(),
        post(
            "/patients/pd/vitals",
            &cookie,
            &format!("csrf={csrf}&rr=30&spo2=97&device=air&sbp=95&pulse=120&acvpu=A&temp=37.2&crt=4&distress=moderate&carer=same&intuition=emergency&pupils=normal"),
        ),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let to = resp.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_string();
    let (_, _, page) = send(&w.app, get(&to, &cookie)).await;
    let result = support::between(&page, "id=\"result\"", "</section>");
    // A three-year-old: the paediatric score, never NEWS2.
    assert!(result.contains("PEWS"), "{result}");
    assert!(!result.contains("NEWS2"), "{result}");
    // Capillary refill and respiratory distress are recorded as the rules read them.
    let found = |code: &str| {
        let q = search::SearchQuery::parse(
            search::Registry::r4(),
            "Observation",
            &[
                ("subject".to_string(), "Patient/pd".to_string()),
                ("code".to_string(), code.to_string()),
            ],
        )
        .unwrap();
        w.ew.store()
            .search(&store::Access::system(), &q)
            .unwrap()
            .matches
            .into_iter()
            .map(|h| serde_json::from_str::<Value>(&h.body).unwrap())
            .collect::<Vec<_>>()
    };
    let crt = found("http://loinc.org|44963-7");
    assert_eq!(crt.len(), 1);
    assert_eq!(crt[0]["valueQuantity"]["value"], 4);
    let distress = found(&format!(
        "{}|respiratory-distress",
        rules::observation::EARLY_WARNING
    ));
    assert_eq!(
        distress[0]["valueCodeableConcept"]["coding"][0]["code"],
        "moderate"
    );
    let parsed: Vec<_> = crt
        .iter()
        .chain(&distress)
        .flat_map(|o| rules::observation::read(o).readings)
        .collect();
    assert_eq!(parsed.len(), 2, "both are PEWS readings: {parsed:?}");
    // The nurse's concern escalates regardless of the score (PEWS table P11).
    let pews = found(&format!("{}|pews", rules::observation::EARLY_WARNING));
    assert_eq!(pews.len(), 1);
    assert_eq!(
        pews[0]["interpretation"][0]["coding"][0]["code"],
        "emergency"
    );
    assert!(
        pews[0].to_string().contains("pews-reason-CI"),
        "clinical intuition is the reason: {}",
        pews[0]
    );
    // The child's chart has the PEWS items as its rows.
    let (_, _, chart) = send(&w.app, get("/patients/pd", &cookie)).await;
    assert!(chart.contains("Observation chart (PEWS)"), "{chart}");
    let table = support::between(&chart, "class=\"obs-chart\"", "</table>");
    assert!(table.contains("Capillary refill time"), "{table}");
    assert!(table.contains("Respiratory distress"), "{table}");
    assert!(
        !table.contains("Consciousness"),
        "not NEWS2's rows: {table}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chart_and_the_board_show_what_to_know_before_acting() {
    let w = world("America/New_York");
    let cookie = support::sign_in(&w.app, "nurse").await;
    let (s, _, chart) = send(&w.app, get("/patients/pa", &cookie)).await;
    assert_eq!(s, StatusCode::OK, "{chart}");
    // Above the observation chart: the resuscitation decision and the allergy.
    let resus = position(&chart, "Not for resuscitation");
    assert!(resus < position(&chart, "Observation chart"));
    assert!(chart.contains("Ceiling of treatment: Ward-based care: not for intensive care"));
    assert!(chart.contains("Allergy to penicillin (Anaphylaxis), high risk"));
    assert!(chart.contains("Apixaban"));
    assert!(chart.contains("5 mg by mouth twice daily"));
    assert!(
        chart.contains("88–92 % (prescribed)"),
        "the saturation target"
    );
    // The creatinine, abnormal and rising, with the value before it.
    let labs = support::between(&chart, "Laboratory results", "</table>");
    assert!(labs.contains("1.9 mg/dL"), "{labs}");
    assert!(labs.contains("↑ rising"), "{labs}");
    assert!(labs.contains("1.1 mg/dL"), "{labs}");
    // The sepsis screens of the newest set (temperature 39.5, pulse 135, RR 25).
    assert!(chart.contains("SIRS: "), "sepsis screen shown");
    // Patient C has no allergy record at all: said plainly, not as "none".
    let (_, _, c) = send(&w.app, get("/patients/pc", &cookie)).await;
    assert!(c.contains("Allergies not recorded"));
    assert!(c.contains("No resuscitation decision recorded"));
    // The board marks the decision on the patient's row, and only there.
    let (_, _, board) = send(&w.app, get("/board?ward=ward-9n", &cookie)).await;
    let row_a = support::between(&board, "id=\"row-pa\"", "</tr>");
    assert!(row_a.contains("DNACPR"), "{row_a}");
    let row_c = support::between(&board, "id=\"row-pc\"", "</tr>");
    assert!(!row_c.contains("DNACPR"), "{row_c}");
    // So does the alert card the rapid-response team answers.
    let (_, _, inbox) = send(&w.app, get("/alerts", &cookie)).await;
    let card_a = support::between(&inbox, "/patients/pa\"", "</li>");
    assert!(card_a.contains("DNACPR"), "{card_a}");
    assert!(
        card_a.contains("Ceiling: Ward-based care: not for intensive care"),
        "{card_a}"
    );
    let card_b = support::between(&inbox, "/patients/pb\"", "</li>");
    assert!(!card_b.contains("DNACPR"), "{card_b}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ward_records_its_prevalence_survey_once_a_day() {
    let w = world("UTC");
    let cookie = support::sign_in(&w.app, "nurse").await;
    let (s, _, page) = send(&w.app, get("/board/survey?ward=ward-9n", &cookie)).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    for p in ["pa", "pb", "pc"] {
        assert!(page.contains(&format!("name=\"pi.{p}\"")), "{p}");
    }
    assert!(page.contains("Deep tissue pressure injury"));
    let csrf = support::between(&page, "name=\"csrf\" value=\"", "\"").to_string();
    // Half a patient's survey is refused and nothing is recorded.
    let (s, _, page) = send(
        &w.app,
        post(
            "/board/survey?ward=ward-9n",
            &cookie,
            &format!("csrf={csrf}&pi.pa=stage-2&re.pa=&pi.pb=none&re.pb=none"),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(page.contains("choose both the pressure injury finding and the restraint finding"));
    assert!(
        page.contains("<option value=\"stage-2\" selected>"),
        "what was typed is kept"
    );
    let surveys = || stored(&w, "Observation", &[("code", SURVEY_CODE)]);
    assert_eq!(surveys().len(), 0);
    // Two patients surveyed, one left for later; a patient not on the ward is ignored.
    let (s, _, page) = send(
        &w.app,
        post(
            "/board/survey?ward=ward-9n",
            &cookie,
            &format!("csrf={csrf}&pi.pa=stage-2&re.pa=limb&pi.pb=na%3Aasked-declined&re.pb=none&pi.zz=stage-4&re.zz=vest"),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{page}");
    assert_eq!(surveys().len(), 2);
    let pa = surveys()
        .into_iter()
        .find(|o| o["id"].as_str().unwrap_or("").starts_with("pps-pa-"))
        .unwrap();
    assert_eq!(
        pa["performer"][0]["reference"], "Practitioner/n1",
        "the nurse signed in"
    );
    let read = surveillance::survey::Survey::from_observation(&pa).unwrap();
    assert_eq!(
        read.pressure_injury,
        surveillance::survey::Finding::Found(surveillance::survey::Stage::Stage2)
    );
    assert_eq!(read.encounter.as_deref(), Some("e-pa"));
    // Saving again the same day corrects the survey, not a second one.
    let (s, _, _) = send(
        &w.app,
        post(
            "/board/survey?ward=ward-9n",
            &cookie,
            &format!("csrf={csrf}&pi.pa=stage-1&re.pa=none"),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(surveys().len(), 2);
    let (_, _, page) = send(&w.app, get("/board/survey?ward=ward-9n", &cookie)).await;
    assert!(
        page.contains("<option value=\"stage-1\" selected>"),
        "today's survey is shown"
    );
    assert!(page.contains("Recorded"));
    // Another ward's survey is not this nurse's; nor is posting without the form's token.
    let (s, _, _) = send(&w.app, get("/board/survey?ward=ward-elsewhere", &cookie)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // A ward that does not exist is "not found", not an empty ward, for the whole hospital's
    // roles too.
    let rapid = support::sign_in(&w.app, "rapid").await;
    for page in [
        "/board/survey?ward=ward-nowhere",
        "/board/handover?ward=ward-nowhere",
    ] {
        let (s, _, body) = send(&w.app, get(page, &rapid)).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{page}");
        assert!(body.contains("There is no ward with this link"), "{page}");
    }
    let (s, _, _) = send(
        &w.app,
        post(
            "/board/survey?ward=ward-9n",
            &cookie,
            "csrf=forged&pi.pc=none&re.pc=none",
        ),
    )
    .await;
    assert_ne!(s, StatusCode::SEE_OTHER);
    assert_eq!(surveys().len(), 2);
}

/// The code of a prevalence survey's Observation.
const SURVEY_CODE: &str =
    "https://tend.example.org/fhir/CodeSystem/nursing-survey|prevalence-survey";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chart_records_lines_and_catheters_with_their_device_day() {
    let w = world("UTC");
    let cookie = support::sign_in(&w.app, "nurse").await;
    let (_, _, page) = send(&w.app, get("/patients/pa", &cookie)).await;
    assert!(page.contains("No central line or urinary catheter recorded."));
    let csrf = support::between(&page, "name=\"csrf\" value=\"", "\"").to_string();
    // Placed two days ago (day 3 today), in hospital time.
    let placed = chrono::DateTime::from_timestamp_millis(T0 - 2 * 24 * 60 * MIN)
        .unwrap()
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let (s, _, _) = send(
        &w.app,
        post(
            "/patients/pa/devices",
            &cookie,
            &format!("csrf={csrf}&kind=central-line&site=Right+internal+jugular&placed={placed}"),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, _, page) = send(&w.app, get("/patients/pa", &cookie)).await;
    let card = support::between(&page, "id=\"devices\"", "</section>");
    assert!(
        card.contains("Central line") && card.contains("Right internal jugular"),
        "{card}"
    );
    assert!(card.contains("In, Day 3"), "{card}");
    // What the measures count: a DeviceUseStatement with a Device of the kind, in the stay.
    let uses = stored(&w, "DeviceUseStatement", &[]);
    assert_eq!(uses.len(), 1);
    assert_eq!(uses[0]["derivedFrom"][0]["reference"], "Encounter/e-pa");
    let use_id = uses[0]["id"].as_str().unwrap().to_string();
    // Nonsense is refused and nothing is recorded.
    for form in [
        format!("csrf={csrf}&kind=chest-drain"),
        format!("csrf={csrf}&kind=urinary-catheter&placed=2999-01-01T00:00"),
        format!("csrf={csrf}&kind=urinary-catheter&placed=yesterday"),
    ] {
        let (s, _, _) = send(&w.app, post("/patients/pa/devices", &cookie, &form)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{form}");
    }
    assert_eq!(stored(&w, "DeviceUseStatement", &[]).len(), 1);
    // Removed now; the card says so; a second click records nothing more.
    for _ in 0..2 {
        let (s, _, _) = send(
            &w.app,
            post(
                &format!("/patients/pa/devices/{use_id}/removed"),
                &cookie,
                &format!("csrf={csrf}"),
            ),
        )
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
    }
    let uses = stored(&w, "DeviceUseStatement", &[]);
    assert_eq!(uses[0]["status"], "completed");
    assert!(uses[0]["timingPeriod"]["end"].is_string());
    let (_, _, page) = send(&w.app, get("/patients/pa", &cookie)).await;
    let card = support::between(&page, "id=\"devices\"", "</section>");
    assert!(card.contains("Removed "), "{card}");
    // Another patient's line cannot be removed through this patient's record.
    let (s, _, _) = send(
        &w.app,
        post(
            &format!("/patients/pb/devices/{use_id}/removed"),
            &cookie,
            &format!("csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// What the store holds of `rtype` matching `params`, read as Tend itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raised_score_with_suspected_infection_starts_the_first_hour() {
    let w = world("UTC");
    let nurse = support::sign_in(&w.app, "nurse").await;
    let (s, _, page) = send(&w.app, get("/patients/pa/sepsis", &nurse)).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert!(page.contains("Could this be infection?"), "{page}");
    assert!(page.contains("The latest score is raised"));
    assert!(page.contains("NEWS2 13 (high)"), "{page}");
    let csrf = support::between(&page, "name=\"csrf\" value=\"", "\"").to_string();
    // The inbox asks about infection on each medium or high alert.
    let (_, _, inbox) = send(&w.app, get("/alerts", &nurse)).await;
    assert!(
        inbox.contains("Start suspected sepsis&#x27;s first hour")
            || inbox.contains("Start suspected sepsis's first hour"),
        "{inbox}"
    );
    // Refused, nothing recorded: no source; a time in the future.
    for (form, message) in [
        ("what=suspect&source=&at=", "Choose the likely source"),
        (
            "what=suspect&source=chest&at=2030-01-01T10:00",
            "cannot be in the future",
        ),
        ("what=lactate&lactate=abc&at=", "Lactate must be a number"),
    ] {
        let (s, _, page) = send(
            &w.app,
            post(
                "/patients/pa/sepsis",
                &nurse,
                &format!("csrf={csrf}&{form}"),
            ),
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{form}");
        assert!(page.contains(message), "{form}: {page}");
        assert!(page.contains("Nothing was recorded"));
    }
    assert!(stored(
        &w,
        "Condition",
        &[("code", "http://snomed.info/sct|40733004")]
    )
    .is_empty());
    // A forged form and a navigator without a care relationship record nothing.
    let (s, _, _) = send(
        &w.app,
        post(
            "/patients/pa/sepsis",
            &nurse,
            "csrf=forged&what=suspect&source=chest",
        ),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let navigator = support::sign_in(&w.app, "navigator").await;
    let (s, _, _) = send(&w.app, get("/patients/pa/sepsis", &navigator)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Infection suspected: the clocks start, the board and the inbox say so.
    let (s, _, _) = send(
        &w.app,
        post(
            "/patients/pa/sepsis",
            &nurse,
            &format!("csrf={csrf}&what=suspect&source=chest&at="),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let suspicion = stored(
        &w,
        "Condition",
        &[("code", "http://snomed.info/sct|40733004")],
    );
    assert_eq!(suspicion.len(), 1);
    assert_eq!(
        suspicion[0]["recorder"]["reference"], "Practitioner/n1",
        "as the nurse signed in"
    );
    let (_, _, page) = send(&w.app, get("/patients/pa/sepsis", &nurse)).await;
    assert!(page.contains("Infection suspected"), "{page}");
    assert!(page.contains("Likely source: Chest"), "{page}");
    assert!(page.contains("The clocks started with NEWS2 13"), "{page}");
    for action in ["Blood cultures", "Lactate", "Antibiotics"] {
        assert!(
            page.contains(&format!("<strong>{action}</strong>")),
            "{action}"
        );
    }
    assert!(page.contains("Due by 16:00"), "{page}");
    let (_, _, rows) = send(&w.app, get("/board/rows?ward=ward-9n", &nurse)).await;
    let row = support::between(&rows, "id=\"row-pa\"", "</tr>");
    assert!(row.contains("due by 16:00"), "{row}");
    // Seventy minutes on, nothing done: late, first on the page and red on the board.
    w.clock.0.fetch_add(70 * MIN, Ordering::SeqCst);
    let (_, _, page) = send(&w.app, get("/patients/pa/sepsis", &nurse)).await;
    assert!(page.contains("Late: was due by 16:00"), "{page}");
    let (_, _, rows) = send(&w.app, get("/board/rows?ward=ward-9n", &nurse)).await;
    let row = support::between(&rows, "id=\"row-pa\"", "</tr>");
    assert!(row.contains("sepsis-cell late"), "{row}");
    assert!(row.contains("antibiotics"), "{row}");
    // The antibiotics given now: done, late, with the drug and the nurse.
    let (s, _, _) = send(
        &w.app,
        post(
            "/patients/pa/sepsis",
            &nurse,
            &format!("csrf={csrf}&what=antibiotics&antibiotic=co-amoxiclav&at="),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, _, page) = send(&w.app, get("/patients/pa/sepsis", &nurse)).await;
    let antibiotics = support::between(&page, "id=\"action-antibiotics-within-hour\"", "</li>");
    assert!(antibiotics.contains("late"), "{antibiotics}");
    assert!(antibiotics.contains("Co-amoxiclav"), "{antibiotics}");
    assert!(antibiotics.contains("Nia Okafor"), "{antibiotics}");
    // A day on, the first hour is history: the question is asked again, and what became of
    // the earlier one is said.
    w.clock.0.fetch_add(24 * 60 * MIN, Ordering::SeqCst);
    let (_, _, page) = send(&w.app, get("/patients/pa/sepsis", &nurse)).await;
    assert!(page.contains("Could this be infection?"), "{page}");
    let earlier = support::between(&page, "Earlier suspicions", "</section>");
    assert!(earlier.contains("antibiotics 10 min late"), "{earlier}");
    assert!(
        earlier.contains("not recorded: blood cultures, lactate"),
        "{earlier}"
    );
    // Ruled out: the first hour ends; the question is asked again.
    let condition = suspicion[0]["id"].as_str().unwrap();
    let (s, _, _) = send(
        &w.app,
        post(
            "/patients/pa/sepsis",
            &nurse,
            &format!(
                "csrf={csrf}&what=rule-out&condition=Condition/{condition}&reason=Chest+clear"
            ),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, _, page) = send(&w.app, get("/patients/pa/sepsis", &nurse)).await;
    assert!(page.contains("Could this be infection?"), "{page}");
    let (_, _, rows) = send(&w.app, get("/board/rows?ward=ward-9n", &nurse)).await;
    assert!(!support::between(&rows, "id=\"row-pa\"", "</tr>").contains("sepsis-cell"));
}

fn stored(w: &World, rtype: &str, params: &[(&str, &str)]) -> Vec<Value> {
    let params: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let q = search::SearchQuery::parse(search::Registry::r4(), rtype, &params).unwrap();
    w.ew.store()
        .search(&store::Access::system(), &q)
        .unwrap()
        .matches
        .into_iter()
        .map(|h| serde_json::from_str::<Value>(&h.body).unwrap())
        .collect()
}
