//! Expectations kept in files, rewritten with `UPDATE_EXPECT=1`.

use std::path::PathBuf;

use serde_json::Value;

pub(crate) fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("test_data")
        .join(name)
}

pub(crate) fn read(name: &str) -> String {
    std::fs::read_to_string(path(name)).unwrap_or_else(|e| panic!("test_data/{name}: {e}"))
}

pub(crate) fn json(name: &str) -> Value {
    serde_json::from_str(&read(name)).unwrap_or_else(|e| panic!("test_data/{name}: {e}"))
}

fn updating() -> bool {
    std::env::var_os("UPDATE_EXPECT").is_some_and(|v| v == "1")
}

/// `actual` is what `test_data/{name}` holds (or becomes it, when updating).
pub(crate) fn file(name: &str, actual: &Value) {
    let text = serde_json::to_string_pretty(actual).unwrap() + "\n";
    if updating() {
        std::fs::write(path(name), text).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path(name))
        .unwrap_or_else(|_| panic!("test_data/{name}: no expectation (run with UPDATE_EXPECT=1)"));
    let expected: Value = serde_json::from_str(&expected).unwrap();
    assert!(
        &expected == actual,
        "test_data/{name} differs (UPDATE_EXPECT=1 to accept):\n{text}"
    );
}

/// `cases[i].expect` of `test_data/{name}` is `actual[i]` (or becomes it, when updating).
pub(crate) fn cases(name: &str, actual: Vec<Value>) {
    let mut file = json(name);
    let cases = file["cases"].as_array_mut().unwrap();
    assert_eq!(cases.len(), actual.len());
    if updating() {
        for (c, a) in cases.iter_mut().zip(actual) {
            c["expect"] = a;
        }
        let text = serde_json::to_string_pretty(&file).unwrap() + "\n";
        std::fs::write(path(name), text).unwrap();
        return;
    }
    for (c, a) in cases.iter().zip(actual) {
        assert!(
            c["expect"] == a,
            "test_data/{name}: {} differs (UPDATE_EXPECT=1 to accept):\n{}",
            c["what"],
            serde_json::to_string_pretty(&a).unwrap()
        );
    }
}
