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

use std::borrow::Cow;

use rayon::prelude::*;

use crate::error::{CoreError, CoreResult};
use crate::kernels::{nearer, pack_pair, Pair, Scores, Simd, GROUP, LANES};

/// Descriptor values accepted by the search.
pub const VALUE_RANGE: (i16, i16) = (-16384, 16383);
/// Tile blocks scanned per run: `RUN_BLOCKS * LANES * dim * 2` bytes stay in L2.
const RUN_BLOCKS: usize = 64;
/// Fewest tiles worth giving a task of its own.
const MIN_SHARD: usize = 4096;
/// Most cell x tile pairs scanned on the calling thread alone. Small: the
/// optimal assignment's end game searches one cell at a time, thousands of
/// times, and a search of 10,000 tiles split in two halves measured 9% off
/// the wall time of a 10,000 x 10,000 solve at 2 threads (benches/NOTES.md).
const SERIAL_PAIRS: usize = 1 << 12;

/// The `k` nearest tiles of every cell, row-major `(cells, k)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopK {
    pub indices: Vec<i64>,
    /// The distances, or with [`Offsets`] the ranking values.
    pub distances: Vec<i64>,
}

/// Ranks the tiles by `scale * distance + values[tile]` instead of the
/// distance: per-tile potentials (prices, dual variables) enter like the
/// `|b|^2` term, so the search stays one exact pass of the SIMD kernels.
#[derive(Debug, Clone, Copy)]
pub struct Offsets<'a> {
    /// One value per tile.
    pub values: &'a [i64],
    /// Multiplies the distance, `>= 1`.
    pub scale: i64,
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
    check_search(cells, tiles, dim, k)?;
    TileSet::new(simd, tiles, dim).search(cells, k, None, None)
}

/// [`search_topk_with`] ranking by `offsets.scale * distance + offsets.values[tile]`,
/// ties to the lowest tile index; `distances` then holds those values.
pub fn search_topk_offsets(
    simd: Simd,
    cells: &[i16],
    tiles: &[i16],
    dim: usize,
    k: usize,
    offsets: Offsets<'_>,
) -> CoreResult<TopK> {
    check_search(cells, tiles, dim, k)?;
    TileSet::new(simd, tiles, dim).search(cells, k, Some(offsets), None)
}

/// Tiles packed once for the kernels, for any number of searches (the optimal
/// assignment prices cells against the same tiles many times). The caller
/// checks the values with [`check_search`].
///
/// A set may hold each tile in several orientations (a tile and its mirror
/// image, quarter turns): a tile's distance is then the least of its
/// orientations', found in the same scan, so a search selects among tiles,
/// not among several times as many entries.
pub(crate) struct TileSet<'a> {
    /// Row-major `(orientations * n, dim)`: all tiles in their first
    /// orientation, then all in the next one, in the same order.
    tiles: &'a [i16],
    dim: usize,
    orientations: usize,
    /// `None` when the tiles' values are too large for the `i32` kernels.
    packed: Option<PackedTiles>,
    simd: Simd,
    max_abs: u16,
}

impl<'a> TileSet<'a> {
    pub(crate) fn new(simd: Simd, tiles: &'a [i16], dim: usize) -> TileSet<'a> {
        TileSet::oriented(simd, tiles, dim, 1)
    }

    /// A set of `tiles.len() / dim / orientations` tiles given as the tiles in
    /// each orientation in turn (entry `e` is tile `e % n`), each ranked by its
    /// nearest orientation.
    pub(crate) fn oriented(
        simd: Simd,
        tiles: &'a [i16],
        dim: usize,
        orientations: usize,
    ) -> TileSet<'a> {
        let max_abs = max_abs(tiles);
        let packed = (distance_bound(max_abs, dim) < i32::MAX as u128)
            .then(|| PackedTiles::new(tiles, dim, orientations));
        TileSet {
            tiles,
            dim,
            orientations,
            packed,
            simd,
            max_abs,
        }
    }

    /// Number of tiles.
    pub(crate) fn len(&self) -> usize {
        self.tiles.len() / self.dim / self.orientations
    }

    /// The `k` best tiles of every cell of `cells` (row-major, values checked
    /// by the caller) by distance, or by the ranking of `offsets`; with
    /// `seeds`, only among the tiles of value below the cell's seed (rows are
    /// then padded with `i64::MAX` values and indices).
    pub(crate) fn search(
        &self,
        cells: &[i16],
        k: usize,
        offsets: Option<Offsets<'_>>,
        seeds: Option<&[i64]>,
    ) -> CoreResult<TopK> {
        let shift = Shift::new(self.packed.as_ref(), self.len(), offsets)?;
        let (chunks, shards) = self.scan(cells, k, &shift, seeds, k > SORTED_K)?;
        let m = cells.len() / self.dim;
        let mut result = TopK {
            indices: Vec::with_capacity(m * k),
            distances: Vec::with_capacity(m * k),
        };
        let mut partial = chunks.into_iter();
        while partial.len() > 0 {
            let parts = partial
                .by_ref()
                .take(shards)
                .map(Best::into_sorted)
                .collect();
            let (distances, indices) = merge_sorted(k, parts);
            result.indices.extend(indices);
            result.distances.extend(distances);
        }
        Ok(result)
    }

    /// [`TileSet::search`] without ordering: per cell, its `k` best
    /// `(value, index)` below its seed, in no particular order (fewer than
    /// `k` when fewer tiles are below the seed). Cheaper for large `k`.
    pub(crate) fn search_unordered(
        &self,
        cells: &[i16],
        k: usize,
        offsets: Option<Offsets<'_>>,
        seeds: Option<&[i64]>,
    ) -> CoreResult<Vec<Vec<(i64, i64)>>> {
        let shift = Shift::new(self.packed.as_ref(), self.len(), offsets)?;
        self.unordered(cells, k, &shift, seeds)
    }

