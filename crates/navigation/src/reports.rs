//! Compliance with each pathway standard per month, stratified, from the cases the service
//! keeps (`pathways::report` counts; this module says what each stopped clock is and writes
//! the MeasureReports). Written at the population run and when the date changes; a report is
//! rewritten only when what it says changed.

use pathways::report::{self, Line, Stopped};
use pathways::ClockStatus;
use serde_json::Value;
use store::{Access, Entry, Mode, WriteOp};

use crate::service::Navigation;
use crate::Error;

/// Years between a birth date and a day.
fn age(birth: chrono::NaiveDate, on: chrono::NaiveDate) -> i64 {
    on.years_since(birth).map(i64::from).unwrap_or(0)
}

impl Navigation {
    /// Every stopped clock of every case, as the reports count them.
    pub fn stopped(&self) -> Vec<Stopped> {
        let mut out = Vec::new();
        for case in self.cases() {
            let p = &case.person;
            for ep in &case.episodes {
                for c in &ep.evaluation.clocks {
                    let (Some(stop), true) = (
                        c.stop,
                        matches!(c.status, ClockStatus::Met | ClockStatus::Breached),
                    ) else {
                        continue;
                    };
                    let day = stop.date_naive();
                    let mut strata = vec![
                        (
                            "tumour-site".to_string(),
                            case.site.clone().unwrap_or_else(|| "Not known".into()),
                        ),
                        (
                            "race".into(),
                            p.race.clone().unwrap_or_else(|| "Not recorded".into()),
                        ),
                        (
                            "ethnicity".into(),
                            p.ethnicity.clone().unwrap_or_else(|| "Not recorded".into()),
                        ),
                        (
                            "language".into(),
                            p.language.clone().unwrap_or_else(|| "English".into()),
                        ),
                        (
                            "interpreter".into(),
                            if p.interpreter { "Yes" } else { "No" }.into(),
                        ),
                        (
                            "sex".into(),
                            match p.gender.as_deref() {
                                Some("female") => "Female",
                                Some("male") => "Male",
                                Some(_) => "Other",
                                None => "Not recorded",
                            }
                            .into(),
                        ),
                    ];
                    if let Some(b) = p.birth_date {
                        strata.push(("age-band".into(), report::age_band(age(b, day)).into()));
                    }
                    out.push(Stopped {
                        pathway: ep.pathway.clone(),
                        clock: c.clock.clone(),
                        name: c.name.clone(),
                        month: day.format("%Y-%m").to_string(),
                        met: c.status == ClockStatus::Met,
                        elapsed: c.elapsed,
                        unit: c.unit,
                        standard_percent: c.standard_percent,
                        strata,
                    });
                }
            }
        }
        out
    }

    /// Compliance per standard and month (newest month first within a standard).
    pub fn compliance(&self) -> Vec<Line> {
        report::compliance(&self.stopped())
    }

    /// Write the MeasureReports that changed; returns how many.
    pub(crate) fn write_reports(&self) -> Result<usize, Error> {
        let system = Access::system();
        let mut entries = Vec::new();
        for line in self.compliance() {
            let want = report::measure_report(&line);
            let id = report::report_id(&line);
            let have = self
                .store
                .read(&system, "MeasureReport", &id)?
                .and_then(|v| v.body)
                .and_then(|b| serde_json::from_str::<Value>(&b).ok());
            let same = have.is_some_and(|mut h| {
                if let Some(o) = h.as_object_mut() {
                    o.remove("meta");
                }
                let mut w = want.clone();
                if let Some(o) = w.as_object_mut() {
                    o.remove("meta");
                }
                h == w
            });
            if !same {
                entries.push(Entry {
                    full_url: None,
                    op: WriteOp::Update {
                        rtype: "MeasureReport".into(),
                        id,
                        resource: want,
                        if_match: None,
                    },
                });
            }
        }
        let n = entries.len();
        if n > 0 {
            for r in self.store.write(&system, entries, Mode::Independent)? {
                r?;
            }
        }
        Ok(n)
    }
}
