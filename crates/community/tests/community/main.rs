//! The crate's tests from `test_data/`: the HSDS directory read, searched and written as FHIR;
//! referrals made, moved under the transition table and read back. Expectations beside the
//! data; `UPDATE_EXPECT=1 cargo test -p community` rewrites the ones marked so (review the
//! change).

mod directory;
mod expect;
mod referral;
mod report;
mod shape;
