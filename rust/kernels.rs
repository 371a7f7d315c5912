//! The inner kernel of the exhaustive search: the scores of a group of
//! `GROUP` cells against a block of `LANES` tiles, and which of them beat each
//! cell's current worst match.
//!
//! The distance is expanded as `|a - b|^2 = |a|^2 + (|b|^2 - 2 a.b)`; the
//! kernel computes the *score* `|b|^2 - 2 a.b` exactly in `i32`. Tiles are
//! stored interleaved so that one vector register holds the same pair of
//! descriptor values for all `LANES` tiles of a block: a multiply-add of
//! 16-bit pairs (`vpdpwssd` with AVX-512 VNNI, `vpmaddwd` with AVX2) then
//! accumulates `LANES` dot products at once, with no horizontal sums. SSE2's
//! `pmaddwd`, on every x86-64 CPU, does the same on a quarter of a block at a time.
//!
//! Cost per call: `pairs * GROUP` vector multiply-adds of `LANES` lanes each,
//! for `pairs * GROUP * LANES * 2` multiply-adds of the scalar formulation.
//!
//! The kernel is chosen at run time: the fastest the CPU supports, or the one
//! the environment variable `MOSAICFAST_KERNEL` names (read once per process),
//! so every path can be tested and timed on one machine. Only the AVX2 and
//! AVX-512 functions of `mod x86` hold instructions beyond SSE2; the rest of
//! the crate, the SSE2 kernel included, is built for the baseline x86-64.

use std::sync::OnceLock;

use crate::error::{CoreError, CoreResult};

/// Tiles per block: one AVX-512 register of `i32` lanes.
pub const LANES: usize = 16;
/// Cells scored together, so each loaded tile vector is used `GROUP` times.
pub const GROUP: usize = 4;

/// Scores of a group of cells against one block; row `c` belongs to cell `c`.
pub type Scores = [[i32; LANES]; GROUP];

/// The environment variable that forces a kernel by name (unset or empty: the
/// fastest this CPU supports).
pub const KERNEL_VAR: &str = "MOSAICFAST_KERNEL";

/// The names of every kernel, slowest first, whether or not this CPU runs them.
pub const KERNEL_NAMES: [&str; 4] = ["portable", "sse2", "avx2", "avx512-vnni"];

/// The instruction set a kernel runs on. Values other than `Portable` are
/// only made by [`Simd::detect`] and [`Simd::available`], after checking
/// that the CPU supports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Simd(Isa);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Isa {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Sse2,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512Vnni,
}

impl Simd {
    /// The fastest kernel this CPU supports.
    pub fn detect() -> Simd {
        *Simd::available().last().unwrap_or(&Simd(Isa::Portable))
    }

    /// Every kernel this CPU supports, slowest first.
    pub fn available() -> Vec<Simd> {
        let mut found = vec![Simd(Isa::Portable)];
        #[cfg(target_arch = "x86_64")]
        {
            // Every x86-64 CPU has SSE2: it is part of the baseline the crate targets.
            found.push(Simd(Isa::Sse2));
            if std::arch::is_x86_feature_detected!("avx2") {
                found.push(Simd(Isa::Avx2));
            }
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512vnni")
            {
                found.push(Simd(Isa::Avx512Vnni));
            }
        }
        found
    }

    /// The kernel searches run on: the one named by `MOSAICFAST_KERNEL`, or
    /// the fastest this CPU supports when it is unset or empty. The variable
    /// is read once per process; a name this CPU cannot run is an error.
    pub fn chosen() -> CoreResult<Simd> {
        static CHOSEN: OnceLock<Result<Simd, String>> = OnceLock::new();
        let chosen = CHOSEN.get_or_init(|| match std::env::var(KERNEL_VAR) {
            Err(std::env::VarError::NotPresent) => Ok(Simd::detect()),
            Err(std::env::VarError::NotUnicode(_)) => Err(format!("{KERNEL_VAR} is not UTF-8")),
            Ok(name) if name.is_empty() => Ok(Simd::detect()),
            Ok(name) => {
                Simd::pick(&name, &Simd::available()).map_err(|why| format!("{KERNEL_VAR}: {why}"))
            }
        });
        chosen.clone().map_err(CoreError::Argument)
    }

