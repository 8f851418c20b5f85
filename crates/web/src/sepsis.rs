//! Suspected sepsis's first hour for one patient (`/patients/{id}/sepsis`): the latest score;
//! "could this be infection?" with the likely source when no suspicion is current; once
//! infection is suspected, each first-hour action (blood cultures, lactate, antibiotics,
//! intravenous fluids when indicated) with its deadline, late ones first, and a form to
//! record each as it is done; ruling infection out with a reason. The episode is judged from
//! the record as the signed-in person reaches it (`sepsis_watch::Sepsis::current`); recording is
//! [`crate::sepsis_record`].

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use pathways::{ClockState, ClockStatus};
use serde::Deserialize;
use serde_json::Value;

use crate::local::{Now, BACKDATE_MS};
use crate::view::{self, Nav, PageError};
use crate::{blocking, Web};

/// What the record forms hold (as typed when a form was refused).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct SepsisForm {
    #[serde(default)]
    pub(crate) csrf: String,
    /// `suspect`, `cultures`, `lactate`, `antibiotics`, `fluids` or `rule-out`.
    #[serde(default)]
    pub(crate) what: String,
    /// When (`datetime-local`, hospital time); empty: now.
    #[serde(default)]
    pub(crate) at: String,
    #[serde(default)]
    pub(crate) source: String,
    #[serde(default)]
    pub(crate) antibiotic: String,
    #[serde(default)]
    pub(crate) lactate: String,
    #[serde(default)]
    pub(crate) fluid: String,
    #[serde(default)]
    pub(crate) ml: String,
    #[serde(default)]
    pub(crate) reason: String,
    /// The suspicion ruled out (`Condition/ID`).
    #[serde(default)]
    pub(crate) condition: String,
}

/// One first-hour action as the page shows it.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    pub(crate) clock: String,
    pub(crate) name: &'static str,
    /// `late`, `due`, `waiting`, `done-late` or `done`: the order and the colour.
    pub(crate) state: &'static str,
    /// "Due by 11:10 · 23 min left", "Late: due by 11:10, 15 min ago", "Done 10:25, on time".
    pub(crate) status: String,
    /// What was done and by whom ("Piperacillin with tazobactam, by Nia Okafor").
    pub(crate) detail: String,
    /// Not done yet: the page offers its form.
    pub(crate) open: bool,
    /// The deadline (ms), to order lines of the same state; none: last.
    due_ms: i64,
}

/// The current suspicion.
#[derive(Debug, Clone)]
pub(crate) struct Suspicion {
    /// `Condition/ID`.
    pub(crate) condition: String,
    /// "10:10 by Nia Okafor".
    pub(crate) when: String,
    /// "Chest".
    pub(crate) source: String,
    /// "NEWS2 7 at 10:00", what started the clocks (empty: none yet).
    pub(crate) trigger: String,
}

/// An earlier suspicion of the last 30 days, in a line: "5 Dec 13:58: antibiotics 11 min
/// late; blood cultures, lactate and fluids on time".
#[derive(Debug, Clone)]
pub(crate) struct Earlier {
    pub(crate) when: String,
    pub(crate) summary: String,
    pub(crate) late: bool,
}

/// What became of an earlier episode's actions, in words.
fn earlier(e: &sepsis::Episode, now: Now) -> Earlier {
    let mut on_time = Vec::new();
    let mut late = Vec::new();
    let mut never = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for c in &e.evaluation.clocks {
        if !seen.insert(c.clock.clone()) || c.start.is_none() {
            continue;
        }
        let name = sepsis::shape::action_name(&c.clock).to_lowercase();
        match (c.status, c.stop, c.deadline) {
            (ClockStatus::Met, Some(_), _) => on_time.push(name),
            (_, Some(stop), Some(d)) => late.push(format!(
                "{name} {} late",
                view::duration((stop - d).num_milliseconds() + 60_000)
            )),
            _ => never.push(name),
        }
    }
    let mut parts = Vec::new();
    if !late.is_empty() {
        parts.push(late.join(", "));
    }
    if !never.is_empty() {
        parts.push(format!("not recorded: {}", never.join(", ")));
    }
    if !on_time.is_empty() {
        parts.push(format!("on time: {}", on_time.join(", ")));
    }
    if parts.is_empty() {
        parts.push("no clock started".into());
    }
    Earlier {
        when: now.zone.clock_ms(e.suspected.timestamp_millis(), now.ms),
        summary: parts.join("; "),
        late: !late.is_empty() || !never.is_empty(),
    }
}

