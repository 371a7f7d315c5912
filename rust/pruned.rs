//! KD-tree-pruned search: exact distances to the tiles of a few tree leaves.
//!
//! The Python side (`mosaicfast.candidates`) builds a KD-tree on a
//! low-dimensional projection of the tile descriptors and hands over its
//! leaves: the tiles reordered so that every leaf is a contiguous range, and
//! each leaf's bounding box in the projected space. This module does the two
//! hot loops:
//!
//! * [`probe_leaves`]: for every cell, the `probes` leaves whose boxes are
//!   nearest its projected point (the "best bin first" order of a KD-tree
//!   search, here by brute force over the boxes: a few thousand leaves at
//!   most, so it is cheaper than walking the tree);
//! * [`search_leaves`]: for every cell, the `k` nearest tiles by the exact
//!   full-descriptor distance among the tiles of its probed leaves, ordered by
//!   `(distance, tile id)`.
//!
//! Cells are scored in groups of `GROUP` by the SIMD kernels of the
//! exhaustive search. A group scans the union of its cells' leaves, and a
//! leaf's scores only reach the cells that probe it, so each cell's answer
//! depends on its own probes alone, never on how cells were grouped or on the
//! thread count. Cells are grouped after sorting them by their nearest
//! leaves, so the cells of a group share most of their leaves.

use rayon::prelude::*;

use crate::error::{CoreError, CoreResult};
use crate::kernels::{Scores, Simd, GROUP, LANES};
use crate::search::{check_search, distance_wide, fits_i32, pack_blocks, pack_cells, TopK};

/// Cells per parallel task (whole groups).
const CHUNK_CELLS: usize = 16 * GROUP;
/// Probed leaves compared when sorting cells into groups.
const SORT_PROBES: usize = 4;

/// For each point, its nearest leaves until they hold at least `shortlist`
/// tiles (or all leaves), nearest first; row-major `(points, width)` with
/// rows padded by -1, and `width` the longest row.
///
/// `points` is row-major `(m, dims)`; `lower` and `upper` are row-major
/// `(leaves, dims)` box corners and `counts` the tiles in each leaf. The
/// distance of a point to a box is the squared Euclidean distance to its
/// nearest point of the box (0 inside), summed in `f32` in dimension order;
/// leaves are ordered by `(distance, leaf)`, so ties go to the lower leaf.
pub fn probe_leaves(
    points: &[f32],
    lower: &[f32],
    upper: &[f32],
    dims: usize,
    counts: &[i64],
    shortlist: usize,
) -> CoreResult<(Vec<i64>, usize)> {
    if dims == 0 || !points.len().is_multiple_of(dims) || !lower.len().is_multiple_of(dims) {
        return Err(CoreError::Shape(format!(
            "points and boxes must hold whole rows of {dims} values (dims >= 1)"
        )));
    }
    let leaves = lower.len() / dims;
    if lower.len() != upper.len() || counts.len() != leaves || leaves == 0 {
        return Err(CoreError::Shape(
            "lower and upper box corners and counts must describe the same leaves (>= 1)".into(),
        ));
    }
    if counts.iter().any(|&c| c < 0) {
        return Err(CoreError::Argument("leaf counts must be >= 0".into()));
    }
    let total: i64 = counts.iter().sum();
    let wanted = (shortlist as i64).min(total);
    let mean = (total as f64 / leaves as f64).max(1.0);
    // A first guess of the leaves needed; rows that need more sort further.
    let guess = ((2.0 * wanted as f64 / mean).ceil() as usize).clamp(1, leaves);
    let rows: Vec<Vec<i64>> = points
        .par_chunks(dims)
        .map_init(
            || Vec::with_capacity(leaves),
            |order: &mut Vec<(f32, u32)>, point| {
                order.clear();
                let boxes = lower.chunks_exact(dims).zip(upper.chunks_exact(dims));
                order.extend(boxes.enumerate().map(|(leaf, (lo, hi))| {
                    let gap =
                        point
                            .iter()
                            .zip(lo.iter().zip(hi))
                            .fold(0.0f32, |acc, (p, (l, h))| {
                                let d = (l - p).max(0.0) + (p - h).max(0.0);
                                acc + d * d
                            });
                    (gap, leaf as u32)
                }));
                nearest_until(order, counts, wanted, guess)
            },
        )
        .collect();
    let width = rows.iter().map(Vec::len).max().unwrap_or(1);
    let mut out = vec![-1i64; rows.len() * width];
    for (slots, row) in out.chunks_exact_mut(width).zip(&rows) {
        slots[..row.len()].copy_from_slice(row);
    }
    Ok((out, width))
}

