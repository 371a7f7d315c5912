//! Exhaustive top-k search: for every cell descriptor, the `k` tile descriptors
//! at the smallest exact squared Euclidean distance, ordered by
//! `(distance, tile index)` so ties go to the lowest index and the result is
//! the same for any thread count.
//!
//! Cost: `cells * tiles * dim` integer multiply-adds, done by the SIMD kernels
//! of `kernels.rs` on tiles repacked once into interleaved blocks (one pass
//! over the tiles); never more than `cells * k` results in memory: the
//! `cells x tiles` distance matrix is never formed. Work is split into chunks
//! of cells (and, when there are few cells, shards of tiles); each chunk
//! streams the tiles in runs that stay in the L2 cache. Values too large for
//! exact `i32` arithmetic fall back to a plain `i64` scan.

use rayon::prelude::*;

use crate::error::{CoreError, CoreResult};
use crate::kernels::{pack_pair, Scores, Simd, GROUP, LANES};

/// Descriptor values accepted by the search.
pub const VALUE_RANGE: (i16, i16) = (-16384, 16383);
/// Tile blocks scanned per run: `RUN_BLOCKS * LANES * dim * 2` bytes stay in L2.
const RUN_BLOCKS: usize = 64;
/// Fewest tiles worth giving a task of its own.
const MIN_SHARD: usize = 4096;

/// The `k` nearest tiles of every cell, row-major `(cells, k)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopK {
    pub indices: Vec<i64>,
    pub distances: Vec<i64>,
}

/// Searches `tiles` (row-major `(n, dim)`) for the `k` nearest of every cell
/// in `cells` (row-major `(m, dim)`), on the current rayon pool, with the
/// kernel of [`Simd::chosen`] (the fastest the CPU supports unless
/// `MOSAICFAST_KERNEL` names another).
pub fn search_topk(cells: &[i16], tiles: &[i16], dim: usize, k: usize) -> CoreResult<TopK> {
    search_topk_with(Simd::chosen()?, cells, tiles, dim, k)
}

/// [`search_topk`] on a chosen kernel (for tests and benchmarks).
pub fn search_topk_with(
    simd: Simd,
    cells: &[i16],
    tiles: &[i16],
    dim: usize,
    k: usize,
) -> CoreResult<TopK> {
    let (m, n) = check_search(cells, tiles, dim, k)?;
    let scanner = if fits_i32(cells, tiles, dim) {
        Scanner::Packed(PackedTiles::new(tiles, dim), simd)
    } else {
        Scanner::Wide(tiles, dim)
    };
    let threads = rayon::current_num_threads();
    let chunk = (m / (threads * 8)).clamp(16, 256).next_multiple_of(GROUP);
    let chunks = m.div_ceil(chunk);
    let shards = if chunks >= threads * 4 {
        1
    } else {
        (threads * 4)
            .div_ceil(chunks)
            .min(n.div_ceil(MIN_SHARD))
            .max(1)
    };
    // Shards hold whole blocks, so every shard starts at a block boundary.
    let shard_len = n.div_ceil(shards).next_multiple_of(LANES);
    let partial: Vec<Best> = (0..chunks * shards)
        .into_par_iter()
        .map(|task| {
            let (c, s) = (task / shards, task % shards);
            let rows = &cells[c * chunk * dim..((c + 1) * chunk).min(m) * dim];
            let range = (s * shard_len).min(n)..((s + 1) * shard_len).min(n);
            let mut best = Best::new(rows.len() / dim, k);
            scanner.scan(rows, range, &mut best);
            best
        })
        .collect();
    let mut result = TopK {
        indices: Vec::with_capacity(m * k),
        distances: Vec::with_capacity(m * k),
    };
    for per_chunk in partial.chunks(shards) {
        let merged = per_chunk
            .iter()
            .skip(1)
            .fold(per_chunk[0].clone(), |acc, next| acc.merge(next));
        result.indices.extend(merged.indices);
        result.distances.extend(merged.distances);
    }
    Ok(result)
}

