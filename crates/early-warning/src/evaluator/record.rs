//! The evaluator's reads of the record, as Tend: searches, the ward of an encounter, the
//! patient's SpO2 scale and birth date, and the caches that keep them.

use super::*;

impl EarlyWarning {
    /// Resources matching a search, as Tend (the system): every match, page by page,
    /// unless `_count` asks for only the first N (the newest N with a `_sort`).
    pub(crate) fn search(
        &self,
        rtype: &str,
        params: &[(&str, String)],
    ) -> Result<Vec<Value>, Error> {
        let q = query(rtype, params)?;
        let system = store::Access::system();
        let hits = if params.iter().any(|(k, _)| *k == "_count") {
            self.store.search(&system, &q)?.matches
        } else {
            store::search_all(&*self.store, &system, q)?
        };
        hits.into_iter()
            .map(|h| serde_json::from_str(&h.body).map_err(|e| Error::Invalid(e.to_string())))
            .collect()
    }

    pub(super) fn read(&self, rtype: &str, id: &str) -> Result<Option<Value>, Error> {
        Ok(self
            .store
            .read(&store::Access::system(), rtype, id)?
            .filter(|v| v.op != Op::Delete)
            .and_then(|v| body(&v)))
    }

    /// The ward (`Location/ID`) of an encounter: its active location of physical type
    /// ward, or the ward its bed or room is part of.
    pub fn ward_of(&self, encounter: &str) -> Option<String> {
        if let Some(w) = self.wards.lock().ok()?.get(encounter) {
            return w.clone();
        }
        let ward = self.resolve_ward(encounter);
        if let Ok(mut m) = self.wards.lock() {
            if m.len() > 100_000 {
                m.clear();
            }
            m.insert(encounter.to_string(), ward.clone());
        }
        ward
    }

    pub(super) fn resolve_ward(&self, encounter: &str) -> Option<String> {
        let (_, id) = encounter.split_once('/')?;
        let enc = self.read("Encounter", id).ok()??;
        let locations: Vec<&Value> = enc["location"]
            .as_array()?
            .iter()
            .filter(|l| l["status"].as_str().is_none_or(|s| s == "active"))
            .collect();
        let is_ward = |l: &Value| {
            l["physicalType"]["coding"]
                .as_array()
                .is_some_and(|c| c.iter().any(|x| x["code"] == "wa"))
        };
        if let Some(w) = locations.iter().find(|l| is_ward(l)) {
            return w["location"]["reference"].as_str().map(str::to_string);
        }
        let first = locations.first()?["location"]["reference"].as_str()?;
        let (_, lid) = first.split_once('/')?;
        let loc = self.read("Location", lid).ok()??;
        if is_ward(&loc) {
            return Some(first.to_string());
        }
        loc["partOf"]["reference"].as_str().map(str::to_string)
    }

    pub(super) fn cached_scale(&self, subject: &str, at_ms: i64) -> Result<Scale, Error> {
        if let Some(s) = self
            .scales
            .lock()
            .ok()
            .and_then(|m| m.get(subject).copied())
        {
            return Ok(s);
        }
        let s = self.scale_for(subject, at_ms)?;
        if let Ok(mut m) = self.scales.lock() {
            if m.len() > 100_000 {
                m.clear();
            }
            m.insert(subject.to_string(), s);
        }
        Ok(s)
    }

    pub(super) fn forget_goals(&self, subject: Option<&str>) {
        if let Ok(mut m) = self.scales.lock() {
            match subject {
                Some(s) => {
                    m.remove(s);
                }
                None => m.clear(),
            }
        }
    }

    /// The patient's birth date (`Patient.birthDate`, a full date), cached.
    pub(super) fn birth_date(&self, subject: &str) -> Result<Option<CivilDate>, Error> {
        if let Some(b) = self
            .births
            .lock()
            .ok()
            .and_then(|m| m.get(subject).copied())
        {
            return Ok(b);
        }
        let birth = match subject.split_once('/') {
            Some(("Patient", id)) => self
                .read("Patient", id)?
                .and_then(|p| p["birthDate"].as_str().and_then(CivilDate::parse)),
            _ => None,
        };
        if let Ok(mut m) = self.births.lock() {
            if m.len() > 100_000 {
                m.clear();
            }
            m.insert(subject.to_string(), birth);
        }
        Ok(birth)
    }

    pub(super) fn forget_patient(&self, subject: &str) {
        if let Ok(mut m) = self.births.lock() {
            m.remove(subject);
        }
    }

    pub(super) fn forget_encounter(&self, encounter: &str) {
        if let Ok(mut m) = self.wards.lock() {
            m.remove(encounter);
        }
    }

    /// Whether a Scale 2 prescription is in force for the patient: an active Goal whose
    /// target is SpO2 (59408-5 or 2708-6) 88–92 %, expressed by a Practitioner.
    pub(super) fn scale_for(&self, subject: &str, at_ms: i64) -> Result<Scale, Error> {
        let goals = self.search(
            "Goal",
            &[
                ("subject", subject.to_string()),
                ("lifecycle-status", "active".into()),
            ],
        )?;
        let scale2 = goals.iter().any(|g| {
            let by_clinician = g["expressedBy"]["reference"]
                .as_str()
                .is_some_and(|r| r.starts_with("Practitioner/"));
            let started = g["startDate"]
                .as_str()
                .and_then(ms)
                .is_none_or(|s| s <= at_ms);
            let target = g["target"].as_array().into_iter().flatten().any(|t| {
                let spo2 = t["measure"]["coding"].as_array().is_some_and(|c| {
                    c.iter().any(|x| {
                        x["system"] == observation::LOINC
                            && (x["code"] == "59408-5" || x["code"] == "2708-6")
                    })
                });
                let low = &t["detailRange"]["low"]["value"];
                let high = &t["detailRange"]["high"]["value"];
                spo2 && low.as_f64() == Some(88.0) && high.as_f64() == Some(92.0)
            });
            by_clinician && started && target
        });
        Ok(if scale2 { Scale::Two } else { Scale::One })
    }
}