/// The leaves of `order` (distance, leaf) nearest first until their counts
/// reach `wanted`; sorts only the first `guess` unless more are needed.
fn nearest_until(order: &mut [(f32, u32)], counts: &[i64], wanted: i64, guess: usize) -> Vec<i64> {
    let nearer = |a: &(f32, u32), b: &(f32, u32)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
    let mut sorted = guess.min(order.len());
    if sorted < order.len() {
        order.select_nth_unstable_by(sorted - 1, nearer);
    }
    order[..sorted].sort_unstable_by(nearer);
    let mut row = Vec::with_capacity(sorted);
    let mut held = 0;
    let mut at = 0;
    loop {
        while at < sorted && held < wanted.max(1) {
            let leaf = order[at].1 as usize;
            row.push(leaf as i64);
            held += counts[leaf];
            at += 1;
        }
        if held >= wanted.max(1) || sorted == order.len() {
            return row;
        }
        // The first guess was short: order the rest too.
        order[sorted..].sort_unstable_by(nearer);
        sorted = order.len();
    }
}

/// The leaves of a KD-tree over `n` tiles stored in leaf order.
#[derive(Debug, Clone, Copy)]
pub struct Leaves<'a> {
    /// `leaves + 1` row offsets: leaf `j` is rows `starts[j]..starts[j + 1]`.
    pub starts: &'a [i64],
    /// The id reported for each row (its index in the caller's tile order).
    pub ids: &'a [i64],
}

impl Leaves<'_> {
    fn count(&self) -> usize {
        self.starts.len() - 1
    }

    fn rows(&self, leaf: usize) -> std::ops::Range<usize> {
        self.starts[leaf] as usize..self.starts[leaf + 1] as usize
    }

    fn check(&self, n: usize) -> CoreResult<()> {
        let ordered = self.starts.windows(2).all(|w| w[0] <= w[1]);
        if self.starts.len() < 2 || self.starts[0] != 0 || !ordered {
            return Err(CoreError::Argument(
                "leaf starts must rise from 0, one more than the leaves".into(),
            ));
        }
        if self.starts[self.count()] != n as i64 || self.ids.len() != n {
            return Err(CoreError::Shape(format!(
                "leaves must cover the {n} tiles exactly, with one id per tile"
            )));
        }
        Ok(())
    }
}

/// For every cell, the `k` nearest tiles among those of its probed leaves.
///
/// `cells` is row-major `(m, dim)`; `tiles` row-major `(n, dim)` in leaf
/// order; `probes` row-major `(m, p)` leaf numbers (repeats and -1 padding
/// are ignored).
/// Returns ids from `leaves.ids` and exact squared distances, each row
/// ordered by `(distance, id)`.
pub fn search_leaves(
    cells: &[i16],
    tiles: &[i16],
    dim: usize,
    leaves: Leaves<'_>,
    probes: &[i64],
    k: usize,
) -> CoreResult<TopK> {
    let (m, n) = check_search(cells, tiles, dim, k)?;
    leaves.check(n)?;
    if m == 0 {
        return Ok(TopK {
            indices: vec![],
            distances: vec![],
        });
    }
    if probes.is_empty() || !probes.len().is_multiple_of(m) {
        return Err(CoreError::Shape(format!(
            "probes must hold the same number (>= 1) of leaves for each of the {m} cells"
        )));
    }
    let p = probes.len() / m;
    let lists = probe_lists(probes, p, &leaves, k)?;
    let mut order: Vec<usize> = (0..m).collect();
    // By nearest leaves (no allocation per comparison), then by cell.
    let nearest = |c: usize| &lists[c][..lists[c].len().min(SORT_PROBES)];
    order.sort_by(|&a, &b| nearest(a).cmp(nearest(b)).then(a.cmp(&b)));
    let rows: Vec<(Vec<i64>, Vec<i64>)> = if fits_i32(cells, tiles, dim) {
        let packed = PackedLeaves::new(tiles, dim, &leaves);
        let simd = Simd::chosen()?;
        order
            .par_chunks(CHUNK_CELLS)
            .flat_map_iter(|chunk| {
                chunk
                    .chunks(GROUP)
                    .flat_map(|group| packed.search_group(simd, cells, group, &lists, k))
            })
            .collect()
    } else {
        order
            .par_iter()
            .map(|&c| {
                search_wide(
                    &cells[c * dim..(c + 1) * dim],
                    tiles,
                    dim,
                    &leaves,
                    &lists[c],
                    k,
                )
            })
            .collect()
    };
    let mut found = TopK {
        indices: vec![0; m * k],
        distances: vec![0; m * k],
    };
    for (&cell, (distances, indices)) in order.iter().zip(rows) {
        found.distances[cell * k..(cell + 1) * k].copy_from_slice(&distances);
        found.indices[cell * k..(cell + 1) * k].copy_from_slice(&indices);
    }
    Ok(found)
}