    fn unordered(
        &self,
        cells: &[i16],
        k: usize,
        shift: &Shift,
        seeds: Option<&[i64]>,
    ) -> CoreResult<Vec<Vec<(i64, i64)>>> {
        let (chunks, shards) = self.scan(cells, k, shift, seeds, true)?;
        let mut rows = Vec::with_capacity(cells.len() / self.dim);
        let mut partial = chunks.into_iter();
        while partial.len() > 0 {
            let mut parts = partial.by_ref().take(shards).map(Best::into_keys);
            let mut first = parts.next().unwrap_or_default();
            for part in parts {
                for (row, more) in first.iter_mut().zip(part) {
                    row.extend(more);
                    keep_best(row, k);
                }
            }
            rows.extend(
                first
                    .into_iter()
                    .map(|row| row.into_iter().map(key_pair).collect()),
            );
        }
        Ok(rows)
    }

    /// Scans every tile for every cell in parallel tasks: chunks of cells,
    /// each split into `shards` tile ranges when there are few chunks.
    /// Returns each task's rows (chunk-major) and the shard count.
    fn scan(
        &self,
        cells: &[i16],
        k: usize,
        shift: &Shift,
        seeds: Option<&[i64]>,
        buffered: bool,
    ) -> CoreResult<(Vec<Best>, usize)> {
        let (dim, n) = (self.dim, self.len());
        let m = cells.len() / dim;
        if k == 0 || k > n {
            return Err(CoreError::Argument(format!(
                "k must be between 1 and the number of tiles ({n}), got {k}"
            )));
        }
        let limit = distance_bound(self.max_abs.max(max_abs(cells)), dim);
        shift.check(limit)?;
        let scanner = match &self.packed {
            Some(packed) if limit + shift.span < i32::MAX as u128 => {
                Scanner::Packed(packed, self.simd)
            }
            _ => Scanner::Wide(self.tiles, dim, self.orientations),
        };
        let threads = rayon::current_num_threads();
        // Large chunks of cells reuse each loaded run of tiles; with few cells,
        // the tiles are split into shards instead.
        let chunk = (m / threads).clamp(16, 256).next_multiple_of(GROUP);
        let chunks = m.div_ceil(chunk);
        let mut shards = if chunks >= threads * 4 {
            1
        } else {
            (threads * 4)
                .div_ceil(chunks.max(1))
                .min(n.div_ceil(MIN_SHARD))
                .max(1)
        };
        if shards > threads {
            shards -= shards % threads; // as many shards for every thread
        }
        if m * n <= SERIAL_PAIRS || chunks * shards == 1 {
            // Too little work to be worth waking other threads.
            let mut best = Best::new(m, k, seeds, buffered);
            scanner.scan(cells, 0..n, shift, &mut best);
            return Ok((vec![best], 1));
        }
        // Shards hold whole blocks, so every shard starts at a block boundary.
        let shard_len = n.div_ceil(shards).next_multiple_of(LANES);
        let partial = (0..chunks * shards)
            .into_par_iter()
            .map(|task| {
                let (c, s) = (task / shards, task % shards);
                let members = c * chunk..((c + 1) * chunk).min(m);
                let rows = &cells[members.start * dim..members.end * dim];
                let range = (s * shard_len).min(n)..((s + 1) * shard_len).min(n);
                let seeds = seeds.map(|s| &s[members.clone()]);
                let mut best = Best::new(members.len(), k, seeds, buffered);
                scanner.scan(rows, range, shift, &mut best);
                best
            })
            .collect();
        Ok((partial, shards))
    }
}

/// Keeps the `k` best keys of a row, in no particular order.
fn keep_best(row: &mut Vec<u128>, k: usize) {
    if row.len() > k {
        row.select_nth_unstable(k - 1);
        row.truncate(k);
    }
}

/// Flips a sign bit: `i64` order as `u64` order.
const SIGN: u64 = 1 << 63;

/// A `(value, index)` pair as one `u128` ordered like the pair, so that the
/// selection's comparisons are branch-free.
#[inline(always)]
pub(crate) fn pair_key(value: i64, index: i64) -> u128 {
    (u128::from(value as u64 ^ SIGN) << 64) | u128::from(index as u64 ^ SIGN)
}

/// The `(value, index)` pair of a [`pair_key`].
#[inline(always)]
fn key_pair(key: u128) -> (i64, i64) {
    (
        ((key >> 64) as u64 ^ SIGN) as i64,
        (key as u64 ^ SIGN) as i64,
    )
}

/// The largest `|value|` of a descriptor array.
fn max_abs(values: &[i16]) -> u16 {
    values
        .par_iter()
        .map(|v| v.unsigned_abs())
        .max()
        .unwrap_or(0)
}

/// How a kernel score becomes a ranking value. With offsets `o = scale * q + r`
/// (`0 <= r < scale`), the value `scale * d + o` is `scale * (d + q) + r`: `q`
/// is folded into the kernel's `|b|^2` term, so the kernels compute
/// `d + q - |a|^2` exactly in `i32`, and `r` is added after scaling, in `i64`.
struct Shift<'a> {
    norms: Cow<'a, [[i32; LANES]]>,
    fine: Option<Cow<'a, [[i64; LANES]]>>,
    /// The offsets themselves, for the wide scan.
    values: Option<Cow<'a, [i64]>>,
    scale: i64,
    /// The largest `|q|`: how far the folded norms reach beyond `|b|^2`.
    span: u128,
}

