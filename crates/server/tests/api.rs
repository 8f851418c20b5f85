//! The HTTP API, driven by scenario files: `test_data/api/*.json` each hold a list of
//! steps (request, expected status, headers and JSON values) run in order against a fresh
//! SQLite store through the router, without a socket.
//!
//! Step format: `{"name", "method", "url", "headers": {..}, "body": <json or string>,
//! "expect": {"status": 201, "headers": {"etag": "W/\"1\""}, "json": {"/pointer": value},
//! "absent": ["/pointer"], "contains": ["text"]}, "capture": {"var": "/pointer" | "header:location"}}`.
//! `${var}` in urls, headers and bodies is replaced by captured values. Scenarios whose
//! file name starts with `early-warning` run with the early-warning service started; a step
//! `{"wait": "evaluated"}` waits until it has evaluated everything written so far.
//!
//! Requests go through the application as `tend serve` composes it (gate, audit, security
//! headers) and act as `feed`, an integration service, unless a step says `"as": "NAME"`
//! for another account of the fixture (`ew-doc`: a rapid-response doctor) or sends its own
//! Authorization header.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

mod support;

/// A fresh state and the bearer tokens of its callers, by name.
type Tokens = HashMap<String, String>;

fn fresh_state(dir: &Path, early_warning: bool) -> (server::AppState, Tokens) {
    let url = format!("sqlite://{}", dir.join("api.db").display());
    let options = store::Options {
        clock: Arc::new(store::SystemClock),
        indexer: Arc::new(search::Indexer::new(search::Registry::r4()).unwrap()),
        readers: 4,
    };
    let store = store::open(&url, options).unwrap();
    let (gate, feed) = support::gate(&store);
    support::account(
        &gate,
        "ew-doc",
        access::Role::RapidResponse,
        Some("Practitioner/ew-doc"),
    );
    let mut tokens = Tokens::new();
    tokens.insert("feed".into(), feed);
    tokens.insert("ew-doc".into(), support::bearer(&gate, "ew-doc"));
    let mut state = server::AppState::new(store.clone(), gate);
    state.base_url = Some("http://tend.test/fhir".into());
    if early_warning {
        // Early warning's now: minutes after the scenarios' sets (only recent sets alert).
        struct MinutesAfter;
        impl store::Clock for MinutesAfter {
            fn now_ms(&self) -> i64 {
                1_795_514_700_000 // 2026-11-24T10:05:00Z
            }
        }
        let ew = early_warning::EarlyWarning::new(
            store,
            early_warning::Config::default(),
            Arc::new(MinutesAfter),
        );
        ew.start();
        let hub = early_warning::Hub::start(ew.clone());
        state = state.with_early_warning(ew, hub);
    }
    (state, tokens)
}

/// The application as `tend serve` composes it, each request acting as `as` (a user name of
/// the fixture) unless it carries its own Authorization.
fn app_as(state: &server::AppState, tokens: &Tokens, user: &str) -> axum::Router {
    let bearer = tokens[user].clone();
    server::compose(server::app(state.clone()), state, false).layer(axum::middleware::map_request(
        move |mut req: Request<Body>| {
            let bearer = bearer.clone();
            async move {
                if !req.headers().contains_key("authorization") {
                    req.headers_mut()
                        .insert("authorization", bearer.parse().unwrap());
                }
                req
            }
        },
    ))
}

/// [`app_as`] the integration service `feed`.
fn app(state: &server::AppState, tokens: &Tokens) -> axum::Router {
    app_as(state, tokens, "feed")
}

/// Wait until the early-warning service has evaluated every commit so far.
async fn evaluated(state: &server::AppState) {
    let ew = state.early_warning.clone().expect("early warning started");
    let seq = state.store.commits().latest();
    let done = tokio::task::spawn_blocking(move || {
        ew.wait_processed(seq, std::time::Duration::from_secs(20))
    })
    .await
    .unwrap();
    assert!(done, "evaluation did not catch up");
}

fn substitute(s: &str, vars: &HashMap<String, String>) -> String {
    let mut out = s.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("${{{k}}}"), v);
    }
    out
}