/// Each cell's distinct probed leaves in probe order; checks that they hold
/// at least `k` tiles.
fn probe_lists(
    probes: &[i64],
    p: usize,
    leaves: &Leaves<'_>,
    k: usize,
) -> CoreResult<Vec<Vec<usize>>> {
    let count = leaves.count();
    probes
        .par_chunks(p)
        .enumerate()
        .map(|(cell, row)| {
            let mut list: Vec<usize> = Vec::with_capacity(p);
            for &leaf in row.iter().filter(|&&leaf| leaf != -1) {
                if leaf < 0 || leaf as usize >= count {
                    return Err(CoreError::Argument(format!(
                        "probed leaf {leaf} of cell {cell} is not between 0 and {}",
                        count - 1
                    )));
                }
                if !list.contains(&(leaf as usize)) {
                    list.push(leaf as usize);
                }
            }
            let held: usize = list.iter().map(|&l| leaves.rows(l).len()).sum();
            if held < k {
                return Err(CoreError::Argument(format!(
                    "the leaves probed for cell {cell} hold {held} tiles, fewer than k = {k}"
                )));
            }
            Ok(list)
        })
        .collect()
}

/// Offers `(dist, id)` to a row kept sorted by `(distance, id)`.
#[inline(always)]
fn offer(dist_row: &mut [i64], id_row: &mut [i64], dist: i64, id: i64) {
    let k = dist_row.len();
    let at = (0..k)
        .find(|&i| (dist, id) < (dist_row[i], id_row[i]))
        .unwrap_or(k);
    if at < k {
        dist_row.copy_within(at..k - 1, at + 1);
        id_row.copy_within(at..k - 1, at + 1);
        dist_row[at] = dist;
        id_row[at] = id;
    }
}

/// Tiles in leaf order regrouped for the SIMD kernels (`search::pack_blocks`),
/// each leaf starting on a block of its own, with the id of every lane (-1
/// past a leaf's end).
struct PackedLeaves {
    blocks: Vec<i16>,
    norms: Vec<[i32; LANES]>,
    ids: Vec<[i64; LANES]>,
    /// `leaves + 1` block offsets.
    leaf_blocks: Vec<usize>,
    pairs: usize,
    dim: usize,
}

impl PackedLeaves {
    fn new(tiles: &[i16], dim: usize, leaves: &Leaves<'_>) -> PackedLeaves {
        let mut leaf_blocks = vec![0usize];
        // The first row and row count of every block.
        let mut runs = Vec::new();
        for leaf in 0..leaves.count() {
            let rows = leaves.rows(leaf);
            for start in rows.clone().step_by(LANES) {
                runs.push((start, (rows.end - start).min(LANES)));
            }
            leaf_blocks.push(runs.len());
        }
        let (blocks, norms) = pack_blocks(tiles, dim, &runs);
        let ids = runs
            .iter()
            .map(|&(start, count)| {
                std::array::from_fn(|lane| {
                    if lane < count {
                        leaves.ids[start + lane]
                    } else {
                        -1
                    }
                })
            })
            .collect();
        PackedLeaves {
            blocks,
            norms,
            ids,
            leaf_blocks,
            pairs: dim.div_ceil(2),
            dim,
        }
    }