#[derive(Template)]
#[template(path = "sepsis.html")]
pub(crate) struct SepsisPage {
    pub(crate) nav: Nav,
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) bed: String,
    /// "NEWS2 7 (high) at 10:00", or empty with no score yet.
    pub(crate) score: String,
    /// The latest score is 5 or more (or a child's high or emergency PEWS).
    pub(crate) raised: bool,
    pub(crate) suspicion: Option<Suspicion>,
    pub(crate) lines: Vec<Line>,
    pub(crate) earlier: Vec<Earlier>,
    pub(crate) sources: Vec<(&'static str, &'static str)>,
    pub(crate) antibiotics: Vec<(String, String)>,
    pub(crate) fluids: Vec<(&'static str, &'static str)>,
    pub(crate) volumes: Vec<u32>,
    pub(crate) now_input: String,
    pub(crate) min_input: String,
    pub(crate) may_record: bool,
    pub(crate) notice: Option<String>,
    pub(crate) errors: Vec<String>,
    pub(crate) form: SepsisForm,
}

impl SepsisPage {
    /// The time field's value: as typed after a refusal, else now.
    fn at_value(&self) -> &str {
        if self.form.at.is_empty() {
            &self.now_input
        } else {
            &self.form.at
        }
    }
}

/// What the page needs from the record, read as the signed-in person.
pub(crate) struct Loaded {
    pub(crate) name: String,
    pub(crate) bed: String,
    pub(crate) encounter: Option<String>,
    pub(crate) score: String,
    pub(crate) raised: bool,
    pub(crate) suspicion: Option<Suspicion>,
    pub(crate) lines: Vec<Line>,
    pub(crate) earlier: Vec<Earlier>,
}

fn practitioner_name(store: &dyn store::Store, access: &store::Access, r: Option<&str>) -> String {
    r.and_then(|r| r.strip_prefix("Practitioner/"))
        .and_then(|id| view::read(store, access, "Practitioner", id))
        .map(|p| view::name(&p))
        .filter(|n| !n.is_empty())
        .map(|n| format!(" by {n}"))
        .unwrap_or_default()
}

/// What a completing record says: the drug, the value, the volume.
fn what_was_done(r: &Value) -> String {
    match r["resourceType"].as_str() {
        Some("MedicationAdministration") => {
            let drug = r["medicationCodeableConcept"]["text"]
                .as_str()
                .or_else(|| r["medicationCodeableConcept"]["coding"][0]["display"].as_str())
                .unwrap_or("Given");
            match r["dosage"]["text"].as_str() {
                Some(d) => format!("{drug}, {d}"),
                None => drug.to_string(),
            }
        }
        Some("Observation") => match r["valueQuantity"]["value"].as_f64() {
            Some(v) => format!(
                "{v} {}",
                r["valueQuantity"]["unit"].as_str().unwrap_or("mmol/L")
            ),
            None => String::new(),
        },
        _ => String::new(),
    }
}

/// What an action waits for before its clock starts, in plain words.
fn waiting_for(clock: &str) -> &'static str {
    if clock == "fluids-within-hour" {
        "Needed if lactate is over 4 mmol/L or systolic pressure is under 90 mmHg"
    } else {
        "Starts when a NEWS2 of 5 or more (or a child's high PEWS) is recorded"
    }
}

/// One clock as a line, at `now`.
fn line(
    store: &dyn store::Store,
    access: &store::Access,
    e: &sepsis::Episode,
    c: &ClockState,
    now: Now,
) -> Line {
    let name = sepsis::shape::action_name(&c.clock);
    let clock_ms =
        |t: chrono::DateTime<chrono::FixedOffset>| now.zone.clock_ms(t.timestamp_millis(), now.ms);
    let done_by = |stop_event: Option<&str>| {
        let Some(r) = stop_event else {
            return String::new();
        };
        let who = e
            .evaluation
            .milestones
            .iter()
            .flat_map(|m| m.done.iter())
            .find(|d| d.event == r)
            .and_then(|d| d.recorded_by.clone());
        let (rtype, id) = r.split_once('/').unwrap_or_default();
        let what = view::read(store, access, rtype, id)
            .map(|x| what_was_done(&x))
            .unwrap_or_default();
        format!("{what}{}", practitioner_name(store, access, who.as_deref()))
            .trim()
            .to_string()
    };
    let (state, status, detail, open) = match (c.status, c.stop, c.deadline) {
        (ClockStatus::Met, Some(stop), _) => (
            "done",
            format!("Done {}, on time", clock_ms(stop)),
            done_by(c.stop_event.as_deref()),
            false,
        ),
        (ClockStatus::Breached, Some(stop), Some(d)) => (
            "done-late",
            format!(
                "Done {}, {} late",
                clock_ms(stop),
                view::duration((stop - d).num_milliseconds() + 60_000)
            ),
            done_by(c.stop_event.as_deref()),
            false,
        ),
        (ClockStatus::Running | ClockStatus::Breached, None, Some(d)) => {
            let by = d - chrono::Duration::minutes(1);
            let left = (d.timestamp_millis() - now.ms).max(0);
            if now.ms >= d.timestamp_millis() {
                (
                    "late",
                    format!(
                        "Late: was due by {}, {} ago",
                        clock_ms(by),
                        view::duration(now.ms - by.timestamp_millis())
                    ),
                    String::new(),
                    true,
                )
            } else {
                (
                    "due",
                    format!("Due by {} · {} left", clock_ms(by), view::duration(left)),
                    String::new(),
                    true,
                )
            }
        }
        _ => (
            "waiting",
            waiting_for(&c.clock).to_string(),
            String::new(),
            true,
        ),
    };
    Line {
        clock: c.clock.clone(),
        name,
        state,
        status,
        detail,
        open,
        due_ms: c.deadline.map_or(i64::MAX, |d| d.timestamp_millis()),
    }
}

