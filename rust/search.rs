//! Exhaustive top-k search: for every cell descriptor, the `k` tile descriptors
//! at the smallest exact squared Euclidean distance, ordered by
//! `(distance, tile index)` so ties go to the lowest index and the result is
//! the same for any thread count.
//!
//! Cost: `cells * tiles * dim` subtract/multiply-adds on `int16` values (AVX2
//! when the CPU has it), never more than `cells * k` results in memory: the
//! `cells x tiles` distance matrix is never formed. Work is split into blocks
//! of cells (and, when there are few cells, shards of tiles); each block
//! streams the tiles in cache-sized runs.

use rayon::prelude::*;

use crate::error::{CoreError, CoreResult};

/// Descriptor values accepted by the search: differences then fit in `i16`.
pub const VALUE_RANGE: (i16, i16) = (-16384, 16383);
/// Tiles scanned per run; a run (`TILE_RUN * dim * 2` bytes) stays in L2.
const TILE_RUN: usize = 1024;
/// Fewest tiles worth giving a task of its own.
const MIN_SHARD: usize = 4096;

/// The `k` nearest tiles of every cell, row-major `(cells, k)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopK {
    pub indices: Vec<i64>,
    pub distances: Vec<i64>,
}

/// Searches `tiles` (row-major `(n, dim)`) for the `k` nearest of every cell
/// in `cells` (row-major `(m, dim)`), on the current rayon pool.
pub fn search_topk(cells: &[i16], tiles: &[i16], dim: usize, k: usize) -> CoreResult<TopK> {
    let (m, n) = check_search(cells, tiles, dim, k)?;
    let kernel = Kernel::for_values(cells, tiles, dim);
    let threads = rayon::current_num_threads();
    let chunk = (m / (threads * 8)).clamp(16, 256);
    let chunks = m.div_ceil(chunk);
    let shards = if chunks >= threads * 4 {
        1
    } else {
        (threads * 4)
            .div_ceil(chunks)
            .min(n.div_ceil(MIN_SHARD))
            .max(1)
    };
    let shard_len = n.div_ceil(shards);
    let partial: Vec<Best> = (0..chunks * shards)
        .into_par_iter()
        .map(|task| {
            let (c, s) = (task / shards, task % shards);
            let cell_rows = &cells[c * chunk * dim..((c + 1) * chunk).min(m) * dim];
            let first = s * shard_len;
            let last = ((s + 1) * shard_len).min(n);
            let mut best = Best::new(cell_rows.len() / dim, k);
            kernel.scan(
                cell_rows,
                &tiles[first * dim..last * dim],
                first,
                dim,
                &mut best,
            );
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

fn check_search(cells: &[i16], tiles: &[i16], dim: usize, k: usize) -> CoreResult<(usize, usize)> {
    if dim == 0 {
        return Err(CoreError::Shape(
            "descriptors must have at least one value".into(),
        ));
    }
    if cells.len() % dim != 0 || tiles.len() % dim != 0 {
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

/// Which accumulator is exact for the values at hand.
#[derive(Clone, Copy)]
enum Kernel {
    /// `dim * (2 * max|v|)^2` fits in `i32`: `i16` differences squared and
    /// summed in `i32` lanes (the `pmaddwd` pattern).
    Narrow,
    /// Otherwise: `i64` arithmetic.
    Wide,
}

impl Kernel {
    fn for_values(cells: &[i16], tiles: &[i16], dim: usize) -> Kernel {
        let max_abs = cells
            .par_iter()
            .chain(tiles.par_iter())
            .map(|v| v.unsigned_abs())
            .max()
            .unwrap_or(0);
        let bound = dim as u128 * (2 * u128::from(max_abs)).pow(2);
        if bound <= i32::MAX as u128 {
            Kernel::Narrow
        } else {
            Kernel::Wide
        }
    }

    fn scan(self, cells: &[i16], tiles: &[i16], first: usize, dim: usize, best: &mut Best) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: `scan_avx2` only requires the CPU to support AVX2, which
            // was checked at run time on the line above.
            unsafe { scan_avx2(self, cells, tiles, first, dim, best) };
            return;
        }
        scan_portable(self, cells, tiles, first, dim, best);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn scan_avx2(
    kernel: Kernel,
    cells: &[i16],
    tiles: &[i16],
    first: usize,
    dim: usize,
    best: &mut Best,
) {
    scan_portable(kernel, cells, tiles, first, dim, best);
}

#[inline(always)]
fn scan_portable(
    kernel: Kernel,
    cells: &[i16],
    tiles: &[i16],
    first: usize,
    dim: usize,
    best: &mut Best,
) {
    match kernel {
        Kernel::Narrow => scan_with(cells, tiles, first, dim, best, distance_narrow),
        Kernel::Wide => scan_with(cells, tiles, first, dim, best, distance_wide),
    }
}

#[inline(always)]
fn distance_narrow(a: &[i16], b: &[i16]) -> i64 {
    // No overflow: values lie in VALUE_RANGE so differences fit in i16, and the
    // caller checked that dim * max_difference^2 fits in i32.
    let sum = a.iter().zip(b).fold(0i32, |acc, (&x, &y)| {
        let d = i32::from(x.wrapping_sub(y));
        acc.wrapping_add(d * d)
    });
    i64::from(sum)
}

#[inline(always)]
fn distance_wide(a: &[i16], b: &[i16]) -> i64 {
    a.iter().zip(b).fold(0i64, |acc, (&x, &y)| {
        let d = i64::from(x) - i64::from(y);
        acc + d * d
    })
}

#[inline(always)]
fn scan_with(
    cells: &[i16],
    tiles: &[i16],
    first: usize,
    dim: usize,
    best: &mut Best,
    distance: impl Fn(&[i16], &[i16]) -> i64,
) {
    let k = best.k;
    for (run_no, run) in tiles.chunks(TILE_RUN * dim).enumerate() {
        let run_first = first + run_no * TILE_RUN;
        let rows = cells
            .chunks_exact(dim)
            .zip(best.distances.chunks_exact_mut(k))
            .zip(best.indices.chunks_exact_mut(k));
        for ((cell, dist_row), index_row) in rows {
            let mut worst = dist_row[k - 1];
            for (t, tile) in run.chunks_exact(dim).enumerate() {
                let d = distance(cell, tile);
                if d < worst {
                    Best::offer(dist_row, index_row, d, (run_first + t) as i64);
                    worst = dist_row[k - 1];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// Deterministic pseudo-random values in `[-span, span)`.
    fn values(len: usize, span: i64, seed: u64) -> Vec<i16> {
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..len)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (((state >> 33) as i64).rem_euclid(2 * span) - span) as i16
            })
            .collect()
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
        assert!(matches!(
            Kernel::for_values(&cells, &tiles, dim),
            Kernel::Wide
        ));
        assert_eq!(
            search_topk(&cells, &tiles, dim, 4).unwrap(),
            brute(&cells, &tiles, dim, 4)
        );
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