    /// The `k` best `(distances, ids)` of each cell of `group` (at most
    /// `GROUP` cell numbers) over its own probed leaves.
    fn search_group(
        &self,
        simd: Simd,
        cells: &[i16],
        group: &[usize],
        lists: &[Vec<usize>],
        k: usize,
    ) -> Vec<(Vec<i64>, Vec<i64>)> {
        let (dim, pairs) = (self.dim, self.pairs);
        let values: Vec<i16> = group
            .iter()
            .flat_map(|&c| cells[c * dim..(c + 1) * dim].iter().copied())
            .collect();
        let packed = pack_cells(&values, dim, pairs);
        debug_assert_eq!(packed.len(), GROUP * pairs);
        let norms_a: Vec<i64> = values
            .chunks_exact(dim)
            .map(|a| a.iter().map(|&v| i64::from(v) * i64::from(v)).sum())
            .collect();
        // Every leaf of the group once, with the bit mask of its cells.
        let mut members: Vec<(usize, u8)> = group
            .iter()
            .enumerate()
            .flat_map(|(c, &cell)| lists[cell].iter().map(move |&leaf| (leaf, 1u8 << c)))
            .collect();
        members.sort_unstable();
        let mut best: Vec<(Vec<i64>, Vec<i64>)> =
            vec![(vec![i64::MAX; k], vec![i64::MAX; k]); group.len()];
        let mut scores: Scores = [[0; LANES]; GROUP];
        let mut at = 0;
        while at < members.len() {
            let leaf = members[at].0;
            let mut cells_mask = 0u8;
            while at < members.len() && members[at].0 == leaf {
                cells_mask |= members[at].1;
                at += 1;
            }
            for b in self.leaf_blocks[leaf]..self.leaf_blocks[leaf + 1] {
                let limits = std::array::from_fn(|c| {
                    if cells_mask & (1 << c) == 0 {
                        return i32::MIN;
                    }
                    // Ties may still win on a lower id: admit score <= worst - |a|^2.
                    let limit = best[c].0[k - 1]
                        .saturating_sub(norms_a[c])
                        .saturating_add(1);
                    limit.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
                });
                let block = &self.blocks[b * 2 * LANES * pairs..(b + 1) * 2 * LANES * pairs];
                let masks = simd.block_scores(&packed, block, &self.norms[b], &limits, &mut scores);
                for (c, (dist_row, id_row)) in best.iter_mut().enumerate() {
                    let mut mask = masks[c];
                    while mask != 0 {
                        let lane = mask.trailing_zeros() as usize;
                        mask &= mask - 1;
                        let dist = i64::from(scores[c][lane]) + norms_a[c];
                        offer(dist_row, id_row, dist, self.ids[b][lane]);
                    }
                }
            }
        }
        best
    }
}

