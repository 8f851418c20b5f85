//! `cargo bench -p navigation`: clock recomputation for N patients on pathways (target:
//! 100,000 in at most 10 s) and the worklist of 5,000 active pathways (target: p99 under
//! 200 ms), and the reports page's breaches with their longest delay over those 5,000.
//! Patients are built in memory and loaded through the store like any record.
//!
//! `NAV_BENCH_PATIENTS` (default 100000) and `NAV_BENCH_WORKLIST` (default 5000) size the
//! runs.

fn main() {
    let n: usize = std::env::var("NAV_BENCH_PATIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let w: usize = std::env::var("NAV_BENCH_WORKLIST")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    let r = navigation::bench::run(n, w);
    println!("{r}");
}