fn rank(state: &str) -> u8 {
    match state {
        "late" => 0,
        "due" => 1,
        "waiting" => 2,
        "done-late" => 3,
        _ => 4,
    }
}

/// The patient, their latest score and their current first hour, as `access` reaches them.
pub(crate) fn load(
    sepsis: &sepsis_watch::Sepsis,
    access: &store::Access,
    id: &str,
    now: Now,
) -> Result<Loaded, PageError> {
    let store = sepsis.store();
    let patient = view::patient(&**store, access, id)?;
    let subject = format!("Patient/{id}");
    let stay = view::search(
        &**store,
        access,
        "Encounter",
        &[
            ("subject", subject.clone()),
            ("status", "in-progress".into()),
            ("_count", "1".into()),
        ],
    )?;
    let latest = view::early_warning_scores(&**store, access, &subject, 1, 0)?
        .into_iter()
        .next();
    let summary = latest.as_ref().and_then(early_warning::score::summary);
    let (score, raised) = match &summary {
        Some(s) => (
            format!(
                "{} {} ({}) at {}",
                s.score_name(),
                s.total
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| format!("at least {}", s.partial_total)),
                view::band_label(&s.band).to_lowercase(),
                now.clock(&s.effective)
            ),
            matches!(s.band.as_str(), "medium" | "high" | "emergency"),
        ),
        None => (String::new(), false),
    };
    let mut episodes = sepsis.episodes(access, id).map_err(view::store_error)?;
    let at = chrono::DateTime::from_timestamp_millis(now.ms).unwrap_or_default();
    let episode = episodes
        .last()
        .filter(|e| e.current(at.fixed_offset()))
        .cloned();
    if episode.is_some() {
        episodes.pop();
    }
    let earlier: Vec<Earlier> = episodes.iter().rev().map(|e| earlier(e, now)).collect();
    let mut lines = Vec::new();
    let mut suspicion = None;
    if let Some(e) = &episode {
        let mut seen = std::collections::BTreeSet::new();
        for c in &e.evaluation.clocks {
            if seen.insert(c.clock.clone()) {
                lines.push(line(&**store, access, e, c, now));
            }
        }
        lines.sort_by_key(|l| (rank(l.state), l.due_ms));
        let (rtype, cid) = e.anchor.split_once('/').unwrap_or_default();
        let condition = view::read(&**store, access, rtype, cid).unwrap_or_default();
        let trigger = e
            .evaluation
            .clocks
            .iter()
            .filter_map(|c| c.start_event.as_deref())
            .find(|r| r.starts_with("Observation/"))
            .and_then(|r| view::read(&**store, access, "Observation", &r["Observation/".len()..]))
            .and_then(|o| {
                let s = early_warning::score::summary(&o)?;
                Some(format!(
                    "{} {} at {}",
                    s.score_name(),
                    s.total.map(|t| t.to_string()).unwrap_or_default(),
                    now.clock(&s.effective)
                ))
            })
            .unwrap_or_default();
        suspicion = Some(Suspicion {
            condition: e.anchor.clone(),
            when: format!(
                "{}{}",
                now.zone.clock_ms(e.suspected.timestamp_millis(), now.ms),
                practitioner_name(
                    &**store,
                    access,
                    condition["recorder"]["reference"].as_str()
                )
            ),
            source: condition["note"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| n["text"].as_str())
                .find_map(|t| t.strip_prefix("Likely source: "))
                .unwrap_or("Not recorded")
                .to_string(),
            trigger,
        });
    }
    Ok(Loaded {
        name: view::name(&patient),
        bed: stay
            .first()
            .and_then(|e| early_warning::bed_of(e).1)
            .unwrap_or_default(),
        encounter: stay
            .first()
            .and_then(|e| e["id"].as_str())
            .map(|i| format!("Encounter/{i}")),
        score,
        raised,
        suspicion,
        lines,
        earlier,
    })
}

