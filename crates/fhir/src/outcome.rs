//! OperationOutcome, the resource every error is reported as
//! (<https://hl7.org/fhir/R4/operationoutcome.html>).

use serde_json::{json, Value};

/// `OperationOutcome.issue.severity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueSeverity {
    Fatal,
    Error,
    Warning,
    Information,
}

impl IssueSeverity {
    pub fn as_str(self) -> &'static str {
        match self {
            IssueSeverity::Fatal => "fatal",
            IssueSeverity::Error => "error",
            IssueSeverity::Warning => "warning",
            IssueSeverity::Information => "information",
        }
    }
}

/// One issue: severity, the `issue.code` (IssueType value set), a human-readable text,
/// and where it is (FHIRPath expression or parameter name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeIssue {
    pub severity: IssueSeverity,
    pub code: &'static str,
    pub diagnostics: String,
    pub expression: Option<String>,
}

/// Build an OperationOutcome resource from issues.
pub fn operation_outcome(issues: &[OutcomeIssue]) -> Value {
    let issues: Vec<Value> = issues
        .iter()
        .map(|i| {
            let mut v = json!({
                "severity": i.severity.as_str(),
                "code": i.code,
                "diagnostics": i.diagnostics,
            });
            if let Some(e) = &i.expression {
                v["expression"] = json!([e]);
            }
            v
        })
        .collect();
    json!({ "resourceType": "OperationOutcome", "issue": issues })
}

/// Issues of a validation result, as OperationOutcome issues.
pub fn from_validation(issues: &[crate::validation::Issue]) -> Vec<OutcomeIssue> {
    issues
        .iter()
        .map(|i| OutcomeIssue {
            severity: match i.severity {
                crate::validation::Severity::Error => IssueSeverity::Error,
                crate::validation::Severity::Warning => IssueSeverity::Warning,
            },
            code: i.code.as_str(),
            diagnostics: i.message.clone(),
            expression: Some(i.expression.clone()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_names_location() {
        let o = operation_outcome(&[OutcomeIssue {
            severity: IssueSeverity::Error,
            code: "value",
            diagnostics: "bad".into(),
            expression: Some("Patient.birthDate".into()),
        }]);
        assert_eq!(o["issue"][0]["expression"][0], "Patient.birthDate");
        assert_eq!(o["resourceType"], "OperationOutcome");
    }
}
