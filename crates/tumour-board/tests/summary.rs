//! The case summary, from records in `test_data/summary/*.json` and what each must show.

use serde_json::{json, Value};
use tumour_board::summary::{summarise, Finding};

fn pairs(list: &[Finding]) -> Value {
    json!(list
        .iter()
        .map(|f| json!([f.name, f.value]))
        .collect::<Vec<_>>())
}

#[test]
fn every_record_summarises_as_its_file_says() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/summary");
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).expect("test_data/summary") {
        let path = entry.unwrap().path();
        let case: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let record: Vec<Value> = case["record"].as_array().unwrap().clone();
        let s = summarise(&record);
        let e = &case["expected"];
        let name = path.display();
        let diagnoses = json!(s
            .diagnoses
            .iter()
            .map(|d| json!([d.words, d.verification, d.stage]))
            .collect::<Vec<_>>());
        assert_eq!(diagnoses, e["diagnoses"], "{name}: diagnoses");
        assert_eq!(pairs(&s.reports), e["reports"], "{name}: reports");
        assert_eq!(pairs(&s.biomarkers), e["biomarkers"], "{name}: biomarkers");
        let performance = s.performance.as_ref().map(|p| json!([p.name, p.value]));
        assert_eq!(
            performance.unwrap_or(Value::Null),
            e["performance"],
            "{name}: performance"
        );
        assert_eq!(pairs(&s.treatments), e["treatments"], "{name}: treatments");
        assert_eq!(pairs(&s.response), e["response"], "{name}: response");
        assert_eq!(
            pairs(&s.recommendations),
            e["recommendations"],
            "{name}: recommendations"
        );
        assert_eq!(json!(s.missing()), e["missing"], "{name}: missing");
        files += 1;
    }
    assert!(files >= 2, "the summary cases are in test_data/summary");
}
