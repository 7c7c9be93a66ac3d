//! The run's randomness (docs/sim.md §2): one ChaCha20 stream seeded from
//! the run's seed; nothing else in the simulator draws random numbers.

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

/// The RNG of a run with `seed`.
pub fn seeded(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// A uniform draw from `[0, 1)` with 53 random bits.
pub fn uniform(rng: &mut ChaCha20Rng) -> f64 {
    // 53 bits fit an f64 mantissa exactly.
    #[expect(
        clippy::cast_precision_loss,
        reason = "a 53-bit integer is exact in f64"
    )]
    let x = (rng.next_u64() >> 11) as f64;
    x / (1u64 << 53) as f64
}

/// An index drawn with probability proportional to `weights` (all finite,
/// at least 0, not all 0); `None` when every weight is 0.
pub fn weighted_index(rng: &mut ChaCha20Rng, weights: &[f64]) -> Option<usize> {
    let total: f64 = weights.iter().sum();
    if total <= 0.0 {
        return None;
    }
    let mut r = uniform(rng) * total;
    for (i, w) in weights.iter().enumerate() {
        if r < *w {
            return Some(i);
        }
        r -= w;
    }
    weights.iter().rposition(|w| *w > 0.0)
}

/// An exponential draw with mean `mean_ns`, in nanoseconds.
pub fn exponential_ns(rng: &mut ChaCha20Rng, mean_ns: u64) -> u64 {
    if mean_ns == 0 {
        return 0;
    }
    #[expect(clippy::cast_precision_loss, reason = "a mean in ns well below 2^53")]
    let mean = mean_ns as f64;
    let x = -mean * (1.0 - uniform(rng)).ln();
    // Finite and at least 0, since 1 - u is in (0, 1].
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "finite, non-negative; `as` saturates above u64::MAX"
    )]
    let ns = x.round() as u64;
    ns
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn draws_are_seeded_and_in_range() {
        let (mut a, mut b) = (seeded(3), seeded(3));
        for _ in 0..1000 {
            let x = uniform(&mut a);
            assert!((0.0..1.0).contains(&x));
            assert_eq!(x.to_bits(), uniform(&mut b).to_bits());
        }
        assert_eq!(weighted_index(&mut a, &[0.0, 2.0, 0.0]), Some(1));
        assert_eq!(weighted_index(&mut a, &[0.0, 0.0]), None);
        assert_eq!(exponential_ns(&mut a, 0), 0);
        let mean: u64 = (0..10_000)
            .map(|_| exponential_ns(&mut a, 1000))
            .sum::<u64>()
            / 10_000;
        assert!((900..1100).contains(&mean), "{mean}");
    }
}