pub(crate) fn check_search(
    cells: &[i16],
    tiles: &[i16],
    dim: usize,
    k: usize,
) -> CoreResult<(usize, usize)> {
    if dim == 0 {
        return Err(CoreError::Shape(
            "descriptors must have at least one value".into(),
        ));
    }
    if !cells.len().is_multiple_of(dim) || !tiles.len().is_multiple_of(dim) {
        return Err(CoreError::Shape(format!(
            "descriptor arrays must hold whole rows of {dim} values"
        )));
    }
    let (m, n) = (cells.len() / dim, tiles.len() / dim);
    if n == 0 {
        return Err(CoreError::Argument("there are no tiles to search".into()));
    }
    if k == 0 || k > n {
        return Err(CoreError::Argument(format!(
            "k must be between 1 and the number of tiles ({n}), got {k}"
        )));
    }
    let (lo, hi) = VALUE_RANGE;
    if let Some(bad) = cells
        .par_iter()
        .chain(tiles.par_iter())
        .find_any(|v| !(lo..=hi).contains(*v))
    {
        return Err(CoreError::Argument(format!(
            "descriptor values must lie in [{lo}, {hi}], found {bad}"
        )));
    }
    Ok((m, n))
}

/// Running k best `(distance, index)` of a block of cells, each row sorted.
#[derive(Debug, Clone)]
struct Best {
    k: usize,
    distances: Vec<i64>,
    indices: Vec<i64>,
}

impl Best {
    fn new(cells: usize, k: usize) -> Self {
        Best {
            k,
            distances: vec![i64::MAX; cells * k],
            indices: vec![i64::MAX; cells * k],
        }
    }

    /// Inserts a candidate into a sorted row if it beats the row's worst.
    /// Candidates arrive in increasing index order within a row, so an equal
    /// distance never displaces an earlier (lower-index) tile.
    #[inline(always)]
    fn offer(dist_row: &mut [i64], index_row: &mut [i64], dist: i64, index: i64) {
        let k = dist_row.len();
        let at = dist_row.partition_point(|&d| d <= dist);
        if at < k {
            dist_row.copy_within(at..k - 1, at + 1);
            index_row.copy_within(at..k - 1, at + 1);
            dist_row[at] = dist;
            index_row[at] = index;
        }
    }

    /// The k best of two results over disjoint tile ranges, `self`'s range
    /// first: order by (distance, index), which is a total order, so the merge
    /// does not depend on how the tiles were split.
    fn merge(self, other: &Best) -> Best {
        let k = self.k;
        let mut out = Best::new(self.distances.len() / k, k);
        let rows = self
            .distances
            .chunks(k)
            .zip(self.indices.chunks(k))
            .zip(other.distances.chunks(k).zip(other.indices.chunks(k)))
            .zip(out.distances.chunks_mut(k).zip(out.indices.chunks_mut(k)));
        for (((ad, ai), (bd, bi)), (od, oi)) in rows {
            let (mut i, mut j) = (0, 0);
            for slot in 0..k {
                let take_a = (ad[i], ai[i]) <= (bd[j], bi[j]);
                (od[slot], oi[slot]) = if take_a {
                    (ad[i], ai[i])
                } else {
                    (bd[j], bi[j])
                };
                if take_a {
                    i += 1;
                } else {
                    j += 1;
                }
            }
        }
        out
    }
}

/// How the tiles are scanned: SIMD kernels on packed tiles, or plain `i64`.
enum Scanner<'a> {
    Packed(PackedTiles, Simd),
    Wide(&'a [i16], usize),
}

impl Scanner<'_> {
    /// Offers the tiles of `range` to every cell of `cells`, in index order.
    fn scan(&self, cells: &[i16], range: std::ops::Range<usize>, best: &mut Best) {
        match self {
            Scanner::Packed(packed, simd) => packed.scan(*simd, cells, range, best),
            Scanner::Wide(tiles, dim) => scan_wide(cells, tiles, *dim, range, best),
        }
    }
}

/// Whether every distance and kernel score fits in `i32`: scores are bounded
/// by `3 * dim * M^2` and distances by `4 * dim * M^2` for `M = max |value|`.
pub(crate) fn fits_i32(cells: &[i16], tiles: &[i16], dim: usize) -> bool {
    let max_abs = cells
        .par_iter()
        .chain(tiles.par_iter())
        .map(|v| v.unsigned_abs())
        .max()
        .unwrap_or(0);
    4 * dim as u128 * u128::from(max_abs).pow(2) < i32::MAX as u128
}

/// Tiles regrouped for the SIMD kernels: blocks of `LANES` tiles, each block
/// `pairs` rows of `LANES` interleaved value pairs, plus every tile's `|b|^2`.
/// Lanes past the last tile are zeros with an `i32::MAX` norm, so their score
/// never beats any limit.
struct PackedTiles {
    blocks: Vec<i16>,
    norms: Vec<[i32; LANES]>,
    pairs: usize,
    dim: usize,
    n: usize,
}