/// Around the record: a notice after a save, or the errors and what was typed after a
/// refusal.
#[derive(Debug, Default)]
pub(crate) struct Shown {
    pub(crate) notice: Option<String>,
    pub(crate) errors: Vec<String>,
    pub(crate) form: SepsisForm,
}

/// The page, from what was loaded.
pub(crate) fn page(
    web: &Web,
    user: &crate::User,
    id: &str,
    l: Loaded,
    now: Now,
    shown: Shown,
) -> SepsisPage {
    SepsisPage {
        nav: Nav::new(user, "chart", web.config.zone),
        id: id.to_string(),
        name: l.name,
        bed: l.bed,
        score: l.score,
        raised: l.raised,
        suspicion: l.suspicion,
        lines: l.lines,
        earlier: l.earlier,
        sources: sepsis::Source::ALL
            .iter()
            .map(|s| (s.code(), s.display()))
            .collect(),
        antibiotics: sepsis::Antibiotic::all()
            .iter()
            .map(|a| (a.key.clone(), a.name.clone()))
            .collect(),
        fluids: sepsis::Fluid::ALL
            .iter()
            .map(|f| (f.code(), f.display()))
            .collect(),
        volumes: sepsis::record::BOLUS_ML.to_vec(),
        now_input: web.config.zone.input_value(now.ms),
        min_input: web.config.zone.input_value(now.ms - BACKDATE_MS),
        may_record: user.may(access::Permission::RecordWrite),
        notice: shown.notice,
        errors: shown.errors,
        form: shown.form,
    }
}

/// A patient's first hour in a few words, for the board and the alert inbox.
#[derive(Debug, Clone)]
pub(crate) struct Cell {
    /// "Sepsis: antibiotics late", "Sepsis: blood cultures due by 11:10", "Sepsis: first
    /// hour done".
    pub(crate) text: String,
    pub(crate) late: bool,
}

/// The cell of each patient (`Patient/ID`) with first-hour actions begun in the last day,
/// among those `access` reaches (or of `patient` alone).
pub(crate) fn cells(
    sepsis: &sepsis_watch::Sepsis,
    access: &store::Access,
    patient: Option<&str>,
    now: Now,
) -> Result<std::collections::HashMap<String, Cell>, PageError> {
    let at = sepsis.now();
    let since = at - chrono::Duration::hours(sepsis::episode::EPISODE_HOURS);
    let actions = sepsis
        .actions(access, patient, since)
        .map_err(view::store_error)?;
    let mut by: std::collections::HashMap<String, Vec<&sepsis::Action>> = Default::default();
    for a in &actions {
        by.entry(format!("Patient/{}", a.patient))
            .or_default()
            .push(a);
    }
    Ok(by
        .into_iter()
        .filter_map(|(p, list)| {
            let s = sepsis::shape::Summary::of(&list, at)?;
            let lower = |n: &str| n.to_lowercase();
            let cell = if !s.late.is_empty() {
                Cell {
                    text: format!(
                        "Sepsis: {} late",
                        s.late
                            .iter()
                            .map(|n| lower(n))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    late: true,
                }
            } else if let Some((name, by)) = s.next {
                Cell {
                    text: format!(
                        "Sepsis: {} due by {}",
                        lower(name),
                        now.zone.clock_ms(by.timestamp_millis(), now.ms)
                    ),
                    late: false,
                }
            } else {
                Cell {
                    text: "Sepsis: first hour done".into(),
                    late: false,
                }
            };
            Some((p, cell))
        })
        .collect())
}

pub(crate) fn service(web: &Web) -> Result<std::sync::Arc<sepsis_watch::Sepsis>, PageError> {
    web.config.sepsis.clone().ok_or_else(|| {
        view::error_page(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "Sepsis tracking is not running on this server.",
        )
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct SepsisQuery {
    done: Option<String>,
}

pub(crate) async fn show(
    State(web): State<Web>,
    auth: crate::session::AuthExt,
    Path(id): Path<String>,
    Query(q): Query<SepsisQuery>,
) -> Result<Response, PageError> {
    let user = crate::session::user(&auth, access::Permission::ChartRead)?;
    crate::chart::reach(&web, &user, &id).await?;
    let sepsis = service(&web)?;
    let notice = web.notice(&user, q.done);
    let (w, u, pid) = (web.clone(), user.clone(), id.clone());
    let (loaded, now) = blocking(move || {
        let access = w.access(&u)?;
        let now = Now::new(sepsis.now().timestamp_millis(), w.config.zone);
        Ok((load(&sepsis, &access, &pid, now)?, now))
    })
    .await?;
    let seen = server::Seen(vec![format!("Patient/{id}")]);
    Ok(view::with_seen(
        view::render(&page(
            &web,
            &user,
            &id,
            loaded,
            now,
            Shown {
                notice,
                ..Default::default()
            },
        )),
        seen,
    ))
}
