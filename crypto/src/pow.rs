//! The onion-service client puzzle (docs/spec.md §16.4): a proof of work
//! with Equi-X, after Tor's proposal 327 (hspow-spec v1), under Warren's own
//! label.
//!
//! A service under load publishes a 32-byte seed and a suggested effort
//! (POW_PARAMS, §11.1). A client that wants to be served first solves the
//! puzzle for the service's blinded key (§6) and the seed, at an effort of
//! its choice, and sends the [`PowSolution`] with its introduction. Solving
//! at effort `E` costs about `E` Equi-X solution tries; checking costs one
//! Equi-X verification and one SHA-256.
//!
//! Like the rest of this crate the module is pure: the starting nonce (which
//! the caller draws at random) and every other input come in as arguments.
//! Which effort is enough, and which nonces were already seen, is the
//! service's policy and not checked here.

use equix::{EquiX, Solution, SolverMemory};
use sha2::{Digest, Sha256};

use crate::error::CryptoError;

/// The label that starts every challenge (§16.4): exactly 16 bytes.
pub const POW_LABEL: &[u8; 16] = b"warren-hs-pow-v1";

/// The length of a challenge: label, blinded key, seed, nonce and effort.
pub const POW_CHALLENGE_LEN: usize = 16 + 32 + 32 + 16 + 4;

/// A solved client puzzle, as it travels in an introduction (§16.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PowSolution {
    /// The nonce the solution was found for.
    pub nonce: [u8; 16],
    /// The effort the client claims, and that the solution meets.
    pub effort: u32,
    /// The first 4 bytes of the seed the puzzle was solved for, so that a
    /// service can tell which of its current and previous seeds is meant.
    pub seed_head: [u8; 4],
    /// The Equi-X solution: its eight 16-bit items, each little-endian.
    pub solution: [u8; 16],
}

/// The challenge for one nonce (§16.4):
/// `POW_LABEL | blinded_key | seed | nonce | effort` (effort big-endian).
pub fn challenge(
    seed: &[u8; 32],
    blinded_key: &[u8; 32],
    nonce: &[u8; 16],
    effort: u32,
) -> [u8; POW_CHALLENGE_LEN] {
    let mut out = [0u8; POW_CHALLENGE_LEN];
    let effort = effort.to_be_bytes();
    let parts = POW_LABEL
        .iter()
        .chain(blinded_key)
        .chain(seed)
        .chain(nonce)
        .chain(&effort);
    for (o, b) in out.iter_mut().zip(parts) {
        *o = *b;
    }
    out
}

/// The effort check (§16.4): with
/// `R = u32::from_be_bytes(SHA-256(challenge | solution)[0..4])`, the
/// solution meets `effort` when `R * effort <= 2^32 - 1`.
fn meets_effort(challenge: &[u8; POW_CHALLENGE_LEN], solution: &[u8; 16], effort: u32) -> bool {
    let digest = Sha256::new()
        .chain_update(challenge)
        .chain_update(solution)
        .finalize();
    let Some(head) = digest.as_slice().first_chunk::<4>() else {
        return false;
    };
    let r = u32::from_be_bytes(*head);
    u64::from(r) * u64::from(effort) <= u64::from(u32::MAX)
}

/// The next nonce: the nonce as a little-endian 128-bit integer, plus one
/// (wrapping).
fn next_nonce(nonce: [u8; 16]) -> [u8; 16] {
    u128::from_le_bytes(nonce).wrapping_add(1).to_le_bytes()
}

/// The first 4 bytes of `seed`.
fn seed_head(seed: &[u8; 32]) -> [u8; 4] {
    let mut head = [0u8; 4];
    for (h, b) in head.iter_mut().zip(seed) {
        *h = *b;
    }
    head
}

/// Solves the puzzle of `seed` for `blinded_key` at `effort` (§16.4).
///
/// Starting from `nonce` (which the caller draws at random), each nonce in
/// turn, incremented as a little-endian 128-bit integer, gives a challenge;
/// every Equi-X solution of the challenge is tried against the effort check,
/// and the first that passes is returned. After `max_attempts` nonces
/// without one the answer is [`CryptoError::PowUnsolved`]. A nonce costs
/// one Equi-X solve and gives about two solutions, so effort `E` takes about
/// `E / 2` nonces on average.
pub fn solve(
    seed: &[u8; 32],
    blinded_key: &[u8; 32],
    effort: u32,
    nonce: [u8; 16],
    max_attempts: u64,
) -> Result<PowSolution, CryptoError> {
    let mut memory = SolverMemory::new();
    let mut nonce = nonce;
    for _ in 0..max_attempts {
        let challenge = challenge(seed, blinded_key, &nonce, effort);
        // A few challenges give no usable Equi-X instance; verifiers refuse
        // them, so such a nonce is skipped.
        if let Ok(equix) = EquiX::new(&challenge) {
            for candidate in equix.solve_with_memory(&mut memory) {
                let solution = candidate.to_bytes();
                if meets_effort(&challenge, &solution, effort) {
                    return Ok(PowSolution {
                        nonce,
                        effort,
                        seed_head: seed_head(seed),
                        solution,
                    });
                }
            }
        }
        nonce = next_nonce(nonce);
    }
    Err(CryptoError::PowUnsolved {
        attempts: max_attempts,
    })
}