impl PackedTiles {
    fn new(tiles: &[i16], dim: usize) -> PackedTiles {
        let n = tiles.len() / dim;
        let runs: Vec<_> = (0..n)
            .step_by(LANES)
            .map(|start| (start, (n - start).min(LANES)))
            .collect();
        let (blocks, norms) = pack_blocks(tiles, dim, &runs);
        PackedTiles {
            blocks,
            norms,
            pairs: dim.div_ceil(2),
            dim,
            n,
        }
    }

    /// Offers the tiles of `range` (which starts on a block boundary) to
    /// every cell of `cells`.
    fn scan(&self, simd: Simd, cells: &[i16], range: std::ops::Range<usize>, best: &mut Best) {
        let (pairs, k) = (self.pairs, best.k);
        let count = cells.len() / self.dim;
        let packed = pack_cells(cells, self.dim, pairs);
        let norms_a: Vec<i64> = cells
            .chunks_exact(self.dim)
            .map(|a| a.iter().map(|&v| i64::from(v) * i64::from(v)).sum())
            .collect();
        let end = range.end.min(self.n);
        let blocks = range.start / LANES..end.div_ceil(LANES);
        let mut scores: Scores = [[0; LANES]; GROUP];
        for run_start in blocks.clone().step_by(RUN_BLOCKS) {
            let run = run_start..(run_start + RUN_BLOCKS).min(blocks.end);
            for (g, group) in packed.chunks_exact(GROUP * pairs).enumerate() {
                let members = g * GROUP..((g + 1) * GROUP).min(count);
                for b in run.clone() {
                    let limits = std::array::from_fn(|c| {
                        let cell = g * GROUP + c;
                        if cell < count {
                            // Beating the worst kept distance means score < worst - |a|^2.
                            let limit = best.distances[cell * k + k - 1] - norms_a[cell];
                            limit.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
                        } else {
                            i32::MIN
                        }
                    });
                    let block = &self.blocks[b * 2 * LANES * pairs..(b + 1) * 2 * LANES * pairs];
                    let masks =
                        simd.block_scores(group, block, &self.norms[b], &limits, &mut scores);
                    for (c, cell) in members.clone().enumerate() {
                        let row = cell * k..(cell + 1) * k;
                        let (dist_row, index_row) =
                            (&mut best.distances[row.clone()], &mut best.indices[row]);
                        let mut mask = masks[c];
                        while mask != 0 {
                            let lane = mask.trailing_zeros() as usize;
                            mask &= mask - 1;
                            let index = b * LANES + lane;
                            if index >= end {
                                break;
                            }
                            let dist = i64::from(scores[c][lane]) + norms_a[cell];
                            Best::offer(dist_row, index_row, dist, index as i64);
                        }
                    }
                }
            }
        }
    }
}

/// Tiles (row-major `(n, dim)`) interleaved for the kernels: block `b` holds
/// the rows `start..start + count` of `runs[b]` (`count <= LANES`) as `pairs`
/// rows of `LANES` interleaved value pairs, plus every lane's `|b|^2`. Lanes
/// past `count` are zeros with an `i32::MAX` norm, so their score never beats
/// any limit.
pub(crate) fn pack_blocks(
    tiles: &[i16],
    dim: usize,
    runs: &[(usize, usize)],
) -> (Vec<i16>, Vec<[i32; LANES]>) {
    let block_len = dim.div_ceil(2) * 2 * LANES;
    let mut blocks = vec![0i16; runs.len() * block_len];
    let mut norms = vec![[i32::MAX; LANES]; runs.len()];
    blocks
        .par_chunks_mut(block_len)
        .zip(norms.par_iter_mut())
        .zip(runs.par_iter())
        .for_each(|((block, norm), &(start, count))| {
            let members = &tiles[start * dim..(start + count) * dim];
            for (lane, tile) in members.chunks_exact(dim).enumerate() {
                for (j, &v) in tile.iter().enumerate() {
                    block[(j / 2) * 2 * LANES + 2 * lane + j % 2] = v;
                }
                norm[lane] = tile.iter().map(|&v| i32::from(v) * i32::from(v)).sum();
            }
        });
    (blocks, norms)
}

/// Cells as the kernels read them: groups of `GROUP` rows of `pairs` packed
/// pairs, zero-padded to whole groups and an even number of values.
pub(crate) fn pack_cells(cells: &[i16], dim: usize, pairs: usize) -> Vec<i32> {
    let count = cells.len() / dim;
    let mut packed = vec![0i32; count.next_multiple_of(GROUP) * pairs];
    for (row, cell) in packed.chunks_exact_mut(pairs).zip(cells.chunks_exact(dim)) {
        for (slot, values) in row.iter_mut().zip(cell.chunks(2)) {
            *slot = pack_pair(values[0], values.get(1).copied().unwrap_or(0));
        }
    }
    packed
}