impl<'a> Shift<'a> {
    /// The shift of `offsets` (`None`: rank by distance) for `n` tiles, whose
    /// kernel norms are those of `packed` (`None`: no kernel).
    fn new(
        packed: Option<&'a PackedTiles>,
        n: usize,
        offsets: Option<Offsets<'a>>,
    ) -> CoreResult<Shift<'a>> {
        let plain = packed.map_or(&[][..], |p| &p.norms[..]);
        let orientations = packed.map_or(1, |p| p.orientations);
        let Some(offsets) = offsets else {
            return Ok(Shift {
                norms: Cow::Borrowed(plain),
                fine: None,
                values: None,
                scale: 1,
                span: 0,
            });
        };
        if offsets.values.len() != n {
            return Err(CoreError::Shape(format!(
                "offsets must hold one value per tile ({n}), got {}",
                offsets.values.len()
            )));
        }
        let scale = check_scale(offsets.scale)?;
        let span = offsets
            .values
            .par_iter()
            .map(|o| o.div_euclid(scale).unsigned_abs())
            .max()
            .unwrap_or(0);
        let norms = plain
            .par_iter()
            .enumerate()
            .map(|(at, block)| {
                let b = at / orientations;
                let mut norms = *block;
                for lane in 0..LANES.min(n - b * LANES) {
                    norms[lane] = fold(block[lane], offsets.values[b * LANES + lane], scale).0;
                }
                norms
            })
            .collect();
        let fine = (0..n.div_ceil(LANES))
            .into_par_iter()
            .map(|b| {
                let mut fine = [0i64; LANES];
                let values = &offsets.values[b * LANES..n.min((b + 1) * LANES)];
                for (fine, value) in fine.iter_mut().zip(values) {
                    *fine = value.rem_euclid(scale);
                }
                fine
            })
            .collect();
        Ok(Shift {
            norms: Cow::Owned(norms),
            fine: Some(Cow::Owned(fine)),
            values: Some(Cow::Borrowed(offsets.values)),
            scale,
            span: u128::from(span),
        })
    }

    /// Checks that every value fits `i64` with room to spare (`limit` bounds
    /// every distance).
    fn check(&self, limit: u128) -> CoreResult<()> {
        if (limit + self.span + 1) * self.scale as u128 > (i64::MAX / 4) as u128 {
            return Err(CoreError::Argument(
                "offsets and scale too large for exact 64-bit ranking values".into(),
            ));
        }
        Ok(())
    }

    /// The kernel limit of a row whose worst kept value is `worst`: a tile
    /// can only beat it if `scale * (score + |a|^2) < worst`.
    #[inline(always)]
    fn limit(&self, worst: i64, norm_a: i64) -> i32 {
        let limit = if self.scale == 1 {
            worst - norm_a
        } else {
            worst.div_euclid(self.scale) + i64::from(worst.rem_euclid(self.scale) > 0) - norm_a
        };
        limit.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
    }

    /// The ranking value of a kernel score.
    #[inline(always)]
    fn value(&self, score: i32, norm_a: i64, block: usize, lane: usize) -> i64 {
        let d = i64::from(score) + norm_a;
        match &self.fine {
            None => d,
            Some(fine) => self.scale * d + fine[block][lane],
        }
    }

    /// The ranking value of tile `index` at distance `d` (wide scan).
    #[inline(always)]
    fn of_distance(&self, d: i64, index: usize) -> i64 {
        match &self.values {
            None => d,
            Some(values) => self.scale * d + values[index],
        }
    }
}

fn check_scale(scale: i64) -> CoreResult<i64> {
    if scale < 1 {
        return Err(CoreError::Argument(format!(
            "the offsets' scale must be at least 1, got {scale}"
        )));
    }
    Ok(scale)
}

/// A tile's kernel norm `|b|^2` with the offset `o` folded in: `(|b|^2 + q, r)`
/// for `o = scale * q + r`. Saturates where the packed kernels are not used
/// (see [`Shift::span`]).
#[inline]
fn fold(norm: i32, o: i64, scale: i64) -> (i32, i64) {
    let q = o
        .div_euclid(scale)
        .clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
    (norm.saturating_add(q), o.rem_euclid(scale))
}

/// Tiles ranked by `scale * distance + offset`, with offsets that change
/// one tile at a time (prices): the folded kernel norms are kept up to date
/// instead of being recomputed for every search.
pub(crate) struct PricedTiles<'a> {
    set: TileSet<'a>,
    values: Vec<i64>,
    scale: i64,
    norms: Vec<[i32; LANES]>,
    fine: Vec<[i64; LANES]>,
    /// The largest `|q|` ever set: an upper bound of the current one.
    span: u64,
}

impl<'a> PricedTiles<'a> {
    /// Every offset 0.
    pub(crate) fn new(set: TileSet<'a>, scale: i64) -> CoreResult<PricedTiles<'a>> {
        let n = set.len();
        let norms = set.packed.as_ref().map_or(vec![], |p| p.norms.clone());
        let fine = vec![[0; LANES]; norms.len() / set.orientations];
        Ok(PricedTiles {
            set,
            values: vec![0; n],
            scale: check_scale(scale)?,
            norms,
            fine,
            span: 0,
        })
    }

    pub(crate) fn tiles(&self) -> &TileSet<'a> {
        &self.set
    }

    /// Sets the offset of tile `index`.
    pub(crate) fn set(&mut self, index: usize, offset: i64) {
        self.values[index] = offset;
        self.span = self.span.max(offset.div_euclid(self.scale).unsigned_abs());
        let (b, lane) = (index / LANES, index % LANES);
        if let Some(packed) = &self.set.packed {
            let orientations = packed.orientations;
            for at in b * orientations..(b + 1) * orientations {
                (self.norms[at][lane], self.fine[b][lane]) =
                    fold(packed.norms[at][lane], offset, self.scale);
            }
        }
    }

