//! A measure's figures to take away: `/quality/measures/{id}/csv` (one row per unit and
//! month, and the hospital's, with counts and the rate) and `/quality/measures/{id}/fhir`
//! (its MeasureReports as a FHIR Bundle). Unit-level counts only, no patient: read with the
//! person's access like the pages.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::view::PageError;
use crate::{blocking, Web};

/// A CSV field, quoted when it needs to be; a leading `=`, `+`, `-` or `@` is neutralised so a
/// spreadsheet does not run it as a formula.
fn field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn download(body: String, content_type: &'static str, name: &str) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

pub(crate) async fn csv(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let user = crate::session::user(&auth, access::Permission::Measures)?;
    web.quality()?;
    let w = web.clone();
    let name = format!("{id}.csv");
    let body = blocking(move || {
        let i = w.indicator(&user, &id)?;
        let scale = i.measure.scale();
        let mut out = String::from(
            "measure,unit,unit_name,month,numerator,denominator,rate,rate_unit,status\r\n",
        );
        let mut line = |unit: &str, name: &str, p: &measure_reports::MonthPoint| {
            let rate = if p.denominator > 0 {
                format!("{:.3}", p.numerator as f64 / p.denominator as f64 * scale)
            } else {
                String::new()
            };
            out.push_str(
                &[
                    field(&i.measure.id),
                    field(unit),
                    field(name),
                    field(&p.month),
                    p.numerator.to_string(),
                    p.denominator.to_string(),
                    rate,
                    field(&i.measure.unit),
                    if p.pending { "running" } else { "complete" }.to_string(),
                ]
                .join(","),
            );
            out.push_str("\r\n");
        };
        for p in &i.hospital {
            line("", "Whole hospital", p);
        }
        for (u, months) in &i.units {
            for p in months {
                line(&u.id, &u.name, p);
            }
        }
        Ok::<_, PageError>(out)
    })
    .await?;
    Ok(download(body, "text/csv; charset=utf-8", &name))
}

pub(crate) async fn fhir(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let user = crate::session::user(&auth, access::Permission::Measures)?;
    web.quality()?;
    let w = web.clone();
    let name = format!("{id}-measure-reports.json");
    let body = blocking(move || {
        let i = w.indicator(&user, &id)?;
        let bundle = json!({
            "resourceType": "Bundle",
            "type": "collection",
            "total": i.reports.len(),
            "entry": i.reports.iter().map(|r| json!({
                "fullUrl": format!("MeasureReport/{}", r["id"].as_str().unwrap_or("")),
                "resource": r
            })).collect::<Vec<_>>()
        });
        Ok::<_, PageError>(bundle.to_string())
    })
    .await?;
    Ok(download(body, "application/fhir+json", &name))
}

#[cfg(test)]
mod tests {
    #[test]
    fn csv_fields_are_quoted_and_formulas_neutralised() {
        assert_eq!(super::field("Ward 3 East"), "Ward 3 East");
        assert_eq!(super::field("a, b"), "\"a, b\"");
        assert_eq!(super::field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(super::field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    }
}