    /// The kernel called `name` if given (one of [`KERNEL_NAMES`], and this
    /// CPU must support it), else [`Simd::chosen`].
    pub fn requested(name: Option<&str>) -> CoreResult<Simd> {
        match name {
            None => Simd::chosen(),
            Some(name) => Simd::pick(name, &Simd::available())
                .map_err(|why| CoreError::Argument(format!("kernel: {why}"))),
        }
    }

    /// The kernel called `name` among `available`, or why there is none.
    fn pick(name: &str, available: &[Simd]) -> Result<Simd, String> {
        if let Some(simd) = available.iter().find(|simd| simd.name() == name) {
            return Ok(*simd);
        }
        if KERNEL_NAMES.contains(&name) {
            let runs: Vec<&str> = available.iter().map(|simd| simd.name()).collect();
            Err(format!(
                "this CPU cannot run the {name} kernel (it runs {})",
                runs.join(", ")
            ))
        } else {
            Err(format!(
                "{name:?} is not a search kernel (choose {})",
                KERNEL_NAMES.join(", ")
            ))
        }
    }

    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self.0 {
            Isa::Portable => "portable",
            #[cfg(target_arch = "x86_64")]
            Isa::Sse2 => "sse2",
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => "avx2",
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512Vnni => "avx512-vnni",
        }
    }

    /// Scores `GROUP` cells against one block and returns, per cell, the bit
    /// mask of the lanes whose score is below that cell's `limit`.
    ///
    /// `cells` holds `GROUP` rows of `pairs` packed pairs (low half: even
    /// value, high half: odd value); `block` holds `pairs * 2 * LANES` values
    /// interleaved as `[pair][lane][2]`; `norms` the tiles' `|b|^2`.
    pub fn block_scores(
        self,
        cells: &[i32],
        block: &[i16],
        norms: &[i32; LANES],
        limits: &[i32; GROUP],
        scores: &mut Scores,
    ) -> [u16; GROUP] {
        let pairs = block.len() / (2 * LANES);
        debug_assert_eq!(cells.len(), GROUP * pairs);
        match self.0 {
            Isa::Portable => portable(cells, block, pairs, norms, limits, scores),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: every x86-64 CPU has SSE2; the target enables it.
            Isa::Sse2 => unsafe { x86::sse2(cells, block, pairs, norms, limits, scores) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: a `Simd(Isa::Avx2)` is only created after
            // `is_x86_feature_detected!("avx2")` returned true.
            Isa::Avx2 => unsafe { x86::avx2(cells, block, pairs, norms, limits, scores) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: a `Simd(Isa::Avx512Vnni)` is only created after the CPU
            // reported avx512f, avx512bw and avx512vnni.
            Isa::Avx512Vnni => unsafe { x86::avx512(cells, block, pairs, norms, limits, scores) },
        }
    }

    /// [`Simd::block_scores`] on two blocks stored one after the other
    /// (`blocks` holds `2 * pairs * 2 * LANES` values), loading each cell's
    /// values once for both. With [`Pair::Both`], `scores[i]` and the masks'
    /// entry `i` are those of block `i`; with [`Pair::Nearer`] (a tile block
    /// and the block of its mirror images), `scores[0]` holds the smaller of
    /// the two scores of each lane and the first masks compare it with the
    /// limits (the second are empty).
    pub fn pair_scores(
        self,
        cells: &[i32],
        blocks: &[i16],
        norms: [&[i32; LANES]; 2],
        limits: &[i32; GROUP],
        scores: &mut [Scores; 2],
        pair: Pair,
    ) -> [[u16; GROUP]; 2] {
        #[cfg(target_arch = "x86_64")]
        if self.0 == Isa::Avx512Vnni {
            let pairs = blocks.len() / (4 * LANES);
            debug_assert_eq!(cells.len(), GROUP * pairs);
            // SAFETY: a `Simd(Isa::Avx512Vnni)` is only created after the CPU
            // reported avx512f, avx512bw and avx512vnni.
            return unsafe { x86::avx512_pair(cells, blocks, pairs, norms, limits, scores, pair) };
        }
        let (first, second) = blocks.split_at(blocks.len() / 2);
        let [one, two] = scores;
        let masks = [
            self.block_scores(cells, first, norms[0], limits, one),
            self.block_scores(cells, second, norms[1], limits, two),
        ];
        match pair {
            Pair::Both => masks,
            Pair::Nearer => [nearer(one, two, limits), [0; GROUP]],
        }
    }
}

/// How [`Simd::pair_scores`] reports its two blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pair {
    /// Each block's scores and masks.
    Both,
    /// The smaller score of each lane over the two blocks, and its mask.
    Nearer,
}