    /// [`TileSet::search_unordered`] with the current offsets.
    pub(crate) fn search_unordered(
        &self,
        cells: &[i16],
        k: usize,
        seeds: Option<&[i64]>,
    ) -> CoreResult<Vec<Vec<(i64, i64)>>> {
        let shift = Shift {
            norms: Cow::Borrowed(&self.norms),
            fine: Some(Cow::Borrowed(&self.fine)),
            values: Some(Cow::Borrowed(&self.values)),
            scale: self.scale,
            span: u128::from(self.span),
        };
        self.set.unordered(cells, k, &shift, seeds)
    }
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

/// Largest `k` kept as sorted rows; beyond it rows are buffers compacted by
/// selection, so that an offer costs `O(1)` amortised instead of `O(k)`.
const SORTED_K: usize = 32;

/// Running k best `(value, index)` of a block of cells.
#[derive(Debug, Clone)]
struct Best {
    k: usize,
    rows: Rows,
}

#[derive(Debug, Clone)]
enum Rows {
    /// Each row sorted, `i64::MAX` where empty.
    Sorted {
        distances: Vec<i64>,
        indices: Vec<i64>,
    },
    /// Each row at most `2k` unordered candidates (as [`pair_key`]s), and
    /// the value a new one must beat (the k-th best at the last compaction).
    Buffered {
        rows: Vec<Vec<u128>>,
        worst: Vec<i64>,
    },
}

impl Best {
    /// Empty rows, sorted ones unless `buffered`; a candidate must beat the
    /// cell's seed (default `i64::MAX`).
    fn new(cells: usize, k: usize, seeds: Option<&[i64]>, buffered: bool) -> Self {
        let seed = |cell: usize| seeds.map_or(i64::MAX, |s| s[cell]);
        let rows = if !buffered {
            Rows::Sorted {
                distances: (0..cells * k).map(|r| seed(r / k)).collect(),
                indices: vec![i64::MAX; cells * k],
            }
        } else {
            Rows::Buffered {
                rows: vec![Vec::new(); cells],
                worst: (0..cells).map(seed).collect(),
            }
        };
        Best { k, rows }
    }

    /// The value a candidate of `cell` must be below to be kept.
    #[inline(always)]
    fn worst(&self, cell: usize) -> i64 {
        match &self.rows {
            Rows::Sorted { distances, .. } => distances[cell * self.k + self.k - 1],
            Rows::Buffered { worst, .. } => worst[cell],
        }
    }

    /// Keeps a candidate of `cell` if it beats the row's worst. Candidates
    /// arrive in increasing index order within a row, so an equal value never
    /// displaces an earlier (lower-index) tile.
    #[inline(always)]
    fn offer(&mut self, cell: usize, value: i64, index: i64) {
        let k = self.k;
        match &mut self.rows {
            Rows::Sorted { distances, indices } => {
                let dist_row = &mut distances[cell * k..(cell + 1) * k];
                let at = dist_row.partition_point(|&d| d <= value);
                if at < k {
                    let index_row = &mut indices[cell * k..(cell + 1) * k];
                    dist_row.copy_within(at..k - 1, at + 1);
                    index_row.copy_within(at..k - 1, at + 1);
                    dist_row[at] = value;
                    index_row[at] = index;
                }
            }
            Rows::Buffered { rows, worst } => {
                if value >= worst[cell] {
                    return;
                }
                let row = &mut rows[cell];
                if row.capacity() == 0 {
                    // Room for `k` at once, then `2k` (no run of small regrowths).
                    row.reserve_exact(k);
                }
                row.push(pair_key(value, index));
                if row.len() == 2 * k {
                    keep_best(row, k);
                    worst[cell] = row.iter().max().map_or(i64::MAX, |&key| key_pair(key).0);
                }
            }
        }
    }

    /// Every row's k best as [`pair_key`]s, in no particular order.
    fn into_keys(self) -> Vec<Vec<u128>> {
        let k = self.k;
        match self.rows {
            Rows::Buffered { mut rows, .. } => {
                for row in &mut rows {
                    keep_best(row, k);
                }
                rows
            }
            Rows::Sorted { distances, indices } => distances
                .chunks(k)
                .zip(indices.chunks(k))
                .map(|(d, i)| {
                    d.iter()
                        .zip(i)
                        .filter(|(_, &i)| i != i64::MAX)
                        .map(|(&d, &i)| pair_key(d, i))
                        .collect()
                })
                .collect(),
        }
    }

