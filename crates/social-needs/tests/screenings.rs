//! Scoring from `test_data/screenings.json`, through a QuestionnaireResponse as a kiosk or the
//! API sends it; the Questionnaire and the Observations are valid FHIR.

use serde_json::{json, Value};
use social_needs::{Context, Instrument, Status};

fn response(answers: &serde_json::Map<String, Value>) -> Value {
    let i = Instrument::ahc_hrsn();
    let items: Vec<Value> = answers
        .iter()
        .map(|(link, given)| {
            let q = i.question(link).expect("a question of the tool");
            let answer: Vec<Value> = given
                .as_array()
                .unwrap()
                .iter()
                .map(|g| {
                    let g = g.as_str().unwrap();
                    if g.starts_with("LA") {
                        json!({"valueCoding": {"system": "http://loinc.org", "code": g}})
                    } else {
                        json!({"valueString": g})
                    }
                })
                .collect();
            json!({"linkId": q.link, "answer": answer})
        })
        .collect();
    json!({"resourceType": "QuestionnaireResponse", "status": "completed", "item": items})
}

fn valid(r: &Value) {
    let errors: Vec<_> = fhir::validation::validate(r)
        .into_iter()
        .filter(|i| i.severity == fhir::validation::Severity::Error)
        .collect();
    assert!(errors.is_empty(), "{errors:?} in {r}");
}

#[test]
fn every_screening_scores_as_its_file_says() {
    let i = Instrument::ahc_hrsn();
    valid(&i.questionnaire());
    let file: Value = serde_json::from_str(include_str!("../test_data/screenings.json")).unwrap();
    for c in file["cases"].as_array().unwrap() {
        let what = c["what"].as_str().unwrap();
        let answers = i
            .answers(&response(c["answers"].as_object().unwrap()))
            .expect(what);
        let s = i.score(&answers);
        for (key, status) in [
            ("positive", Status::Positive),
            ("negative", Status::Negative),
            ("not_answered", Status::NotAnswered),
        ] {
            for d in c[key].as_array().into_iter().flatten() {
                let d = d.as_str().unwrap();
                let got = s.domains.iter().find(|x| x.domain == d).unwrap().status;
                assert_eq!(got, status, "{what}: {d}");
            }
        }
        if c.get("positive").is_some() {
            let listed: Vec<&str> = c["positive"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            let got: Vec<&str> = s.positive().map(|d| d.domain.as_str()).collect();
            assert_eq!(got.len(), listed.len(), "{what}: {got:?}");
        }
        assert_eq!(
            s.safety_total.map(u64::from),
            c["safety_total"].as_u64(),
            "{what}"
        );
        assert_eq!(s.follow_up, c["follow_up"].as_bool().unwrap(), "{what}");
        let ctx = Context {
            patient: "p1",
            response: "QuestionnaireResponse/qr1",
            when: "2026-12-06T10:00:00Z",
            performer: Some("Practitioner/sw1"),
            prefix: "hrsn-qr1",
        };
        let obs = i.observations(&answers, &ctx);
        let answered = c["answers"].as_object().unwrap().len();
        assert_eq!(
            obs.len(),
            answered + usize::from(s.safety_total.is_some()),
            "{what}"
        );
        for o in &obs {
            valid(o);
            // Interpersonal-safety answers are sensitive wherever they are stored.
            let safety = o["category"][2]["coding"][0]["code"] == "intimate-partner-violence";
            assert_eq!(access::sensitive(o), safety, "{what}: {o}");
        }
    }
}

#[test]
fn an_answer_that_is_not_the_questions_is_refused_by_name() {
    let i = Instrument::ahc_hrsn();
    let bad = json!({"resourceType": "QuestionnaireResponse", "status": "completed",
        "item": [{"linkId": "q3", "answer": [{"valueCoding": {"system": "http://loinc.org", "code": "LA33-6"}}]}]});
    assert_eq!(
        i.answers(&bad).unwrap_err().to_string(),
        "'LA33-6' is not an answer to question q3"
    );
    let unknown = json!({"resourceType": "QuestionnaireResponse", "status": "completed",
        "item": [{"linkId": "q99", "answer": [{"valueString": "x"}]}]});
    assert!(i.answers(&unknown).is_err());
}
