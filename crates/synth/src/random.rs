//! Deterministic randomness. Every part of the hospital draws from its own ChaCha8 stream, derived
//! from the seed, a label and an index, so the same seed always gives the same hospital and adding
//! clinic patients does not reshuffle the wards.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The random stream for `label` number `index` under `seed`.
pub(crate) fn rng(seed: u64, label: &str, index: u64) -> ChaCha8Rng {
    // FNV-1a over the label: stable across Rust releases, unlike `DefaultHasher`.
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in label.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    ChaCha8Rng::seed_from_u64(splitmix(splitmix(seed ^ h) ^ index))
}

fn splitmix(z: u64) -> u64 {
    let z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A normal deviate (Box–Muller).
pub(crate) fn normal(r: &mut impl Rng, mean: f64, sd: f64) -> f64 {
    let u1: f64 = r.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = r.random();
    mean + sd * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A normal deviate clamped to `[lo, hi]`.
pub(crate) fn normal_in(r: &mut impl Rng, mean: f64, sd: f64, lo: f64, hi: f64) -> f64 {
    normal(r, mean, sd).clamp(lo, hi)
}

pub(crate) fn uniform(r: &mut impl Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * r.random::<f64>()
}

/// A whole number in `lo..=hi`.
pub(crate) fn int(r: &mut impl Rng, lo: i64, hi: i64) -> i64 {
    r.random_range(lo..=hi)
}

pub(crate) fn chance(r: &mut impl Rng, p: f64) -> bool {
    r.random::<f64>() < p
}

pub(crate) fn pick<'a, T>(r: &mut impl Rng, items: &'a [T]) -> &'a T {
    &items[r.random_range(0..items.len())]
}

/// One of `items`, each drawn in proportion to its weight.
pub(crate) fn weighted<'a, T>(r: &mut impl Rng, items: &'a [(T, f64)]) -> &'a T {
    let total: f64 = items.iter().map(|(_, w)| w).sum();
    let mut x = r.random::<f64>() * total;
    for (item, w) in items {
        if x < *w {
            return item;
        }
        x -= w;
    }
    &items[items.len() - 1].0
}

/// An exponential deviate with the given mean.
pub(crate) fn exponential(r: &mut impl Rng, mean: f64) -> f64 {
    let u: f64 = r.random::<f64>().max(f64::MIN_POSITIVE);
    -mean * u.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_stable_and_distinct() {
        let a: u64 = rng(42, "x", 1).random();
        let b: u64 = rng(42, "x", 1).random();
        let c: u64 = rng(42, "x", 2).random();
        let d: u64 = rng(42, "y", 1).random();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }

    #[test]
    fn weighted_respects_weights() {
        let mut r = rng(1, "w", 0);
        let items = [("a", 9.0), ("b", 1.0)];
        let a = (0..10_000)
            .filter(|_| *weighted(&mut r, &items) == "a")
            .count();
        assert!((8_700..9_300).contains(&a), "{a}");
    }
}