    /// Every row's k best, sorted by (value, index), padded with `i64::MAX`.
    fn into_sorted(self) -> (Vec<i64>, Vec<i64>) {
        let k = self.k;
        match self.rows {
            Rows::Sorted {
                mut distances,
                indices,
            } => {
                // Seeds held the places of missing candidates.
                for (d, &i) in distances.iter_mut().zip(&indices) {
                    if i == i64::MAX {
                        *d = i64::MAX;
                    }
                }
                (distances, indices)
            }
            Rows::Buffered { rows, .. } => {
                let mut distances = Vec::with_capacity(rows.len() * k);
                let mut indices = Vec::with_capacity(rows.len() * k);
                for mut row in rows {
                    row.sort_unstable();
                    let padding = std::iter::repeat((i64::MAX, i64::MAX));
                    for (v, i) in row.into_iter().map(key_pair).chain(padding).take(k) {
                        distances.push(v);
                        indices.push(i);
                    }
                }
                (distances, indices)
            }
        }
    }
}

/// The k best of each row of several results over disjoint tile ranges, by
/// (value, index): a total order, so the result does not depend on how the
/// tiles were split.
fn merge_sorted(k: usize, parts: Vec<(Vec<i64>, Vec<i64>)>) -> (Vec<i64>, Vec<i64>) {
    let mut parts = parts.into_iter();
    let Some(first) = parts.next() else {
        return (vec![], vec![]);
    };
    parts.fold(first, |(ad, ai), (bd, bi)| {
        let mut out = (Vec::with_capacity(ad.len()), Vec::with_capacity(ad.len()));
        for row in 0..ad.len() / k {
            let r = row * k..(row + 1) * k;
            let (a, b) = ((&ad[r.clone()], &ai[r.clone()]), (&bd[r.clone()], &bi[r]));
            let (mut i, mut j) = (0, 0);
            for _ in 0..k {
                let take_a = (a.0[i], a.1[i]) <= (b.0[j], b.1[j]);
                let (v, x) = if take_a {
                    (a.0[i], a.1[i])
                } else {
                    (b.0[j], b.1[j])
                };
                out.0.push(v);
                out.1.push(x);
                if take_a {
                    i += 1;
                } else {
                    j += 1;
                }
            }
        }
        out
    })
}

/// How the tiles are scanned: SIMD kernels on packed tiles, or plain `i64`.
enum Scanner<'a> {
    Packed(&'a PackedTiles, Simd),
    Wide(&'a [i16], usize, usize),
}

impl Scanner<'_> {
    /// Offers the tiles of `range` to every cell of `cells`, in index order.
    fn scan(&self, cells: &[i16], range: std::ops::Range<usize>, shift: &Shift, best: &mut Best) {
        match self {
            Scanner::Packed(packed, simd) => packed.scan(*simd, cells, range, shift, best),
            Scanner::Wide(tiles, dim, orientations) => {
                scan_wide(cells, tiles, *dim, *orientations, range, shift, best);
            }
        }
    }
}

/// Whether every distance and kernel score fits in `i32`: scores are bounded
/// by `3 * dim * M^2` and distances by `4 * dim * M^2` for `M = max |value|`.
pub(crate) fn fits_i32(cells: &[i16], tiles: &[i16], dim: usize) -> bool {
    distance_bound(max_abs(cells).max(max_abs(tiles)), dim) < i32::MAX as u128
}

/// `4 * dim * M^2`: bounds every distance and kernel score of values within `±M`.
fn distance_bound(max_abs: u16, dim: usize) -> u128 {
    4 * dim as u128 * u128::from(max_abs).pow(2)
}

/// Tiles regrouped for the SIMD kernels: blocks of `LANES` tiles, each block
/// `pairs` rows of `LANES` interleaved value pairs, plus every tile's `|b|^2`.
/// Lanes past the last tile are zeros with an `i32::MAX` norm, so their score
/// never beats any limit. With several orientations, each block of tiles is
/// followed by its blocks in the other orientations (block `b`, orientation
/// `o`, is number `b * orientations + o`).
pub(crate) struct PackedTiles {
    blocks: Vec<i16>,
    norms: Vec<[i32; LANES]>,
    pairs: usize,
    dim: usize,
    n: usize,
    orientations: usize,
}

impl PackedTiles {
    fn new(tiles: &[i16], dim: usize, orientations: usize) -> PackedTiles {
        let n = tiles.len() / dim / orientations;
        let runs: Vec<_> = (0..n)
            .step_by(LANES)
            .flat_map(|start| {
                (0..orientations).map(move |o| (o * n + start, (n - start).min(LANES)))
            })
            .collect();
        let (blocks, norms) = pack_blocks(tiles, dim, &runs);
        PackedTiles {
            blocks,
            norms,
            pairs: dim.div_ceil(2),
            dim,
            n,
            orientations,
        }
    }