/// `one` becomes the lane-wise minimum of `one` and `two`; returns its masks
/// against `limits`.
pub(crate) fn nearer(one: &mut Scores, two: &Scores, limits: &[i32; GROUP]) -> [u16; GROUP] {
    let mut masks = [0u16; GROUP];
    for ((row, more), (mask, &limit)) in one.iter_mut().zip(two).zip(masks.iter_mut().zip(limits)) {
        for (lane, (score, &other)) in row.iter_mut().zip(more).enumerate() {
            *score = (*score).min(other);
            *mask |= u16::from(*score < limit) << lane;
        }
    }
    masks
}

/// Splits a packed pair into its two 16-bit values.
#[inline(always)]
fn unpack(pair: i32) -> (i32, i32) {
    (i32::from(pair as i16), pair >> 16)
}

/// Packs two descriptor values into one `i32` as the SIMD kernels read them.
#[inline(always)]
pub fn pack_pair(even: i16, odd: i16) -> i32 {
    (i32::from(odd) << 16) | i32::from(even as u16)
}

fn portable(
    cells: &[i32],
    block: &[i16],
    pairs: usize,
    norms: &[i32; LANES],
    limits: &[i32; GROUP],
    scores: &mut Scores,
) -> [u16; GROUP] {
    let mut masks = [0u16; GROUP];
    for (c, (row, mask)) in scores.iter_mut().zip(masks.iter_mut()).enumerate() {
        let mut dots = [0i32; LANES];
        for (p, lanes) in block.chunks_exact(2 * LANES).enumerate() {
            let (a0, a1) = unpack(cells[c * pairs + p]);
            for (dot, b) in dots.iter_mut().zip(lanes.chunks_exact(2)) {
                *dot += a0 * i32::from(b[0]) + a1 * i32::from(b[1]);
            }
        }
        for (lane, ((score, dot), norm)) in row.iter_mut().zip(dots).zip(norms).enumerate() {
            *score = norm - 2 * dot;
            if *score < limits[c] {
                *mask |= 1 << lane;
            }
        }
    }
    masks
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{Pair, Scores, GROUP, LANES};

    /// A kernel on `$parts` registers of `LANES / $parts` lanes each, written once
    /// for the two instruction sets that differ only in register width: SSE2
    /// (`pmaddwd` on 128 bits) and AVX2 (`vpmaddwd` on 256 bits).
    macro_rules! madd_kernel {
        ($name:ident, $feature:literal, $parts:literal, $zero:ident, $load:ident,
         $store:ident, $set1:ident, $madd:ident, $add:ident, $sub:ident, $shl:ident,
         $greater:ident, $movemask:ident, $as_float:ident) => {
            #[target_feature(enable = $feature)]
            pub(super) fn $name(
                cells: &[i32],
                block: &[i16],
                pairs: usize,
                norms: &[i32; LANES],
                limits: &[i32; GROUP],
                scores: &mut Scores,
            ) -> [u16; GROUP] {
                const WIDTH: usize = LANES / $parts;
                let rows: [&[i32]; GROUP] =
                    std::array::from_fn(|c| &cells[c * pairs..(c + 1) * pairs]);
                let mut acc = [[$zero(); $parts]; GROUP];
                for (p, lanes) in block.chunks_exact(2 * LANES).enumerate() {
                    let mut tiles = [$zero(); $parts];
                    for (part, tile) in tiles.iter_mut().enumerate() {
                        // SAFETY: `lanes` is 32 i16 = 64 bytes; part `part` is
                        // the `2 * WIDTH` values of lanes `part * WIDTH..`, the
                        // size of one unaligned load.
                        *tile = unsafe { $load(lanes[part * 2 * WIDTH..].as_ptr().cast()) };
                    }
                    for (acc_c, row) in acc.iter_mut().zip(rows) {
                        let a = $set1(row[p]);
                        for (acc_part, tile) in acc_c.iter_mut().zip(tiles) {
                            *acc_part = $add(*acc_part, $madd(tile, a));
                        }
                    }
                }
                let mut masks = [0u16; GROUP];
                for c in 0..GROUP {
                    let limit = $set1(limits[c]);
                    for (part, acc_part) in acc[c].iter().enumerate() {
                        let lanes = part * WIDTH..(part + 1) * WIDTH;
                        // SAFETY: `norms[lanes]` and `scores[c][lanes]` are
                        // `WIDTH` i32 each, the size of one unaligned load or store.
                        unsafe {
                            let norm = $load(norms[lanes.clone()].as_ptr().cast());
                            let score = $sub(norm, $shl(*acc_part, 1));
                            $store(scores[c][lanes].as_mut_ptr().cast(), score);
                            let below = $greater(limit, score);
                            let bits = $movemask($as_float(below)) as u16;
                            masks[c] |= bits << (part * WIDTH);
                        }
                    }
                }
                masks
            }
        };
    }

    // SSE2 is part of the x86-64 baseline: its kernel needs no run-time check
    // (the attribute only lets the intrinsics be called).
    madd_kernel!(
        sse2,
        "sse2",
        4,
        _mm_setzero_si128,
        _mm_loadu_si128,
        _mm_storeu_si128,
        _mm_set1_epi32,
        _mm_madd_epi16,
        _mm_add_epi32,
        _mm_sub_epi32,
        _mm_slli_epi32,
        _mm_cmpgt_epi32,
        _mm_movemask_ps,
        _mm_castsi128_ps
    );
    madd_kernel!(
        avx2,
        "avx2",
        2,
        _mm256_setzero_si256,
        _mm256_loadu_si256,
        _mm256_storeu_si256,
        _mm256_set1_epi32,
        _mm256_madd_epi16,
        _mm256_add_epi32,
        _mm256_sub_epi32,
        _mm256_slli_epi32,
        _mm256_cmpgt_epi32,
        _mm256_movemask_ps,
        _mm256_castsi256_ps
    );

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) fn avx512(
        cells: &[i32],
        block: &[i16],
        pairs: usize,
        norms: &[i32; LANES],
        limits: &[i32; GROUP],
        scores: &mut Scores,
    ) -> [u16; GROUP] {
        let rows: [&[i32]; GROUP] = std::array::from_fn(|c| &cells[c * pairs..(c + 1) * pairs]);
        let mut acc = [_mm512_setzero_si512(); GROUP];
        for (p, lanes) in block.chunks_exact(2 * LANES).enumerate() {
            // SAFETY: `lanes` is 32 i16 = 64 bytes, one unaligned 512-bit load.
            let tiles = unsafe { _mm512_loadu_si512(lanes.as_ptr().cast()) };
            for (acc_c, row) in acc.iter_mut().zip(rows) {
                *acc_c = _mm512_dpwssd_epi32(*acc_c, tiles, _mm512_set1_epi32(row[p]));
            }
        }
        // SAFETY: `norms` is 16 i32 = 64 bytes, one unaligned 512-bit load.
        let norm = unsafe { _mm512_loadu_si512(norms.as_ptr().cast()) };
        let mut masks = [0u16; GROUP];
        for c in 0..GROUP {
            let score = _mm512_sub_epi32(norm, _mm512_slli_epi32(acc[c], 1));
            // SAFETY: `scores[c]` is 16 i32 = 64 bytes, one unaligned store.
            unsafe { _mm512_storeu_si512(scores[c].as_mut_ptr().cast(), score) };
            masks[c] = _mm512_cmplt_epi32_mask(score, _mm512_set1_epi32(limits[c]));
        }
        masks
    }

    /// [`avx512`] on two consecutive blocks: `2 * GROUP` independent
    /// accumulators keep the multiply-add unit busy (one dependency chain per
    /// accumulator, each as long as the instruction's latency), and each
    /// cell's broadcast value serves both blocks.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) fn avx512_pair(
        cells: &[i32],
        blocks: &[i16],
        pairs: usize,
        norms: [&[i32; LANES]; 2],
        limits: &[i32; GROUP],
        scores: &mut [Scores; 2],
        pair: Pair,
    ) -> [[u16; GROUP]; 2] {
        let (first, second) = blocks.split_at(pairs * 2 * LANES);
        let mut acc = [[_mm512_setzero_si512(); GROUP]; 2];
        let lanes = first
            .chunks_exact(2 * LANES)
            .zip(second.chunks_exact(2 * LANES));
        for (p, (one, two)) in lanes.enumerate() {
            // SAFETY: `one` and `two` are 32 i16 = 64 bytes each, one unaligned
            // 512-bit load each.
            let tiles = unsafe {
                [
                    _mm512_loadu_si512(one.as_ptr().cast()),
                    _mm512_loadu_si512(two.as_ptr().cast()),
                ]
            };
            for (c, row) in cells.chunks_exact(pairs).enumerate() {
                let a = _mm512_set1_epi32(row[p]);
                acc[0][c] = _mm512_dpwssd_epi32(acc[0][c], tiles[0], a);
                acc[1][c] = _mm512_dpwssd_epi32(acc[1][c], tiles[1], a);
            }
        }
        // SAFETY: each `norms[i]` is 16 i32 = 64 bytes, one unaligned 512-bit load.
        let norm = unsafe {
            [
                _mm512_loadu_si512(norms[0].as_ptr().cast()),
                _mm512_loadu_si512(norms[1].as_ptr().cast()),
            ]
        };
        let mut masks = [[0u16; GROUP]; 2];
        for c in 0..GROUP {
            let limit = _mm512_set1_epi32(limits[c]);
            let score: [__m512i; 2] =
                std::array::from_fn(|i| _mm512_sub_epi32(norm[i], _mm512_slli_epi32(acc[i][c], 1)));
            let kept = match pair {
                Pair::Both => &score[..],
                Pair::Nearer => &[_mm512_min_epi32(score[0], score[1])][..],
            };
            for (i, score) in kept.iter().enumerate() {
                // SAFETY: `scores[i][c]` is 16 i32 = 64 bytes, one unaligned store.
                unsafe { _mm512_storeu_si512(scores[i][c].as_mut_ptr().cast(), *score) };
                masks[i][c] = _mm512_cmplt_epi32_mask(*score, limit);
            }
        }
        masks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: u64) -> impl FnMut() -> i16 {
        let mut state = seed;
        move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 40) % 2001) as i16 - 1000
        }
    }

    #[test]
    fn pairs_round_trip() {
        for (even, odd) in [(0, 0), (-1, 1), (i16::MIN, i16::MAX), (1234, -4321)] {
            assert_eq!(
                unpack(pack_pair(even, odd)),
                (i32::from(even), i32::from(odd))
            );
        }
    }

    #[test]
    fn kernels_are_picked_by_name_among_those_available() {
        let all = Simd::available();
        for simd in &all {
            assert!(KERNEL_NAMES.contains(&simd.name()));
            assert_eq!(Simd::pick(simd.name(), &all), Ok(*simd));
            assert_eq!(Simd::requested(Some(simd.name())), Ok(*simd));
        }
        assert_eq!(Simd::requested(None), Simd::chosen());
        let portable_only = [Simd(Isa::Portable)];
        assert_eq!(
            Simd::pick("avx512-vnni", &portable_only),
            Err("this CPU cannot run the avx512-vnni kernel (it runs portable)".into())
        );
        assert_eq!(
            Simd::requested(Some("fast")),
            Err(CoreError::Argument(
                "kernel: \"fast\" is not a search kernel (choose portable, sse2, avx2, avx512-vnni)"
                    .into()
            ))
        );
    }

    #[test]
    fn every_available_kernel_gives_the_exact_scores() {
        let pairs = 38;
        let mut next = lcg(11);
        let values: Vec<[i16; 2]> = (0..GROUP * pairs).map(|_| [next(), next()]).collect();
        let cells: Vec<i32> = values.iter().map(|v| pack_pair(v[0], v[1])).collect();
        let block: Vec<i16> = (0..pairs * 2 * LANES).map(|_| next()).collect();
        let norms: [i32; LANES] = std::array::from_fn(|l| 1000 * l as i32 - 5000);
        let limits = [i32::MAX, 0, -40_000_000, 12345];
        let mut expected: Scores = [[0; LANES]; GROUP];
        for c in 0..GROUP {
            for l in 0..LANES {
                let dot: i32 = (0..pairs)
                    .map(|p| {
                        let b = &block[p * 2 * LANES + 2 * l..];
                        i32::from(values[c * pairs + p][0]) * i32::from(b[0])
                            + i32::from(values[c * pairs + p][1]) * i32::from(b[1])
                    })
                    .sum();
                expected[c][l] = norms[l] - 2 * dot;
            }
        }
        for simd in Simd::available() {
            let mut scores = [[0; LANES]; GROUP];
            let masks = simd.block_scores(&cells, &block, &norms, &limits, &mut scores);
            assert_eq!(scores, expected, "{}", simd.name());
            for ((row, limit), mask) in expected.iter().zip(limits).zip(masks) {
                let below = row.iter().enumerate().fold(0u16, |bits, (l, &score)| {
                    bits | u16::from(score < limit) << l
                });
                assert_eq!(mask, below, "{}", simd.name());
            }
        }
    }

    #[test]
    fn pair_scores_are_the_two_blocks_scores_or_their_minimum() {
        let pairs = 48;
        let mut next = lcg(12);
        let cells: Vec<i32> = (0..GROUP * pairs)
            .map(|_| pack_pair(next(), next()))
            .collect();
        let blocks: Vec<i16> = (0..2 * pairs * 2 * LANES).map(|_| next()).collect();
        let (first, second) = blocks.split_at(pairs * 2 * LANES);
        let norms: [[i32; LANES]; 2] =
            std::array::from_fn(|b| std::array::from_fn(|l| 700 * l as i32 - 3000 * b as i32));
        let limits = [i32::MAX, 0, -30_000_000, 2_000_000];
        for simd in Simd::available() {
            let mut one = [[[0; LANES]; GROUP]; 2];
            let expected = [
                simd.block_scores(&cells, first, &norms[0], &limits, &mut one[0]),
                simd.block_scores(&cells, second, &norms[1], &limits, &mut one[1]),
            ];
            let mut both = [[[0; LANES]; GROUP]; 2];
            let norm_refs = [&norms[0], &norms[1]];
            let masks =
                simd.pair_scores(&cells, &blocks, norm_refs, &limits, &mut both, Pair::Both);
            assert_eq!((masks, both), (expected, one), "{}", simd.name());
            let mut nearest = [[[0; LANES]; GROUP]; 2];
            let masks = simd.pair_scores(
                &cells,
                &blocks,
                norm_refs,
                &limits,
                &mut nearest,
                Pair::Nearer,
            );
            for c in 0..GROUP {
                let mut mask = 0u16;
                for l in 0..LANES {
                    let least = one[0][c][l].min(one[1][c][l]);
                    assert_eq!(nearest[0][c][l], least, "{}", simd.name());
                    mask |= u16::from(least < limits[c]) << l;
                }
                assert_eq!((masks[0][c], masks[1][c]), (mask, 0), "{}", simd.name());
            }
        }
    }
}