/// Exact `i64` scan for values too large for the `i32` kernels.
fn scan_wide(
    cells: &[i16],
    tiles: &[i16],
    dim: usize,
    range: std::ops::Range<usize>,
    best: &mut Best,
) {
    let k = best.k;
    let rows = cells
        .chunks_exact(dim)
        .zip(best.distances.chunks_exact_mut(k))
        .zip(best.indices.chunks_exact_mut(k));
    for ((cell, dist_row), index_row) in rows {
        for index in range.clone() {
            let tile = &tiles[index * dim..(index + 1) * dim];
            let d = distance_wide(cell, tile);
            if d < dist_row[k - 1] {
                Best::offer(dist_row, index_row, d, index as i64);
            }
        }
    }
}

pub(crate) fn distance_wide(a: &[i16], b: &[i16]) -> i64 {
    a.iter().zip(b).fold(0i64, |acc, (&x, &y)| {
        let d = i64::from(x) - i64::from(y);
        acc + d * d
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::values;

    /// Straightforward search to compare against.
    fn brute(cells: &[i16], tiles: &[i16], dim: usize, k: usize) -> TopK {
        let mut out = TopK {
            indices: vec![],
            distances: vec![],
        };
        for cell in cells.chunks(dim) {
            let mut all: Vec<(i64, i64)> = tiles
                .chunks(dim)
                .enumerate()
                .map(|(i, t)| (distance_wide(cell, t), i as i64))
                .collect();
            all.sort();
            for &(d, i) in &all[..k] {
                out.distances.push(d);
                out.indices.push(i);
            }
        }
        out
    }

    #[test]
    fn matches_brute_force_with_many_ties() {
        let dim = 5;
        let cells = values(40 * dim, 2, 1);
        let tiles = values(3000 * dim, 2, 2);
        for k in [1, 3, 17] {
            assert_eq!(
                search_topk(&cells, &tiles, dim, k).unwrap(),
                brute(&cells, &tiles, dim, k)
            );
        }
    }

    #[test]
    fn wide_values_use_the_exact_wide_kernel() {
        let dim = 75;
        let cells = values(7 * dim, 16000, 3);
        let tiles = values(300 * dim, 16000, 4);
        assert!(!fits_i32(&cells, &tiles, dim));
        assert_eq!(
            search_topk(&cells, &tiles, dim, 4).unwrap(),
            brute(&cells, &tiles, dim, 4)
        );
    }

    #[test]
    fn every_kernel_matches_brute_force() {
        // Sizes that leave partial groups of cells and partial blocks of tiles.
        for (dim, cells, tiles) in [(75, 37, 1000), (1, 5, 17), (8, 3, 40), (147, 9, 333)] {
            let cells = values(cells * dim, 500, dim as u64);
            let tiles = values(tiles * dim, 500, 99);
            assert!(fits_i32(&cells, &tiles, dim));
            for k in [1, 4, 17] {
                let expected = brute(&cells, &tiles, dim, k);
                for simd in Simd::available() {
                    let got = search_topk_with(simd, &cells, &tiles, dim, k).unwrap();
                    assert_eq!(got, expected, "{} dim {dim} k {k}", simd.name());
                }
            }
        }
    }

    #[test]
    fn same_result_for_any_thread_count() {
        let dim = 75;
        let cells = values(100 * dim, 400, 5);
        let tiles = values(20000 * dim, 400, 6);
        let run = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| search_topk(&cells, &tiles, dim, 8).unwrap())
        };
        let one = run(1);
        assert_eq!(one, run(2));
        assert_eq!(one, run(5));
        assert_eq!(one, brute(&cells, &tiles, dim, 8));
    }

    #[test]
    fn bad_arguments_are_errors() {
        let tiles = [0i16; 6];
        assert!(matches!(
            search_topk(&[0; 3], &tiles, 3, 0),
            Err(CoreError::Argument(_))
        ));
        assert!(matches!(
            search_topk(&[0; 3], &tiles, 3, 3),
            Err(CoreError::Argument(_))
        ));
        assert!(matches!(
            search_topk(&[0; 3], &[], 3, 1),
            Err(CoreError::Argument(_))
        ));
        assert!(matches!(
            search_topk(&[0; 4], &tiles, 3, 1),
            Err(CoreError::Shape(_))
        ));
        assert!(matches!(
            search_topk(&[0; 3], &tiles, 0, 1),
            Err(CoreError::Shape(_))
        ));
        assert!(matches!(
            search_topk(&[20000, 0, 0], &tiles, 3, 1),
            Err(CoreError::Argument(_))
        ));
    }
}
