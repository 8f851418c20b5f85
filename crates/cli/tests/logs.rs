//! No patient data in logs: `tend serve` runs with debug logging while a patient's record goes
//! through every interface — the FHIR API (create, update, search, read, an invalid resource,
//! a transaction), HL7 v2 over MLLP (an ADT admission, an ORU result, a malformed message),
//! CDS Hooks (a signed call) and the web app (sign-in, chart, care gaps, vitals form with a
//! typing error) — and its log must not contain the patient's name, identifiers, birth date,
//! phone, address or result values.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use p384::ecdsa::signature::Signer as _;

/// What must never appear in a log line.
const SECRETS: &[&str] = &[
    "Quillfeather",
    "QUILLFEATHER",
    "Zebediah",
    "ZEBEDIAH",
    "MRN-ZQ-93517",
    "1961-07-04",
    "19610704",
    "555-0199",
    "Larkspur",
    "187.65",
    "41.9",
];

fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out[9..12].parse().unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let cookie = head
        .lines()
        .filter(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .map(|l| l[11..].trim().split(';').next().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("; ");
    (status, body.to_string(), cookie)
}

fn mllp(addr: &str, message: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut frame = vec![0x0b];
    frame.extend_from_slice(message.replace('\n', "\r").as_bytes());
    frame.extend_from_slice(&[0x1c, 0x0d]);
    s.write_all(&frame).unwrap();
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while s.read(&mut byte).unwrap() == 1 {
        buf.push(byte[0]);
        if buf.ends_with(&[0x1c, 0x0d]) {
            break;
        }
    }
    String::from_utf8_lossy(&buf).to_string()
}

#[test]
fn no_patient_data_reaches_the_log_through_any_interface() {
    let dir = tempfile_dir();
    let log_path = dir.join("tend.log");
    // A trusted CDS client.
    let key = p384::ecdsa::SigningKey::random(&mut rsa::rand_core::OsRng);
    let point = key.verifying_key().to_encoded_point(false);
    let trust = serde_json::json!({"issuers": [{"iss": "https://ehr.test", "jwks": {"keys": [{"kty": "EC", "crv": "P-384", "kid": "k1", "x": B64.encode(point.x().unwrap()), "y": B64.encode(point.y().unwrap())}]}}]});
    std::fs::write(dir.join("trust.json"), trust.to_string()).unwrap();
    let db = format!("sqlite://{}", dir.join("t.db").display());
    // Accounts first: an administrator, a physician (FHIR API with a token, chart, vitals)
    // and a navigator (care gaps).
    let users = |args: &[&str], stdin: &str| -> String {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tend"))
            .arg("users")
            .args(args)
            .args(["--database", &db])
            .env_remove("TEND_CONFIG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "tend users {args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    const PW: &str = "a long enough passphrase";
    users(
        &[
            "add",
            "admin",
            "--role",
            "administrator",
            "--name",
            "Admin",
            "--password-stdin",
        ],
        PW,
    );
    users(
        &[
            "add",
            "doc",
            "--role",
            "physician",
            "--name",
            "Dr Doc",
            "--password-stdin",
        ],
        PW,
    );
    users(
        &[
            "add",
            "nav",
            "--role",
            "navigator",
            "--name",
            "Nav",
            "--password-stdin",
        ],
        PW,
    );
    let api_token = users(&["token", "doc", "--label", "log test"], "")
        .trim()
        .to_string();
    let bearer = format!("Bearer {api_token}");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tend"))
        .args([
            "serve",
            "--database",
            &format!("sqlite://{}", dir.join("t.db").display()),
            "--listen",
            "127.0.0.1:0",
        ])
        .args(["--mllp-listen", "127.0.0.1:0"])
        .args([
            "--cds-trust",
            &dir.join("trust.json").display().to_string(),
            "--public-url",
            "http://tend.test",
        ])
        .env("TEND_LOG", "debug")
        .env_remove("TEND_CONFIG")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    // Both listeners bind port 0 and print where they are: no race for a free port with
    // other tests.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("Tend FHIR API: http://") {
                let _ = tx.send(("http", rest.split('/').next().unwrap().to_string()));
            } else if let Some(rest) = line.strip_prefix("Tend HL7 v2 (MLLP): ") {
                let _ = tx.send(("mllp", rest.trim().to_string()));
            }
        }
    });
    let (mut addr, mut mllp_addr) = (String::new(), String::new());
    while addr.is_empty() || mllp_addr.is_empty() {
        let (kind, a) = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("server started");
        if kind == "http" {
            addr = a;
        } else {
            mllp_addr = a;
        }
    }
    // The physician reaches this patient outside any care relationship: break the glass.
    let json = [
        ("Content-Type", "application/fhir+json"),
        ("Authorization", bearer.as_str()),
        ("X-Break-Glass", "testing every interface"),
    ];
    assert_eq!(
        http(&addr, "GET", "/fhir/Patient?name=x", &[], "").0,
        401,
        "no credentials, no data"
    );

    // FHIR API.
    let patient = r#"{"resourceType":"Patient","id":"zq","identifier":[{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}]},"system":"urn:mrn","value":"MRN-ZQ-93517"}],
        "name":[{"family":"Quillfeather","given":["Zebediah"]}],"gender":"male","birthDate":"1961-07-04","telecom":[{"system":"phone","value":"555-0199"}],
        "address":[{"line":["9 Larkspur Lane"],"city":"Riverbend"}]}"#;
    assert_eq!(
        http(&addr, "PUT", "/fhir/Patient/zq", &json, patient).0,
        201
    );
    let obs = r#"{"resourceType":"Observation","id":"zq-wt","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],
        "code":{"coding":[{"system":"http://loinc.org","code":"29463-7"}]},"subject":{"reference":"Patient/zq"},"effectiveDateTime":"2026-11-20T10:00:00Z","valueQuantity":{"value":187.65,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}}"#;
    assert_eq!(
        http(&addr, "PUT", "/fhir/Observation/zq-wt", &json, obs).0,
        201
    );
    assert_eq!(
        http(
            &addr,
            "GET",
            "/fhir/Patient?name=Quillfeather&birthdate=1961-07-04",
            &json,
            ""
        )
        .0,
        200
    );
    assert_eq!(
        http(
            &addr,
            "GET",
            "/fhir/Patient?identifier=MRN-ZQ-93517",
            &json,
            ""
        )
        .0,
        200
    );
    assert_eq!(http(&addr, "GET", "/fhir/Patient/zq", &json, "").0, 200);
    let bad = r#"{"resourceType":"Patient","name":[{"family":"Quillfeather"}],"birthDate":"1961-07-04x"}"#;
    assert_eq!(http(&addr, "POST", "/fhir/Patient", &json, bad).0, 400);
    let tx_bundle = format!(
        r#"{{"resourceType":"Bundle","type":"transaction","entry":[{{"resource":{patient},"request":{{"method":"PUT","url":"Patient/zq"}}}}]}}"#
    );
    assert_eq!(http(&addr, "POST", "/fhir", &json, &tx_bundle).0, 200);

    // HL7 v2 over MLLP.
    let adt = "MSH|^~\\&|EHR|RIVERBEND|TEND|RIVERBEND|20261124090000||ADT^A01^ADT_A01|LOG-1|P|2.5.1\nEVN|A01|20261124090000\nPID|1||MRN-ZQ-93517^^^RIVERBEND^MR||QUILLFEATHER^ZEBEDIAH||19610704|M|||9 Larkspur Lane^^Riverbend^NY^10001||555-0199\nPV1|1|I|5WEST^512^B||||||||||||||||V-ZQ-1|||||||||||||||||||||||||20261124085500";
    assert!(mllp(&mllp_addr, adt).contains("MSA|AA"), "ADT accepted");
    let oru = "MSH|^~\\&|MONITOR|RIVERBEND|TEND|RIVERBEND|20261124091000||ORU^R01^ORU_R01|LOG-2|P|2.5.1\nPID|1||MRN-ZQ-93517^^^RIVERBEND^MR||QUILLFEATHER^ZEBEDIAH||19610704|M\nOBR|1|||vitals|||20261124090500\nOBX|1|NM|8310-5^Body temperature^LN||41.9|Cel|||||F|||20261124090500";
    let ack = mllp(&mllp_addr, oru);
    assert!(ack.contains("MSA|AA") || ack.contains("MSA|AE"), "{ack}");
    let broken = "MSH|^~\\&|EHR|RIVERBEND|TEND|RIVERBEND|20261124090000||ADT^A01^ADT_A01|LOG-3|P|2.5.1\nPID|1||MRN-ZQ-93517^^^RIVERBEND^MR||QUILLFEATHER^ZEBEDIAH||1961070499";
    assert!(
        mllp(&mllp_addr, broken).contains("MSA|A"),
        "malformed message answered"
    );

    // CDS Hooks, signed.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = B64.encode(r#"{"alg":"ES384","typ":"JWT","kid":"k1"}"#);
    let claims = B64.encode(format!(r#"{{"iss":"https://ehr.test","sub":"ehr","aud":"http://tend.test/cds-services/tend-patient-view","iat":{now},"exp":{},"jti":"log-1"}}"#, now + 60));
    let sig: p384::ecdsa::Signature = key.sign(format!("{header}.{claims}").as_bytes());
    let token = format!("Bearer {header}.{claims}.{}", B64.encode(sig.to_bytes()));
    let hook = r#"{"hook":"patient-view","hookInstance":"4b0b54b5-7e8c-4b4e-9d0e-0d3c7a6b2a11","context":{"userId":"Practitioner/x","patientId":"zq"}}"#;
    let (s, cards, _) = http(
        &addr,
        "POST",
        "/cds-services/tend-patient-view",
        &[
            ("Content-Type", "application/json"),
            ("Authorization", &token),
        ],
        hook,
    );
    assert_eq!(s, 200, "{cards}");

    // The web app: people sign in with passwords, then the patient's pages.
    let sign_in = |user: &str| -> String {
        let (_, page, form_cookie) = http(&addr, "GET", "/sign-in", &[], "");
        let csrf = page
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .map(|s| s[..s.find('"').unwrap()].to_string())
            .unwrap();
        let (s, _, cookie) = http(
            &addr,
            "POST",
            "/sign-in",
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Cookie", form_cookie.as_str()),
            ],
            &format!(
                "csrf={csrf}&username={user}&password={}",
                PW.replace(' ', "+")
            ),
        );
        assert_eq!(s, 303, "{user} signs in");
        cookie
    };
    let csrf_of = |page: &str| {
        page.split("name=\"csrf\" value=\"")
            .nth(1)
            .map(|s| s[..s.find('"').unwrap()].to_string())
            .unwrap_or_default()
    };
    {
        let cookie = sign_in("doc");
        let c = [("Cookie", cookie.as_str())];
        let (s, glass, _) = http(&addr, "GET", "/patients/zq", &c, "");
        assert_eq!(s, 403, "not in the physician's care");
        let (s, _, _) = http(
            &addr,
            "POST",
            "/patients/zq/break-glass",
            &[
                ("Cookie", cookie.as_str()),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            &format!("csrf={}&reason=covering+the+ward+tonight", csrf_of(&glass)),
        );
        assert_eq!(s, 303);
        assert_eq!(http(&addr, "GET", "/patients/zq", &c, "").0, 200);
        let (_, form, _) = http(&addr, "GET", "/patients/zq/vitals", &c, "");
        let (s, _, _) = http(
            &addr,
            "POST",
            "/patients/zq/vitals",
            &[
                ("Cookie", cookie.as_str()),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            &format!(
                "csrf={}&temperature=41.9&respiratory_rate=187.65",
                csrf_of(&form)
            ),
        );
        assert!(s == 422 || s == 400 || s == 200 || s == 303, "{s}");
        let nav = sign_in("nav");
        assert_eq!(
            http(&addr, "GET", "/care-gaps", &[("Cookie", nav.as_str())], "").0,
            200
        );
    }

    std::thread::sleep(Duration::from_millis(500));
    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.lines().count() > 5 && log.contains("DEBUG"),
        "debug logging was on:\n{log}"
    );
    assert!(
        log.contains("signed in"),
        "the web sign-in was exercised:\n{log}"
    );
    for seen in [
        "path=/fhir/Patient/zq",
        "path=/cds-services/tend-patient-view",
        "path=/patients/zq",
        "message_type=ADT^A01",
        "CDS Hooks call",
    ] {
        assert!(
            log.contains(seen),
            "every interface logs (ids and outcomes): no '{seen}' in\n{log}"
        );
    }
    let leaks: Vec<&str> = log
        .lines()
        .filter(|l| SECRETS.iter().any(|s| l.contains(s)))
        .collect();
    assert!(
        leaks.is_empty(),
        "patient data in {} log lines:\n{}",
        leaks.len(),
        leaks.join("\n")
    );
    // The FHIR and CDS Hooks requests above were audited, and the chain verifies.
    let out = Command::new(env!("CARGO_BIN_EXE_tend"))
        .args([
            "audit",
            "verify",
            "--database",
            &format!("sqlite://{}", dir.join("t.db").display()),
        ])
        .env_remove("TEND_CONFIG")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let linked: usize = said
        .strip_prefix("Audit chain intact: ")
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(linked >= 8, "{said}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("tend-logs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