    /// Offers the tiles of `range` (which starts on a block boundary) to
    /// every cell of `cells`.
    fn scan(
        &self,
        simd: Simd,
        cells: &[i16],
        range: std::ops::Range<usize>,
        shift: &Shift,
        best: &mut Best,
    ) {
        let pairs = self.pairs;
        let count = cells.len() / self.dim;
        let packed = pack_cells(cells, self.dim, pairs);
        let norms_a: Vec<i64> = cells
            .chunks_exact(self.dim)
            .map(|a| a.iter().map(|&v| i64::from(v) * i64::from(v)).sum())
            .collect();
        let end = range.end.min(self.n);
        let blocks = range.start / LANES..end.div_ceil(LANES);
        let mut scores: [Scores; 2] = [[[0; LANES]; GROUP]; 2];
        let block_len = 2 * LANES * pairs;
        let worst_of = |best: &Best, cell: usize| {
            if cell < count {
                best.worst(cell)
            } else {
                i64::MIN
            }
        };
        let limit_of = |worst: i64, cell: usize| {
            if cell < count {
                shift.limit(worst, norms_a[cell])
            } else {
                i32::MIN
            }
        };
        // Each kernel call scores two stored blocks: two orientations of a
        // block of tiles (the nearer of the two kept), or two blocks of tiles.
        let (step, pair) = match self.orientations {
            1 => (2, Pair::Both),
            _ => (1, Pair::Nearer),
        };
        let mut more: [Scores; 2] = [[[0; LANES]; GROUP]; 2];
        for run_start in blocks.clone().step_by(RUN_BLOCKS) {
            let run = run_start..(run_start + RUN_BLOCKS).min(blocks.end);
            for (g, group) in packed.chunks_exact(GROUP * pairs).enumerate() {
                let members = g * GROUP..((g + 1) * GROUP).min(count);
                // A row's limit changes only with its worst kept value (a
                // buffered row's at each compaction): it is recomputed then only.
                let mut worsts: [i64; GROUP] =
                    std::array::from_fn(|c| worst_of(best, g * GROUP + c));
                let mut limits: [i32; GROUP] =
                    std::array::from_fn(|c| limit_of(worsts[c], g * GROUP + c));
                for b in run.clone().step_by(step) {
                    let at = b * self.orientations;
                    let both = pair == Pair::Nearer || b + 1 < run.end;
                    let masks = if pair == Pair::Nearer {
                        self.nearest(simd, group, at, shift, &limits, &mut scores, &mut more)
                    } else if both {
                        let stored = &self.blocks[at * block_len..(at + 2) * block_len];
                        let norms = [&shift.norms[at], &shift.norms[at + 1]];
                        simd.pair_scores(group, stored, norms, &limits, &mut scores, pair)
                    } else {
                        let stored = &self.blocks[at * block_len..(at + 1) * block_len];
                        let norms = &shift.norms[at];
                        let masks =
                            simd.block_scores(group, stored, norms, &limits, &mut scores[0]);
                        [masks, [0; GROUP]]
                    };
                    let tile_blocks = if pair == Pair::Both && both { 2 } else { 1 };
                    for (i, (masks, scores)) in
                        masks.iter().zip(&scores).take(tile_blocks).enumerate()
                    {
                        // Blocks in index order, so ties keep going to the lower index.
                        let block = b + i;
                        for (c, cell) in members.clone().enumerate() {
                            let mut mask = masks[c];
                            if mask == 0 {
                                continue;
                            }
                            while mask != 0 {
                                let lane = mask.trailing_zeros() as usize;
                                mask &= mask - 1;
                                let index = block * LANES + lane;
                                if index >= end {
                                    break;
                                }
                                // The second block's masks were taken against the
                                // limits before the first block's offers.
                                if scores[c][lane] >= limits[c] {
                                    continue;
                                }
                                let value =
                                    shift.value(scores[c][lane], norms_a[cell], block, lane);
                                best.offer(cell, value, index as i64);
                            }
                            let worst = best.worst(cell);
                            if worst != worsts[c] {
                                worsts[c] = worst;
                                limits[c] = limit_of(worst, cell);
                            }
                        }
                    }
                }
            }
        }
    }
}

impl PackedTiles {
    /// The scores of the block of tiles whose first stored block is `at`, each
    /// tile in its nearest orientation, into `scores[0]` (`more` is room for
    /// the kernels), and their masks against `limits`.
    #[allow(clippy::too_many_arguments)]
    fn nearest(
        &self,
        simd: Simd,
        group: &[i32],
        at: usize,
        shift: &Shift,
        limits: &[i32; GROUP],
        scores: &mut [Scores; 2],
        more: &mut [Scores; 2],
    ) -> [[u16; GROUP]; 2] {
        let block_len = 2 * LANES * self.pairs;
        let stored = |o: usize, count: usize| {
            &self.blocks[(at + o) * block_len..(at + o + count) * block_len]
        };
        let norms = |o: usize| [&shift.norms[at + o], &shift.norms[at + o + 1]];
        let mut masks =
            simd.pair_scores(group, stored(0, 2), norms(0), limits, scores, Pair::Nearer);
        // Further orientations two at a time (the last alone if odd), each
        // folded into the lane-wise minimum.
        for o in (2..self.orientations).step_by(2) {
            if o + 1 < self.orientations {
                simd.pair_scores(group, stored(o, 2), norms(o), limits, more, Pair::Nearer);
            } else {
                simd.block_scores(
                    group,
                    stored(o, 1),
                    &shift.norms[at + o],
                    limits,
                    &mut more[0],
                );
            }
            masks[0] = nearer(&mut scores[0], &more[0], limits);
        }
        masks
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
    orientations: usize,
    range: std::ops::Range<usize>,
    shift: &Shift,
    best: &mut Best,
) {
    let n = tiles.len() / dim / orientations;
    for (row, cell) in cells.chunks_exact(dim).enumerate() {
        for index in range.clone() {
            let distance = (0..orientations)
                .map(|o| {
                    let e = o * n + index;
                    distance_wide(cell, &tiles[e * dim..(e + 1) * dim])
                })
                .min()
                .unwrap_or(i64::MAX);
            let value = shift.of_distance(distance, index);
            if value < best.worst(row) {
                best.offer(row, value, index as i64);
            }
        }
    }
}

/// The squares of `a - b`, eight values at a time ([`distance_in_range`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn sse2_distance(a: std::slice::ChunksExact<'_, i16>, b: std::slice::ChunksExact<'_, i16>) -> i64 {
    use std::arch::x86_64::*;
    let zero = _mm_setzero_si128();
    let mut total = _mm_setzero_si128();
    for (x, y) in a.zip(b) {
        // SAFETY: `x` and `y` are 8 i16 = 16 bytes each, one unaligned
        // 128-bit load each.
        let (x, y) = unsafe {
            (
                _mm_loadu_si128(x.as_ptr().cast()),
                _mm_loadu_si128(y.as_ptr().cast()),
            )
        };
        let d = _mm_sub_epi16(x, y);
        // Four sums of two squares, each in [0, 2^31): zero-extended.
        let pairs = _mm_madd_epi16(d, d);
        total = _mm_add_epi64(total, _mm_unpacklo_epi32(pairs, zero));
        total = _mm_add_epi64(total, _mm_unpackhi_epi32(pairs, zero));
    }
    let mut lanes = [0i64; 2];
    // SAFETY: `lanes` is 2 i64 = 16 bytes, one unaligned 128-bit store.
    unsafe { _mm_storeu_si128(lanes.as_mut_ptr().cast(), total) };
    lanes[0] + lanes[1]
}

/// [`distance_wide`] of two rows of values within [`VALUE_RANGE`], eight
/// values at a time: every difference then fits `i16` and the sum of two
/// squares `i32` (`2 * 32767^2 < 2^31`), so SSE2's `pmaddwd` sums pairs of
/// squares exactly, widened to `i64` only then. The optimal assignment's
/// reverse bids price their rivals with it, one pair at a time.
pub(crate) fn distance_in_range(a: &[i16], b: &[i16]) -> i64 {
    debug_assert_eq!(a.len(), b.len());
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail = distance_wide(a8.remainder(), b8.remainder());
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE2 is part of every x86-64 target.
    return unsafe { sse2_distance(a8, b8) } + tail;
    #[cfg(not(target_arch = "x86_64"))]
    {
        a8.zip(b8).map(|(x, y)| distance_wide(x, y)).sum::<i64>() + tail
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
        brute_offsets(cells, tiles, dim, k, &vec![0; tiles.len() / dim], 1)
    }

    /// Brute force ranking by `scale * distance + offsets[tile]`.
    fn brute_offsets(
        cells: &[i16],
        tiles: &[i16],
        dim: usize,
        k: usize,
        offsets: &[i64],
        scale: i64,
    ) -> TopK {
        let mut out = TopK {
            indices: vec![],
            distances: vec![],
        };
        for cell in cells.chunks(dim) {
            let mut all: Vec<(i64, i64)> = tiles
                .chunks(dim)
                .enumerate()
                .map(|(i, t)| (scale * distance_wide(cell, t) + offsets[i], i as i64))
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
    fn offsets_rank_exactly_on_every_kernel() {
        let dim = 75;
        let cells = values(37 * dim, 400, 21);
        let tiles = values(1500 * dim, 400, 22);
        let raw = values(1500, 16000, 23);
        for scale in [1, 7, 6145] {
            // Offsets of both signs, some far larger than the distances.
            let offsets: Vec<i64> = raw
                .iter()
                .map(|&v| i64::from(v) * 977 * scale / 3)
                .collect();
            for k in [1, 5, 33, 300] {
                let expected = brute_offsets(&cells, &tiles, dim, k, &offsets, scale);
                for simd in Simd::available() {
                    let set = TileSet::new(simd, &tiles, dim);
                    let offsets = Some(Offsets {
                        values: &offsets,
                        scale,
                    });
                    let got = set.search(&cells, k, offsets, None).unwrap();
                    assert_eq!(got, expected, "{} scale {scale} k {k}", simd.name());
                    // Seeded: the same among values below each cell's seed.
                    let seeds: Vec<i64> =
                        (0..37).map(|c| expected.distances[c * k + c % k]).collect();
                    let seeded = set.search(&cells, k, offsets, Some(&seeds)).unwrap();
                    for (c, &seed) in seeds.iter().enumerate() {
                        for r in c * k..(c + 1) * k {
                            let kept = expected.distances[r] < seed;
                            let want = if kept {
                                (expected.distances[r], expected.indices[r])
                            } else {
                                (i64::MAX, i64::MAX)
                            };
                            assert_eq!((seeded.distances[r], seeded.indices[r]), want);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn large_k_and_wide_offsets_match_brute_force() {
        let wide_cells = values(3 * 75, 16000, 33);
        let wide_tiles = values(400 * 75, 16000, 34);
        let offsets: Vec<i64> = (0..400).map(|i| (i * 7919 % 1000) - 500).collect();
        let offsets_arg = Offsets {
            values: &offsets,
            scale: 3,
        };
        assert_eq!(
            search_topk_offsets(
                Simd::detect(),
                &wide_cells,
                &wide_tiles,
                75,
                50,
                offsets_arg
            )
            .unwrap(),
            brute_offsets(&wide_cells, &wide_tiles, 75, 50, &offsets, 3)
        );
    }

    #[test]
    fn matches_brute_force_with_many_ties() {
        // Large k keeps unordered buffers; 5,000 tiles make shards.
        let dim = 5;
        let cells = values(40 * dim, 2, 1);
        let tiles = values(5000 * dim, 2, 2);
        for k in [1, 3, 17, 33, 100, 5000] {
            assert_eq!(
                search_topk(&cells, &tiles, dim, k).unwrap(),
                brute(&cells, &tiles, dim, k)
            );
        }
    }

    #[test]
    fn pair_keys_order_like_pairs() {
        let edge = [
            i64::MIN,
            i64::MIN + 1,
            -2,
            -1,
            0,
            1,
            7,
            i64::MAX - 1,
            i64::MAX,
        ];
        let mut pairs: Vec<(i64, i64)> = edge
            .iter()
            .flat_map(|&v| edge.iter().map(move |&i| (v, i)))
            .collect();
        pairs.reverse();
        let mut keys: Vec<u128> = pairs.iter().map(|&(v, i)| pair_key(v, i)).collect();
        pairs.sort_unstable();
        keys.sort_unstable();
        assert_eq!(keys.into_iter().map(key_pair).collect::<Vec<_>>(), pairs);
    }

    #[test]
    fn unordered_rows_keep_the_k_best_through_many_compactions() {
        // Few distinct distances (many ties), offsets of both signs and k
        // from just buffered to most of the tiles; 5,000 tiles make shards.
        let dim = 5;
        let (m, n) = (40, 5000);
        let cells = values(m * dim, 2, 71);
        let tiles = values(n * dim, 2, 72);
        let offsets: Vec<i64> = (0..n as i64).map(|t| (t * 7919 % 7) - 3).collect();
        for k in [33, 100, 700, 4000] {
            let expected = brute_offsets(&cells, &tiles, dim, k, &offsets, 5);
            for simd in Simd::available() {
                let set = TileSet::new(simd, &tiles, dim);
                let offsets = Some(Offsets {
                    values: &offsets,
                    scale: 5,
                });
                let rows = set.search_unordered(&cells, k, offsets, None).unwrap();
                for (c, mut row) in rows.into_iter().enumerate() {
                    row.sort_unstable();
                    let want: Vec<(i64, i64)> = (c * k..(c + 1) * k)
                        .map(|r| (expected.distances[r], expected.indices[r]))
                        .collect();
                    assert_eq!(row, want, "{} k {k} cell {c}", simd.name());
                }
            }
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
    fn oriented_sets_rank_each_tile_by_its_nearest_orientation() {
        // Narrow values (packed kernels, partial blocks and shards) and wide
        // ones (the i64 scan), with and without offsets, seeded or not; a
        // mirror image (2), quarter turns (4), both (8), and an odd count.
        for (dim, m, n, span, orientations) in [
            (75, 37, 1000, 400, 2),
            (3, 9, 4500, 60, 2),
            (75, 5, 70, 16000, 2),
            (24, 21, 700, 300, 4),
            (75, 13, 300, 400, 8),
            (5, 9, 90, 16000, 8),
            (7, 6, 200, 90, 3),
        ] {
            let cells = values(m * dim, span, 61);
            let all = values(orientations * n * dim, span, 62);
            let offsets: Vec<i64> = (0..n as i64).map(|t| (t * 7919 % 2001) - 1000).collect();
            // The tile's distance is its nearest orientation's.
            let nearest: Vec<i64> = cells
                .chunks(dim)
                .flat_map(|cell| {
                    let all = &all;
                    (0..n).map(move |t| {
                        let row = |e: usize| &all[e * dim..(e + 1) * dim];
                        (0..orientations)
                            .map(|o| distance_wide(cell, row(t + o * n)))
                            .min()
                            .unwrap()
                    })
                })
                .collect();
            for (k, scale) in [(1, 1), (4, 1), (33, 6145), (n, 3)] {
                let mut expected = TopK {
                    indices: vec![],
                    distances: vec![],
                };
                for row in nearest.chunks(n) {
                    let mut all: Vec<(i64, i64)> = (0..n)
                        .map(|t| (scale * row[t] + offsets[t], t as i64))
                        .collect();
                    all.sort_unstable();
                    expected.distances.extend(all[..k].iter().map(|p| p.0));
                    expected.indices.extend(all[..k].iter().map(|p| p.1));
                }
                for simd in Simd::available() {
                    let set = TileSet::oriented(simd, &all, dim, orientations);
                    assert_eq!(set.len(), n);
                    let offsets = Some(Offsets {
                        values: &offsets,
                        scale,
                    });
                    let got = set.search(&cells, k, offsets, None).unwrap();
                    let name = simd.name();
                    assert_eq!(got, expected, "{name} dim {dim} k {k} x{orientations}");
                    let seeds: Vec<i64> =
                        (0..m).map(|c| expected.distances[c * k + k / 2]).collect();
                    let mut seeded = set
                        .search_unordered(&cells, k, offsets, Some(&seeds))
                        .unwrap();
                    for (c, row) in seeded.iter_mut().enumerate() {
                        row.sort_unstable();
                        let want: Vec<(i64, i64)> = (c * k..(c + 1) * k)
                            .map(|r| (expected.distances[r], expected.indices[r]))
                            .filter(|&(v, _)| v < seeds[c])
                            .collect();
                        assert_eq!(*row, want, "{} seeded, dim {dim} k {k}", simd.name());
                    }
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
    fn few_cells_split_across_threads_give_the_same_rows() {
        // A search of one to three cells is split into shards of tiles (the
        // optimal assignment's end game makes thousands): whatever the thread
        // count, the rows of the exhaustive order, seeded ones included.
        let (dim, n, k, scale) = (75, 10_000, 419, 11);
        let tiles = values(n * dim, 400, 8);
        let offsets: Vec<i64> = (0..n as i64).map(|t| (t * 7919 % 2001) - 1000).collect();
        for m in 1..=3 {
            let cells = values(m * dim, 400, 9 + m as u64);
            let expected = brute_offsets(&cells, &tiles, dim, k, &offsets, scale);
            let seeds: Vec<i64> = (0..m).map(|c| expected.distances[c * k + 300]).collect();
            for threads in [1, 2, 3, 4] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let (sorted, unordered) = pool.install(|| {
                    let set = TileSet::new(Simd::chosen().unwrap(), &tiles, dim);
                    let shift = || {
                        Some(Offsets {
                            values: &offsets,
                            scale,
                        })
                    };
                    (
                        set.search(&cells, k, shift(), None).unwrap(),
                        set.search_unordered(&cells, k, shift(), Some(&seeds))
                            .unwrap(),
                    )
                });
                assert_eq!(sorted, expected, "{m} cells, {threads} threads");
                for (c, mut row) in unordered.into_iter().enumerate() {
                    row.sort_unstable();
                    let want: Vec<(i64, i64)> = (c * k..(c + 1) * k)
                        .map(|r| (expected.distances[r], expected.indices[r]))
                        .filter(|&(value, _)| value < seeds[c])
                        .collect();
                    assert_eq!(row, want, "{m} cells seeded, {threads} threads");
                }
            }
        }
    }

    #[test]
    fn distance_in_range_is_the_wide_distance() {
        let (lo, hi) = VALUE_RANGE;
        let mut next = {
            let mut state = 7u64;
            move || {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                lo + ((state >> 33) % (i32::from(hi) - i32::from(lo) + 1) as u64) as i16
            }
        };
        for dim in [1, 7, 8, 9, 16, 48, 75, 80] {
            let rows: Vec<Vec<i16>> = (0..20)
                .map(|_| (0..dim).map(|_| next()).collect())
                .collect();
            // The extremes: the largest difference in every value.
            let (low, high) = (vec![lo; dim], vec![hi; dim]);
            assert_eq!(distance_in_range(&low, &high), distance_wide(&low, &high));
            assert_eq!(distance_in_range(&high, &low), distance_wide(&high, &low));
            for a in &rows {
                for b in &rows {
                    assert_eq!(distance_in_range(a, b), distance_wide(a, b), "dim {dim}");
                }
            }
        }
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
        let short = Offsets {
            values: &[0],
            scale: 1,
        };
        assert!(matches!(
            search_topk_offsets(Simd::detect(), &[0; 3], &tiles, 3, 1, short),
            Err(CoreError::Shape(_))
        ));
        let unscaled = Offsets {
            values: &[0, 0],
            scale: 0,
        };
        assert!(matches!(
            search_topk_offsets(Simd::detect(), &[0; 3], &tiles, 3, 1, unscaled),
            Err(CoreError::Argument(_))
        ));
        let huge = Offsets {
            values: &[i64::MAX / 2, 0],
            scale: 1 << 20,
        };
        assert!(matches!(
            search_topk_offsets(Simd::detect(), &[0; 3], &tiles, 3, 1, huge),
            Err(CoreError::Argument(_))
        ));
    }
}