/// Checks a solution against `seed` and `blinded_key` (§16.4): the seed
/// head matches the seed, the solution meets the effort it claims, and the
/// Equi-X solution solves the challenge. Any failure is
/// [`CryptoError::PowInvalid`]. It never panics.
///
/// The caller still decides whether `s.effort` is enough, and refuses a
/// nonce it has seen already with this seed.
pub fn verify(seed: &[u8; 32], blinded_key: &[u8; 32], s: &PowSolution) -> Result<(), CryptoError> {
    if s.seed_head != seed_head(seed) {
        return Err(CryptoError::PowInvalid {
            reason: "it was made for another seed (seed_head does not match); the \
                     client should fetch the service's descriptor again",
        });
    }
    let challenge = challenge(seed, blinded_key, &s.nonce, s.effort);
    if !meets_effort(&challenge, &s.solution, s.effort) {
        return Err(CryptoError::PowInvalid {
            reason: "it does not meet the effort it claims",
        });
    }
    let solution = Solution::try_from_bytes(&s.solution).map_err(|_| CryptoError::PowInvalid {
        reason: "the Equi-X solution is malformed (its items are out of order)",
    })?;
    EquiX::new(&challenge)
        .map_err(|_| CryptoError::PowInvalid {
            reason: "the nonce gives an unusable Equi-X challenge",
        })?
        .verify(&solution)
        .map_err(|_| CryptoError::PowInvalid {
            reason: "the Equi-X solution does not solve this challenge (wrong \
                     seed, blinded key, nonce or effort)",
        })
}

#[cfg(test)]
mod test {
    use super::*;
    use proptest::prelude::*;

    const SEED: [u8; 32] = [0x07; 32];
    const KEY: [u8; 32] = [0xde; 32];
    const NONCE: [u8; 16] = [0x5a; 16];

    fn is_invalid(r: Result<(), CryptoError>) -> bool {
        matches!(r, Err(CryptoError::PowInvalid { .. }))
    }

    #[test]
    fn label_and_challenge_layout() {
        assert_eq!(POW_LABEL.len(), 16);
        let c = challenge(&SEED, &KEY, &NONCE, 0x0102_0304);
        assert_eq!(c.len(), 100);
        assert_eq!(&c[..16], POW_LABEL);
        assert_eq!(c[16..48], KEY);
        assert_eq!(c[48..80], SEED);
        assert_eq!(c[80..96], NONCE);
        assert_eq!(c[96..], [1, 2, 3, 4]);
    }

    #[test]
    fn nonces_count_up_little_endian() {
        assert_eq!(next_nonce([0; 16])[..2], [1, 0]);
        let mut n = [0; 16];
        n[0] = 0xff;
        assert_eq!(next_nonce(n)[..2], [0, 1]);
        assert_eq!(next_nonce([0xff; 16]), [0; 16]);
    }

    #[test]
    fn solves_and_verifies_at_efforts_0_1_and_20() {
        for effort in [0, 1, 20] {
            let s = solve(&SEED, &KEY, effort, NONCE, 1_000).unwrap();
            assert_eq!(s.effort, effort);
            assert_eq!(s.seed_head, [0x07; 4]);
            verify(&SEED, &KEY, &s).unwrap();
        }
    }

    #[test]
    fn effort_check_bounds() {
        let c = challenge(&SEED, &KEY, &NONCE, 0);
        assert!(meets_effort(&c, &[0; 16], 0));
        assert!(meets_effort(&c, &[0; 16], 1));
        // Only R = 0 meets the greatest effort.
        let digest = Sha256::new()
            .chain_update(c)
            .chain_update([0; 16])
            .finalize();
        let r = u32::from_be_bytes(digest[..4].try_into().unwrap());
        assert_eq!(meets_effort(&c, &[0; 16], u32::MAX), r == 0);
    }

    #[test]
    fn refuses_what_was_altered() {
        let good = solve(&SEED, &KEY, 20, NONCE, 1_000).unwrap();
        for bit in 0..128 {
            let mut s = good;
            s.solution[bit / 8] ^= 1 << (bit % 8);
            assert!(is_invalid(verify(&SEED, &KEY, &s)), "bit {bit}");
        }
        let mut other_seed = SEED;
        other_seed[31] ^= 1;
        assert!(is_invalid(verify(&other_seed, &KEY, &good)));
        let mut other_key = KEY;
        other_key[0] ^= 1;
        assert!(is_invalid(verify(&SEED, &other_key, &good)));
        for effort in [21, 1_000, u32::MAX] {
            let raised = PowSolution { effort, ..good };
            assert!(is_invalid(verify(&SEED, &KEY, &raised)), "effort {effort}");
        }
        let other_nonce = PowSolution {
            nonce: next_nonce(good.nonce),
            ..good
        };
        assert!(is_invalid(verify(&SEED, &KEY, &other_nonce)));
        let wrong_head = PowSolution {
            seed_head: [0x07, 0x07, 0x07, 0x08],
            ..good
        };
        assert!(is_invalid(verify(&SEED, &KEY, &wrong_head)));
    }

    #[test]
    fn gives_up_after_max_attempts() {
        assert_eq!(
            solve(&SEED, &KEY, 1, NONCE, 0),
            Err(CryptoError::PowUnsolved { attempts: 0 })
        );
        assert_eq!(
            solve(&SEED, &KEY, u32::MAX, NONCE, 3),
            Err(CryptoError::PowUnsolved { attempts: 3 })
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn verify_never_panics(
            seed in any::<[u8; 32]>(),
            key in any::<[u8; 32]>(),
            nonce in any::<[u8; 16]>(),
            effort in any::<u32>(),
            head in any::<[u8; 4]>(),
            solution in any::<[u8; 16]>(),
            matching_head in any::<bool>(),
            low_effort in any::<bool>(),
        ) {
            let s = PowSolution {
                nonce,
                effort: if low_effort { effort % 2 } else { effort },
                seed_head: if matching_head { seed_head(&seed) } else { head },
                solution,
            };
            let _ = verify(&seed, &key, &s);
        }
    }
}