/// Exact `i64` scan of one cell's leaves, for values too large for the kernels.
fn search_wide(
    cell: &[i16],
    tiles: &[i16],
    dim: usize,
    leaves: &Leaves<'_>,
    list: &[usize],
    k: usize,
) -> (Vec<i64>, Vec<i64>) {
    let (mut distances, mut ids) = (vec![i64::MAX; k], vec![i64::MAX; k]);
    for &leaf in list {
        for row in leaves.rows(leaf) {
            let dist = distance_wide(cell, &tiles[row * dim..(row + 1) * dim]);
            offer(&mut distances, &mut ids, dist, leaves.ids[row]);
        }
    }
    (distances, ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::values;

    /// Best k of the tiles of a cell's leaves by brute force.
    fn brute(
        cell: &[i16],
        tiles: &[i16],
        dim: usize,
        leaves: &Leaves<'_>,
        probes: &[i64],
        k: usize,
    ) -> (Vec<i64>, Vec<i64>) {
        let mut all: Vec<(i64, i64)> = vec![];
        let mut seen = vec![];
        for &leaf in probes {
            if !seen.contains(&leaf) {
                seen.push(leaf);
                for row in leaves.rows(leaf as usize) {
                    let tile = &tiles[row * dim..(row + 1) * dim];
                    all.push((distance_wide(cell, tile), leaves.ids[row]));
                }
            }
        }
        all.sort();
        all.into_iter().take(k).unzip()
    }

    /// Uneven leaves (one empty, one of a single tile) over shuffled ids, so
    /// that ties are decided by id, not by storage order.
    const STARTS: [i64; 7] = [0, 37, 37, 200, 201, 333, 500];

    fn shuffled_ids(n: usize) -> Vec<i64> {
        (0..n as i64).map(|i| (i * 7919) % n as i64).collect()
    }

    fn check_against_brute(span: i64, dim: usize) {
        let (n, m, p) = (500, 23, 3);
        let tiles = values(n * dim, span, 1);
        let cells = values(m * dim, span, 2);
        let ids = shuffled_ids(n);
        let leaves = Leaves {
            starts: &STARTS,
            ids: &ids,
        };
        // Every cell probes leaf 2 or 5 (>= 130 tiles) plus two others, some repeated.
        let probes: Vec<i64> = (0..m)
            .flat_map(|c| [[2, 5][c % 2], (c % 6) as i64, ((c * 5) % 6) as i64])
            .collect();
        for k in [1, 4, 30] {
            let got = search_leaves(&cells, &tiles, dim, leaves, &probes, k).unwrap();
            for c in 0..m {
                let cell = &cells[c * dim..(c + 1) * dim];
                let (d, i) = brute(cell, &tiles, dim, &leaves, &probes[c * p..(c + 1) * p], k);
                assert_eq!(&got.distances[c * k..(c + 1) * k], &d[..], "cell {c} k {k}");
                assert_eq!(&got.indices[c * k..(c + 1) * k], &i[..], "cell {c} k {k}");
            }
        }
    }

    #[test]
    fn leaf_search_matches_brute_force_with_ties() {
        check_against_brute(3, 7);
        check_against_brute(300, 75);
    }

    #[test]
    fn wide_values_take_the_exact_wide_path() {
        check_against_brute(16000, 75);
    }

    #[test]
    fn same_result_for_any_thread_count() {
        let (dim, n, m, p) = (75, 5000, 301, 7);
        let tiles = values(n * dim, 400, 3);
        let cells = values(m * dim, 400, 4);
        let starts: Vec<i64> = (0..=50).map(|j| j * 100).collect();
        let ids = shuffled_ids(n);
        let probes: Vec<i64> = (0..m * p).map(|i| ((i * 13) % 50) as i64).collect();
        let run = |threads| {
            let leaves = Leaves {
                starts: &starts,
                ids: &ids,
            };
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| search_leaves(&cells, &tiles, dim, leaves, &probes, 5).unwrap())
        };
        let one = run(1);
        assert_eq!(one, run(2));
        assert_eq!(one, run(3));
    }

    #[test]
    fn too_few_tiles_in_the_probed_leaves_is_an_error() {
        let dim = 3;
        let tiles = values(500 * dim, 10, 5);
        let ids = shuffled_ids(500);
        let leaves = Leaves {
            starts: &STARTS,
            ids: &ids,
        };
        // Leaves 1 and 3 hold 0 and 1 tiles.
        let err = search_leaves(&[0; 3], &tiles, dim, leaves, &[1, 3], 2);
        assert!(matches!(err, Err(CoreError::Argument(_))));
        let err = search_leaves(&[0; 3], &tiles, dim, leaves, &[6], 1);
        assert!(matches!(err, Err(CoreError::Argument(_))));
        let bad_starts = Leaves {
            starts: &[0, 10],
            ids: &ids,
        };
        let err = search_leaves(&[0; 3], &tiles, dim, bad_starts, &[0], 1);
        assert!(matches!(err, Err(CoreError::Shape(_))));
    }

    #[test]
    fn probes_are_the_nearest_boxes_until_the_shortlist() {
        // Three 1-D boxes: [0, 1], [5, 6], [2, 3] of 4, 1 and 2 tiles; ties go to
        // the lower leaf.
        let lower = [0.0, 5.0, 2.0];
        let upper = [1.0, 6.0, 3.0];
        let counts = [4, 1, 2];
        let points = [0.5, 4.0, 3.5];
        let (got, width) = probe_leaves(&points, &lower, &upper, 1, &counts, 3).unwrap();
        assert_eq!(width, 2);
        assert_eq!(got, vec![0, -1, 1, 2, 2, 1]);
        let (got, width) = probe_leaves(&points, &lower, &upper, 1, &counts, 100).unwrap();
        assert_eq!(width, 3);
        assert_eq!(got, vec![0, 2, 1, 1, 2, 0, 2, 1, 0]);
        assert!(probe_leaves(&points, &lower, &upper, 1, &counts[..2], 1).is_err());
    }
}
