//! The demo hospital: a believable synthetic hospital as FHIR R4 resources, generated from a seed.
//!
//! [`generate`] builds, for a [`Config`], one hospital Organization with wards and beds, staff,
//! about 150 inpatients with in-progress admissions and days of vital signs (a few of them
//! deteriorating), their labs since admission, allergies, medicines and resuscitation decisions, about 2,000 clinic patients with ten years of screening history (a few of them
//! transgender or nonbinary, screened by sex assigned at birth; some results patient-reported),
//! and about 60 patients on urgent suspected-cancer pathways at every stage (tagged with the
//! pathway files' event codes, with their navigators' assignments and a few allowed pauses),
//! the last of them a man with oesophageal adenocarcinoma whose first-line chemoradiation
//! failed and whose biomarkers were tested for second-line treatment. Several hundred clinic
//! and pathway patients answered the social-needs screening over the last year, a third of
//! them with a need; a demo directory of invented community organisations around Boston
//! (Open Referral HSDS 3.0, `data/community-directory.json`) takes the social worker's
//! referrals over the year: those of the last weeks stand at every status, two of its
//! partners with demo accounts ([`PARTNERS`]), and the older ones have ended, most with the
//! need met, so the year's social-needs figures are shown by group. Two years of past stays
//! fill every bed before its current patient (about one in ten with a NEWS2 alert, most
//! acknowledged by the deadline), and two years of safety reports (falls among
//! them, more often for patients who need an interpreter) give the quality office eight
//! quarters of nurse-sensitive indicators with a gap between groups to find.
//! [`Hospital::vitals_stream`] then keeps the wards alive: each [`VitalsStream::advance`]
//! returns the vital signs taken since the previous call.
//!
//! Architecture invariant: this crate is pure. It does no IO and never reads the clock, the
//! environment or a global random source; the seed and the time are arguments, and the same
//! arguments give byte-identical output.
//!
//! Ids are client-assigned and stable (`ward-3east`, `bed-3east-12`, `prac-004`, `pat-000123`,
//! `enc-000123`, `obs-000123-0007-rr`, ...), so the output loads with PUT; references are
//! `Type/id` and point at a resource earlier in [`Hospital::resources`], but for a community
//! referral's Consent, which names the ServiceRequest that follows it and cites it.
//!
//! Clinical sources: `clinical/early-warning.md` (NEWS2 monitoring frequency), `screening.md`
//! (screening codes and intervals), `pathways.md` (suspected-cancer milestones).

mod bedside_record;
mod clinic;
mod community;
mod demographics;
mod facility;
mod fhir;
mod hospital;
mod indicators;
mod inpatient_screenings;
mod inpatients;
mod names;
mod oesophageal;
mod problems;
mod random;
mod referrals;
mod safety_reports;
mod sepsis_episodes;
mod social_screenings;
mod stays;
mod tumour_boards;
mod vitals;

pub use crate::community::PARTNERS;
/// The demo hospital's own Organization: the sender of its referrals.
pub use facility::ORGANIZATION as HOSPITAL_ORGANIZATION;
pub use hospital::{generate, summary, Config, Hospital};
pub use safety_reports::REVIEWER_ID as SAFETY_REVIEWER;
pub use vitals::VitalsStream;
