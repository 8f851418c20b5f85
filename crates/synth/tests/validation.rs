//! Every generated resource, and every streamed one, is valid against the base R4 definitions;
//! so are the social-needs screenings and community referrals of the full demo, at every status.

use chrono::TimeDelta;
use fhir::validation::{validate, Severity};
use synth::{generate, Config};

#[test]
fn every_resource_is_valid_r4() {
    let cfg = Config {
        inpatients: 40,
        clinic_patients: 300,
        cancer_referrals: 40,
        ..Config::default()
    };
    let h = generate(&cfg);
    let mut stream = h.vitals_stream();
    let streamed = stream.advance(cfg.now + TimeDelta::hours(12));
    assert!(!streamed.is_empty());
    let mut errors = Vec::new();
    for r in h.resources.iter().chain(&streamed) {
        for issue in validate(r) {
            if issue.severity == Severity::Error {
                errors.push(format!(
                    "{}/{}: {} ({})",
                    r["resourceType"], r["id"], issue.message, issue.expression
                ));
            }
        }
    }
    assert!(
        errors.is_empty(),
        "{} errors, first ones:\n{}",
        errors.len(),
        errors[..errors.len().min(30)].join("\n")
    );

    // The social-needs screenings and the community referrals of the full demo, where every
    // referral status is reached.
    let full = generate(&Config::default());
    let community: Vec<&serde_json::Value> = full
        .resources
        .iter()
        .filter(|r| {
            let id = r["id"].as_str().unwrap_or_default();
            id.starts_with("hrsn-")
                || id.starts_with("sdoh-")
                || id.starts_with("cbo-")
                || id.ends_with("-social-work")
        })
        .collect();
    let statuses: std::collections::BTreeSet<&str> = community
        .iter()
        .filter(|r| r["resourceType"] == "Task")
        .filter_map(|t| t["status"].as_str())
        .collect();
    assert_eq!(statuses.len(), 9, "{statuses:?}");
    for kind in [
        "QuestionnaireResponse",
        "Observation",
        "CareTeam",
        "Organization",
        "Location",
        "HealthcareService",
        "Condition",
        "Goal",
        "Consent",
        "ServiceRequest",
    ] {
        assert!(
            community.iter().any(|r| r["resourceType"] == kind),
            "{kind}"
        );
    }
    for r in community {
        for issue in validate(r) {
            if issue.severity == Severity::Error {
                errors.push(format!(
                    "{}/{}: {} ({})",
                    r["resourceType"], r["id"], issue.message, issue.expression
                ));
            }
        }
    }
    assert!(
        errors.is_empty(),
        "{} errors, first ones:\n{}",
        errors.len(),
        errors[..errors.len().min(30)].join("\n")
    );

    // The check is not vacuous: a misspelt element is an error.
    let mut bad = h.resources[0].clone();
    bad["nmae"] = serde_json::json!("Riverbend");
    assert!(validate(&bad).iter().any(|i| i.severity == Severity::Error));
}
