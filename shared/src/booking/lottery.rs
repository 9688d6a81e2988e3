//! The pre-queue's draw. Everyone who joined between the queue's opening and the sale's draws a
//! number as usual; at the opening, the tick draws one random seed, and the pre-queue's numbers
//! are admitted in the order of a keyed permutation of that seed, not in the order they came.
//!
//! Why a permutation and not a shuffle: a million pre-queued fans cannot be shuffled in one
//! transaction, and writing each fan's rank would be a million writes at the busiest minute.
//! The permutation is a function: from the seed and the pre-queue's size, anyone computes any
//! fan's rank (a poll, for its position) and the fan at any rank (the tick, for whom to admit
//! next), and the state keeps 24 bytes. It is a balanced Feistel network over the smallest power
//! of four that holds the size, walked in cycles until it lands inside the size: a bijection of
//! `0..size` that no arrival order can predict.

/// Rounds of the network; four already mix well, eight leave no visible pattern.
const ROUNDS: u64 = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lottery {
    seed: u64,
    size: u64,
    /// Bits of each half of the network's domain.
    half_bits: u32,
}

impl Lottery {
    pub fn new(seed: u64, size: u64) -> Self {
        let mut half_bits = 1;
        while half_bits < 32 && (1u64 << (2 * half_bits)) < size {
            half_bits += 1;
        }
        Self {
            seed,
            size,
            half_bits,
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The 0-based place in the draw of the pre-queue's number `ordinal`.
    pub fn rank(&self, ordinal: u64) -> u64 {
        debug_assert!(ordinal < self.size);
        let mut x = self.forward(ordinal);
        while x >= self.size {
            x = self.forward(x);
        }
        x
    }

    /// The pre-queue's number drawn at place `rank`.
    pub fn ordinal(&self, rank: u64) -> u64 {
        debug_assert!(rank < self.size);
        let mut x = self.backward(rank);
        while x >= self.size {
            x = self.backward(x);
        }
        x
    }

    fn mask(&self) -> u64 {
        (1u64 << self.half_bits) - 1
    }

    fn round_key(&self, round: u64, half: u64) -> u64 {
        splitmix(self.seed ^ splitmix(round.wrapping_mul(0x9e37_79b9) ^ half)) & self.mask()
    }

    fn forward(&self, x: u64) -> u64 {
        let (mut left, mut right) = (x >> self.half_bits, x & self.mask());
        for round in 0..ROUNDS {
            (left, right) = (right, left ^ self.round_key(round, right));
        }
        (left << self.half_bits) | right
    }

    fn backward(&self, x: u64) -> u64 {
        let (mut left, mut right) = (x >> self.half_bits, x & self.mask());
        for round in (0..ROUNDS).rev() {
            (left, right) = (right ^ self.round_key(round, left), left);
        }
        (left << self.half_bits) | right
    }
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_draw_is_a_permutation_and_its_own_inverse() {
        for size in [1, 2, 3, 7, 64, 1_000, 4_097] {
            let lottery = Lottery::new(42, size);
            let mut seen = vec![false; size as usize];
            for ordinal in 0..size {
                let rank = lottery.rank(ordinal);
                assert!(
                    !seen[rank as usize],
                    "rank {rank} drawn twice at size {size}"
                );
                seen[rank as usize] = true;
                assert_eq!(lottery.ordinal(rank), ordinal);
            }
        }
    }

    #[test]
    fn arriving_early_gives_no_edge() {
        let n = 20_000u64;
        let lottery = Lottery::new(7, n);
        // Spearman's rank correlation between arrival and draw.
        let mean = (n as f64 - 1.0) / 2.0;
        let (mut cov, mut var) = (0.0, 0.0);
        for ordinal in 0..n {
            let (a, b) = (ordinal as f64 - mean, lottery.rank(ordinal) as f64 - mean);
            cov += a * b;
            var += a * a;
        }
        assert!((cov / var).abs() < 0.02, "correlation {}", cov / var);
        let in_place = (0..n).filter(|o| lottery.rank(*o) == *o).count();
        assert!(in_place < 10, "{in_place} fans kept their arrival place");
        assert_ne!(Lottery::new(8, n).rank(0), lottery.rank(0));
    }
}
