//! Counter-based random numbers: every draw is a pure function of
//! `(seed, step, stream, index)`.
//!
//! A counter-based generator needs no state to carry between draws, so the
//! interpreter, the CPU JIT and the PTX back end can each compute the same
//! dropout mask element by element, in any order and on any number of
//! threads, and a run is reproducible from its seed alone.
//! The hash is four rounds of the splitmix64 finalizer (Steele, Lea and
//! Flood, 2014), one per number mixed in; it uses only 64-bit xor, shift,
//! add and multiply, which every back end has.
//!
//! [`Rng`] is a sequential generator built on the same hash, for the host:
//! parameter initialisation and data shuffling.

/// The splitmix64 increment (2^64 divided by the golden ratio).
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// One splitmix64 step: adds [`GAMMA`] and applies the finalizer.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(GAMMA);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The part of [`hash`] that does not depend on the index: a back end
/// computes it once per step and stream, then `mix(key ^ index)` per element.
pub fn stream_key(seed: u64, step: u64, stream: u32) -> u64 {
    let h = mix(seed);
    let h = mix(h ^ step);
    mix(h ^ u64::from(stream))
}

/// 64 well-mixed bits determined by the four numbers.
pub fn hash(seed: u64, step: u64, stream: u32, index: u64) -> u64 {
    mix(stream_key(seed, step, stream) ^ index)
}

/// A uniform number in `[0, 1)`: the top 24 bits of [`hash`] divided by
/// 2^24, so every value is exact in `f32` and 1.0 is never returned.
pub fn uniform(seed: u64, step: u64, stream: u32, index: u64) -> f32 {
    (hash(seed, step, stream, index) >> 40) as f32 * (1.0 / (1u32 << 24) as f32)
}

/// A sequential generator over [`hash`]: draw `n` is
/// `hash(seed, 0, stream, n)`.
///
/// The host stream used by [`Rng::new`] is `u32::MAX`; the graph's
/// [`Rand`](crate::graph::Op::Rand) nodes use small stream numbers, so host
/// draws and in-graph draws never coincide.
#[derive(Clone, Debug)]
pub struct Rng {
    seed: u64,
    stream: u32,
    counter: u64,
}

impl Rng {
    /// The host generator for `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng::with_stream(seed, u32::MAX)
    }

    /// A generator on an explicit stream, for independent host sequences
    /// from one seed (one for initialisation, one for shuffling, ...).
    pub fn with_stream(seed: u64, stream: u32) -> Rng {
        Rng { seed, stream, counter: 0 }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let r = hash(self.seed, 0, self.stream, self.counter);
        self.counter += 1;
        r
    }

    /// The next uniform number in `[0, 1)`, with 24 random bits.
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / (1u32 << 24) as f32)
    }

    /// A uniform number in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.next_f32()
    }

    /// A uniform integer in `0..n` (Lemire's multiply-shift; the bias is
    /// below `n / 2^64`).
    ///
    /// # Panics
    /// If `n` is zero.
    pub fn below(&mut self, n: usize) -> usize {
        assert!(n > 0, "internal error: Rng::below(0)");
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// A standard normal number (Box-Muller; one of the pair is used, so
    /// the draw count per call is always two).
    pub fn normal(&mut self) -> f32 {
        // 1 - u lies in (0, 1], so the logarithm is finite.
        let u1 = 1.0 - f64::from(self.next_f32());
        let u2 = f64::from(self.next_f32());
        ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
    }

    /// Shuffles `xs` in place (Fisher-Yates, from the back).
    pub fn shuffle(&mut self, xs: &mut [usize]) {
        for i in (1..xs.len()).rev() {
            let j = self.below(i + 1);
            xs.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_is_a_pure_function_in_range() {
        let mut sum = 0.0f64;
        for i in 0..10_000 {
            let u = uniform(42, 3, 1, i);
            assert!((0.0..1.0).contains(&u), "{u}");
            assert_eq!(u, uniform(42, 3, 1, i));
            sum += f64::from(u);
        }
        let mean = sum / 10_000.0;
        assert!((mean - 0.5).abs() < 0.01, "mean {mean}");
    }

    #[test]
    fn every_coordinate_changes_the_draw() {
        let base = uniform(1, 2, 3, 4);
        assert_ne!(base, uniform(0, 2, 3, 4));
        assert_ne!(base, uniform(1, 0, 3, 4));
        assert_ne!(base, uniform(1, 2, 0, 4));
        assert_ne!(base, uniform(1, 2, 3, 0));
    }

    #[test]
    fn sequential_draws_repeat_from_the_seed() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        for _ in 0..100 {
            assert_eq!(a.next_f32(), b.next_f32());
        }
        let mut c = Rng::new(8);
        let (x, y): (Vec<f32>, Vec<f32>) = (0..8).map(|_| (a.next_f32(), c.next_f32())).unzip();
        assert_ne!(x, y);
    }

    #[test]
    fn uniform_range_and_normal_moments() {
        let mut rng = Rng::new(1);
        for _ in 0..1000 {
            let u = rng.uniform(-2.0, 3.0);
            assert!((-2.0..3.0).contains(&u));
        }
        let n = 20_000;
        let xs: Vec<f64> = (0..n).map(|_| f64::from(rng.normal())).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.03, "mean {mean}");
        assert!((var - 1.0).abs() < 0.05, "var {var}");
        assert!(xs.iter().all(|x| x.is_finite()));
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut rng = Rng::new(3);
        let mut xs: Vec<usize> = (0..50).collect();
        rng.shuffle(&mut xs);
        assert_ne!(xs, (0..50).collect::<Vec<_>>());
        let mut sorted = xs.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
    }
}