async fn run_scenario(path: &Path) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!(
        "tend-api-{}-{}",
        std::process::id(),
        path.file_stem().unwrap().to_string_lossy()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let stem = path.file_stem().unwrap().to_string_lossy().to_string();
    let (state, tokens) = fresh_state(&dir, stem.starts_with("early-warning"));
    let mut apps: HashMap<String, axum::Router> = HashMap::new();
    let steps: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).map_err(|e| e.to_string())?;
    let mut vars = HashMap::new();
    for (i, step) in steps.iter().enumerate() {
        if step["wait"] == "evaluated" {
            evaluated(&state).await;
            continue;
        }
        let name = step["name"].as_str().unwrap_or("");
        let ctx = |m: String| format!("{}: step {i} ({name}): {m}", path.display());
        let method = step["method"].as_str().unwrap_or("GET");
        let url = substitute(step["url"].as_str().unwrap_or("/"), &vars);
        let mut req = Request::builder().method(method).uri(&url);
        let has_ct = step["headers"]
            .as_object()
            .is_some_and(|h| h.keys().any(|k| k.eq_ignore_ascii_case("content-type")));
        for (k, v) in step["headers"].as_object().into_iter().flatten() {
            req = req.header(k, substitute(v.as_str().unwrap_or(""), &vars));
        }
        let body = match &step["body"] {
            Value::Null => Body::empty(),
            Value::String(s) => Body::from(substitute(s, &vars)),
            v => {
                if !has_ct {
                    req = req.header("content-type", "application/fhir+json");
                }
                Body::from(substitute(&v.to_string(), &vars))
            }
        };
        let user = step["as"].as_str().unwrap_or("feed").to_string();
        let app = apps
            .entry(user.clone())
            .or_insert_with(|| app_as(&state, &tokens, &user))
            .clone();
        let resp = app.oneshot(req.body(body).unwrap()).await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).to_string();
        let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let expect = &step["expect"];
        if let Some(s) = expect["status"].as_u64() {
            if s as u16 != status {
                return Err(ctx(format!("status {status}, expected {s}; body: {text}")));
            }
        }
        for (k, v) in expect["headers"].as_object().into_iter().flatten() {
            let got = headers
                .get(k.as_str())
                .and_then(|h| h.to_str().ok())
                .unwrap_or("<absent>");
            let want = substitute(v.as_str().unwrap_or(""), &vars);
            if let Some(prefix) = want.strip_suffix('*') {
                if !got.starts_with(prefix) {
                    return Err(ctx(format!("header {k} = {got}, expected prefix {prefix}")));
                }
            } else if got != want {
                return Err(ctx(format!("header {k} = {got}, expected {want}")));
            }
        }
        for (ptr, want) in expect["json"].as_object().into_iter().flatten() {
            let got = json.pointer(ptr).cloned().unwrap_or(Value::Null);
            let want = match want {
                Value::String(s) => Value::String(substitute(s, &vars)),
                w => w.clone(),
            };
            if got != want {
                return Err(ctx(format!("{ptr} = {got}, expected {want}; body: {text}")));
            }
        }
        for ptr in expect["absent"].as_array().into_iter().flatten() {
            if json.pointer(ptr.as_str().unwrap_or("")).is_some() {
                return Err(ctx(format!("{ptr} should be absent; body: {text}")));
            }
        }
        for needle in expect["contains"].as_array().into_iter().flatten() {
            let n = substitute(needle.as_str().unwrap_or(""), &vars);
            if !text.contains(&n) {
                return Err(ctx(format!("body does not contain {n:?}: {text}")));
            }
        }
        for (var, src) in step["capture"].as_object().into_iter().flatten() {
            let src = src.as_str().unwrap_or("");
            let value = if let Some(h) = src.strip_prefix("header:") {
                headers
                    .get(h)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string()
            } else {
                match json.pointer(src) {
                    Some(Value::String(s)) => s.clone(),
                    Some(v) => v.to_string(),
                    None => return Err(ctx(format!("nothing at {src} to capture; body: {text}"))),
                }
            };
            vars.insert(var.clone(), value);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_scenarios() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/api");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let mut failures = Vec::new();
    for f in &files {
        if let Err(e) = run_scenario(f).await {
            failures.push(e);
        }
    }
    println!("{} API scenarios, {} failed", files.len(), failures.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Live events: a client subscribed to a patient's stream sees the alert that a vitals
/// write raises, without polling; a client resuming with `Last-Event-ID` gets what it missed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_arrive_on_the_live_stream() {
    let dir = std::env::temp_dir().join(format!("tend-sse-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (state, tokens) = fresh_state(&dir, true);
    // The live stream is the rapid-response team's; the vital signs come from the feed.
    let feed = app(&state, &tokens);
    let app = app_as(&state, &tokens, "ew-doc");
    let bundle: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/early-warning-high-set.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let send = |req: Request<Body>| app.clone().oneshot(req);
    let resp = send(
        Request::get("/api/events?patient=ew-p1")
            .body(Body::empty())
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut body = resp.into_body();
    let write = feed
        .oneshot(
            Request::post("/fhir")
                .header("content-type", "application/fhir+json")
                .body(Body::from(bundle.to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(write.status(), 200);
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while !text.contains("event: alert") {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .expect("an alert event within 20 s")
            .expect("stream open")
            .unwrap();
        if let Ok(data) = frame.into_data() {
            text.push_str(&String::from_utf8_lossy(&data));
        }
    }
    assert!(text.contains("event: score"));
    assert!(text.contains("\"band\":\"high\""));
    // Resume from the first event: everything after it comes back from the change log.
    let first: i64 = text
        .lines()
        .find_map(|l| l.strip_prefix("id: "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let resp = send(
        Request::get("/api/events?patient=ew-p1")
            .header("last-event-id", first.to_string())
            .body(Body::empty())
            .unwrap(),
    )
    .await
    .unwrap();
    let mut body = resp.into_body();
    let frame = tokio::time::timeout(std::time::Duration::from_secs(10), body.frame())
        .await
        .expect("replayed events")
        .unwrap()
        .unwrap();
    let replayed = String::from_utf8_lossy(&frame.into_data().unwrap()).to_string();
    let id: i64 = replayed
        .lines()
        .find_map(|l| l.strip_prefix("id: "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(id > first, "replay starts after Last-Event-ID");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The HL7 v2 message log, replay and the Prometheus counters over HTTP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hl7_message_log_replay_and_metrics() {
    let dir = std::env::temp_dir().join(format!("tend-hl7log-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (state, tokens) = fresh_state(&dir, false);
    let feed = Arc::new(interface::Feed::new(
        state.store.clone(),
        None,
        Arc::new(store::SystemClock),
        interface::Config::default(),
    ));
    let state = state
        .with_feed(feed.clone())
        .with_metrics(server::install_metrics().expect("the recorder installs"));
    let app = app(&state, &tokens);
    let file = |name: &str| {
        std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../hl7v2/test_data/messages")
                .join(name),
        )
        .unwrap()
    };
    // What the MLLP listener does with each frame.
    let handle = |bytes: Vec<u8>| {
        let feed = feed.clone();
        async move {
            tokio::task::spawn_blocking(move || feed.handle(&bytes).code)
                .await
                .unwrap()
        }
    };
    assert_eq!(handle(file("oru-vitals-monitor.hl7")).await, "CA");
    assert_eq!(handle(file("oru-bad-values.hl7")).await, "AE");
    let get = |url: &str| {
        let app = app.clone();
        let req = Request::get(url).body(Body::empty()).unwrap();
        async move {
            let resp = app.oneshot(req).await.unwrap();
            let status = resp.status().as_u16();
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8_lossy(&body).to_string())
        }
    };
    let (status, body) = get("/api/hl7/messages?outcome=error").await;
    assert_eq!(status, 200, "{body}");
    let page: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(page["total"], 1);
    assert_eq!(page["messages"][0]["type"], "ORU^R01");
    assert_eq!(page["messages"][0]["ack_code"], "AE");
    let id = page["messages"][0]["id"].as_str().unwrap().to_string();
    let (status, body) = get(&format!("/api/hl7/messages/{id}")).await;
    assert_eq!(status, 200);
    let one: Value = serde_json::from_str(&body).unwrap();
    assert!(one["message"].as_str().unwrap().starts_with("MSH|"));
    assert!(one["ack"].as_str().unwrap().contains("MSA|AE|"));
    let (status, body) = get("/api/hl7/messages?outcome=lost").await;
    assert_eq!(status, 400);
    assert!(
        body.contains("OperationOutcome") && body.contains("lost"),
        "{body}"
    );
    assert_eq!(get("/api/hl7/messages/no-such-id").await.0, 404);

    let resp = app
        .clone()
        .oneshot(
            Request::post(format!("/api/hl7/messages/{id}/replay"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let replayed: Value =
        serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(replayed["ackCode"], "AE");
    assert_eq!(replayed["answeredFromRecord"], false);
    assert_eq!(replayed["record"]["versions"], 2);

    let (status, text) = get("/metrics").await;
    assert_eq!(status, 200);
    for line in [
        r#"tend_hl7_messages_total{type="ORU^R01",outcome="CA"}"#,
        r#"tend_hl7_messages_total{type="ORU^R01",outcome="AE"}"#,
        "tend_hl7_ack_seconds_bucket",
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }
}

#[tokio::test]
async fn every_response_carries_security_headers_and_pages_keep_their_own_policy() {
    use axum::http::{header, Request};
    use tower::ServiceExt;
    let dir = std::env::temp_dir().join(format!("tend-headers-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (state, tokens) = fresh_state(&dir, false);
    let page = axum::Router::new().route(
        "/page",
        axum::routing::get(|| async {
            (
                [(header::CONTENT_SECURITY_POLICY, "default-src 'self'")],
                "<p>page</p>",
            )
        }),
    );
    for hsts in [false, true] {
        let bearer = tokens["feed"].clone();
        let app = server::compose(server::app(state.clone()).merge(page.clone()), &state, hsts)
            .layer(axum::middleware::map_request(
                move |mut req: Request<axum::body::Body>| {
                    let bearer = bearer.clone();
                    async move {
                        req.headers_mut()
                            .insert("authorization", bearer.parse().unwrap());
                        req
                    }
                },
            ));
        let resp = app
            .clone()
            .oneshot(
                Request::get("/fhir/Patient/nope")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(resp.status(), 404);
        let h = resp.headers();
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(h[header::CACHE_CONTROL], "no-store");
        assert_eq!(
            h[header::CONTENT_SECURITY_POLICY],
            "default-src 'none'; frame-ancestors 'none'"
        );
        assert_eq!(h.contains_key(header::STRICT_TRANSPORT_SECURITY), hsts);
        let resp = app
            .oneshot(
                Request::get("/page")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(
            resp.headers()[header::CONTENT_SECURITY_POLICY],
            "default-src 'self'",
            "a page's own policy stands"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every FHIR API request leaves exactly one AuditEvent naming the patients it touched, and
/// the chain verifies.
#[tokio::test]
async fn every_fhir_request_is_audited_once_with_its_patients() {
    use axum::http::Request;
    use tower::ServiceExt;
    let dir = std::env::temp_dir().join(format!("tend-audit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (state, tokens) = fresh_state(&dir, false);
    let store = state.store.clone();
    // The fixture's own records (accounts, tokens) come before the requests'.
    let before = store.scan("AuditEvent", 0, 1000).unwrap().0.len();
    let app = app(&state, &tokens);
    let send = |method: &str, path: &str, body: &str| {
        Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/fhir+json")
            .body(axum::body::Body::from(body.to_string()))
            .unwrap()
    };
    let requests = [
        (
            "PUT",
            "/fhir/Patient/a1",
            r#"{"resourceType":"Patient","id":"a1"}"#,
            201,
            vec!["Patient/a1"],
        ),
        (
            "PUT",
            "/fhir/Patient/a2",
            r#"{"resourceType":"Patient","id":"a2"}"#,
            201,
            vec!["Patient/a2"],
        ),
        (
            "PUT",
            "/fhir/Observation/o1",
            r#"{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/a1"}}"#,
            201,
            vec!["Patient/a1"],
        ),
        (
            "GET",
            "/fhir/Patient?_count=10",
            "",
            200,
            vec!["Patient/a1", "Patient/a2"],
        ),
        (
            "GET",
            "/fhir/Observation?subject=Patient/a1",
            "",
            200,
            vec!["Patient/a1"],
        ),
        ("GET", "/fhir/Patient/a2", "", 200, vec!["Patient/a2"]),
        ("GET", "/fhir/Patient/nobody", "", 404, vec![]),
    ];
    for (m, p, b, status, _) in &requests {
        let resp = app.clone().oneshot(send(m, p, b)).await.unwrap();
        assert_eq!(resp.status().as_u16(), *status, "{m} {p}");
    }
    // A synchronous write after them: the audit records queued before it are committed.
    store
        .write(
            &store::Access::system(),
            vec![store::Entry {
                full_url: None,
                op: store::WriteOp::Update {
                    rtype: "Organization".into(),
                    id: "sync".into(),
                    resource: serde_json::json!({"resourceType": "Organization", "id": "sync"}),
                    if_match: None,
                },
            }],
            store::Mode::Atomic,
        )
        .unwrap();
    let (hits, _) = store.scan("AuditEvent", 0, 1000).unwrap();
    assert_eq!(
        hits.len(),
        before + requests.len(),
        "one AuditEvent per request"
    );
    let report = store::audit::verify(hits.iter().map(|h| h.body.as_str()));
    assert_eq!(
        (report.linked, report.broken),
        (before + requests.len(), None)
    );
    for (hit, (m, p, _, status, who)) in hits[before..].iter().zip(&requests) {
        let e: Value = serde_json::from_str(&hit.body).unwrap();
        let patients: Vec<&str> = e["entity"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|x| x["what"]["reference"].as_str())
            .collect();
        assert_eq!(&patients, who, "{m} {p}");
        assert_eq!(
            e["entity"].as_array().unwrap().last().unwrap()["description"],
            format!("{m} {}", p.split('?').next().unwrap())
        );
        assert_eq!(
            e["outcome"],
            if *status < 400 { "0" } else { "4" },
            "{m} {p}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A body over the limit is refused with 413 and an OperationOutcome, before it is read.
#[tokio::test]
async fn an_oversized_body_gets_413() {
    let dir = std::env::temp_dir().join(format!("tend-413-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (state, tokens) = fresh_state(&dir, false);
    let app = app(&state, &tokens);
    let huge = vec![b' '; server::MAX_BODY + 1];
    for path in ["/fhir/Observation", "/fhir"] {
        let resp = app
            .clone()
            .oneshot(
                Request::post(path)
                    .header("content-type", "application/fhir+json")
                    .body(Body::from(huge.clone()))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(resp.status(), 413, "{path}");
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["resourceType"], "OperationOutcome");
        assert_eq!(v["issue"][0]["code"], "too-costly");
    }
}

/// Binary in its native form: an image posted as itself (with its security context) reads
/// back as itself when the client asks for it, as a FHIR Binary when it asks for FHIR, and
/// only by those who reach the patient its security context is about (directly or through a
/// DocumentReference).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_content_round_trips_and_follows_its_patient() {
    let dir = std::env::temp_dir().join(format!("tend-binary-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (state, tokens) = fresh_state(&dir, false);
    let feed = app(&state, &tokens);
    let doc = app_as(&state, &tokens, "ew-doc");
    let send = |app: &axum::Router, req: Request<Body>| {
        let app = app.clone();
        async move {
            let resp = app.oneshot(req).await.unwrap();
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            (status, headers, body.to_vec())
        }
    };
    for (path, body) in [
        (
            "/fhir/Patient/bx",
            json!({"resourceType": "Patient", "id": "bx"}),
        ),
        (
            "/fhir/DocumentReference/dx",
            json!({"resourceType": "DocumentReference", "id": "dx", "status": "current",
            "subject": {"reference": "Patient/bx"}, "content": [{"attachment": {"contentType": "image/png"}}]}),
        ),
    ] {
        let (s, _, _) = send(
            &feed,
            Request::put(path)
                .header("content-type", "application/fhir+json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await;
        assert!(s.is_success(), "{path}: {s}");
    }
    let png: Vec<u8> = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 1, 2, 255];
    let mut ids = Vec::new();
    for context in ["Patient/bx", "DocumentReference/dx"] {
        let (s, h, body) = send(
            &feed,
            Request::post("/fhir/Binary")
                .header("content-type", "image/png")
                .header("x-security-context", context)
                .body(Body::from(png.clone()))
                .unwrap(),
        )
        .await;
        assert_eq!(s, 201, "{}", String::from_utf8_lossy(&body));
        let location = h["location"].to_str().unwrap().to_string();
        let id = location
            .split("/Binary/")
            .nth(1)
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .to_string();
        ids.push(id);
    }
    let read = |app: &axum::Router, id: &str, accept: &str| {
        send(
            app,
            Request::get(format!("/fhir/Binary/{id}"))
                .header("accept", accept)
                .body(Body::empty())
                .unwrap(),
        )
    };
    // Native: the same bytes and type.
    let (s, h, body) = read(&feed, &ids[0], "image/png").await;
    assert_eq!(s, 200);
    assert_eq!(h["content-type"], "image/png");
    assert_eq!(h["x-security-context"], "Patient/bx");
    assert_eq!(body, png);
    // FHIR: the Binary resource.
    let (s, h, body) = read(&feed, &ids[0], "application/fhir+json").await;
    assert_eq!(s, 200);
    assert!(h["content-type"].to_str().unwrap().contains("fhir+json"));
    let b: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(b["contentType"], "image/png");
    assert_eq!(b["securityContext"]["reference"], "Patient/bx");
    assert_eq!(b["data"], "iVBORw0KGgoAAQL/");
    // The rapid-response doctor reaches inpatients; this patient is not one.
    for id in &ids {
        let (s, _, body) = read(&doc, id, "image/png").await;
        assert_eq!(s, 403, "{id}: {}", String::from_utf8_lossy(&body));
    }
    // A security context that is not a reference is refused with the reason.
    let (s, _, body) = send(
        &feed,
        Request::post("/fhir/Binary")
            .header("content-type", "application/pdf")
            .header("x-security-context", "nonsense")
            .body(Body::from(vec![1u8, 2, 3]))
            .unwrap(),
    )
    .await;
    assert_eq!(s, 400);
    assert!(String::from_utf8_lossy(&body).contains("X-Security-Context"));
    let _ = std::fs::remove_dir_all(&dir);
}
