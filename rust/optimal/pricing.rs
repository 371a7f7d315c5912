//! Lazy exact pricing for the auction: which tiles a cell considers, and the
//! bound that every other tile's value `K c + price` is known to reach.
//!
//! A cell bids from its *list* (`LIST_LEN` tiles), refilled from its *pool*
//! (up to `pool_len` tiles, sorted by their value when pooled); a pool comes
//! from one exhaustive search ranked by `K c + price`, made for many cells at
//! once. Prices only rise in the forward auction, so the bounds stay valid;
//! the reverse auction lowers some, and [`Auction::relist`] then adds those
//! tiles where they now count (and pools are sorted again by today's values).
//! Cost per refill: the pool entries whose value when pooled is below the
//! list's worst value; per search: `cells * tiles * dim`.

use super::{near_square, Auction, Entry, INF};
use crate::error::CoreResult;
use crate::kernels::{Simd, LANES};
use crate::search::{pair_key, Offsets, TileSet};
use rayon::prelude::*;

/// Re-priced cells per parallel task building pools (fewer run inline).
const PAR_CELLS: usize = 8;

/// The value every entry missing from a search's row reaches: the row's
/// largest if it holds all `k` asked for (nothing if that is all `total`
/// entries), else the seed (the row holds every entry below it).
fn found_bound(row: &[(i64, i64)], k: usize, total: usize, seed: i64) -> i64 {
    if row.len() < k {
        seed.min(INF)
    } else if k == total {
        INF
    } else {
        row.iter().map(|&(v, _)| v).max().unwrap_or(INF)
    }
}

/// The rows of a sample of the tiles, every `SAMPLE_STEP`-th run of `LANES`,
/// made once per solve for its [`Sample`] to search.
pub(super) struct SampleRows {
    /// The sampled tiles' rows, in each orientation in turn.
    values: Vec<i16>,
    /// The number of each sampled tile.
    entries: Vec<usize>,
}

/// One run of entries in this many is sampled.
const SAMPLE_STEP: usize = 8;

impl SampleRows {
    /// `None` when there are too few tiles for a sample to pay; `tiles` as in
    /// [`super::Problem`].
    pub(super) fn new(tiles: &[i16], dim: usize, orientations: usize) -> Option<SampleRows> {
        let n = tiles.len() / dim / orientations;
        if n < 64 * SAMPLE_STEP * LANES {
            return None;
        }
        let entries: Vec<usize> = (0..n)
            .filter(|e| (e / LANES).is_multiple_of(SAMPLE_STEP))
            .collect();
        let values = (0..orientations)
            .flat_map(|c| entries.iter().map(move |&e| e + c * n))
            .flat_map(|e| tiles[e * dim..(e + 1) * dim].iter().copied())
            .collect();
        Some(SampleRows { values, entries })
    }
}

/// The sampled tiles, packed once for the kernel: a cheap estimate of the
/// value below which about `k` tiles lie, to seed a cell's first search (then
/// it keeps those tiles only, without sorting thousands) and to tighten a
/// near-square problem's re-pricing seeds.
pub(super) struct Sample<'a> {
    set: TileSet<'a>,
    entries: &'a [usize],
}

impl<'a> Sample<'a> {
    pub(super) fn new(
        rows: &'a SampleRows,
        dim: usize,
        orientations: usize,
    ) -> CoreResult<Sample<'a>> {
        Ok(Sample {
            set: TileSet::oriented(Simd::chosen()?, &rows.values, dim, orientations),
            entries: &rows.entries,
        })
    }

    /// Per cell of `rows`, a value about `k` of the `total` entries are
    /// below: the `k * len / total`-th best of the sample, plus one; only
    /// the sampled entries below `within` (per cell) are searched, and a
    /// cell with fewer than that many below it gets `i64::MAX`.
    fn seeds(
        &self,
        rows: &[i16],
        k: usize,
        offsets: Offsets<'_>,
        total: usize,
        within: Option<&[i64]>,
    ) -> CoreResult<Vec<i64>> {
        let values: Vec<i64> = self.entries.iter().map(|&e| offsets.values[e]).collect();
        let j = (k * self.entries.len())
            .div_ceil(total)
            .clamp(1, self.entries.len());
        let offsets = Offsets {
            values: &values,
            scale: offsets.scale,
        };
        let found = self.set.search_unordered(rows, j, Some(offsets), within)?;
        Ok(found
            .iter()
            .map(|row| match row.iter().map(|&(v, _)| v).max() {
                Some(jth) if row.len() == j => jth.saturating_add(1),
                _ => i64::MAX,
            })
            .collect())
    }
}

/// The cold side of the search when the library is much larger than the
/// cells: few tiles ever get a price (about one per cell), every other tile
/// is worth `K c` to a cell for good. Each cell keeps its nearest tiles by
/// distance, found once by an exhaustive search; re-pricing a cell then
/// searches only the hot tiles and takes the nearest cold ones from this
/// list, whose last distance bounds every unlisted cold tile.
pub(super) struct Cold {
    /// Per cell: `(tile, cost)` by increasing `(cost, tile)`; empty until
    /// the cell's first search.
    lists: Vec<Vec<(u32, u32)>>,
    /// Per cell: the first entry that may still be cold.
    cursor: Vec<u32>,
    /// Per cell: `K` times the smallest cost of an unlisted tile (`INF` if none).
    bound: Vec<i64>,
}

/// In a loose problem a re-priced cell's pool keeps only the tiles below its
/// old pool's `k / LOOSE_RESEED`-th value at today's prices (at least that
/// many tiles, often fewer than `k`): cheaper selection, sorts and refills,
/// measured 8-10% faster on 6,144 x 10,000 and a few per cent on the demo
/// (benches/NOTES.md, "Sixth round"). Near-square problems keep `k` (shorter
/// pools measured slower there), and so do classes of identical cells, which
/// hold a tile per cell. A loose problem started from warm prices also keeps
/// its first pools `k / LOOSE_RESEED` long (the demo's solve 10% faster at
/// one thread; without warm prices it measured no gain: "Eighth round").
const LOOSE_RESEED: usize = 4;

/// A near-square problem's re-pricing seed is also at most the sample's
/// estimate of the `TIGHT_DEPTH * k / 4`-th value, searched among the sampled
/// tiles below the old pool's seed: the old pool's tiles are those whose
/// prices rose, so its seed is loose (a row offered ~760 tiles for 419
/// kept), and at `6k/4` the sample's estimate leaves the pools as they were
/// on photographs while the search offers fewer (benches/NOTES.md, "Seventh
/// round").
const TIGHT_DEPTH: usize = 6;

/// Cold list entries kept in all (memory: 8 bytes each) ...
const COLD_BUDGET: usize = 16 << 20;
/// ... and per cell at first; a cell that uses its list up gets one twice as
/// long.
const COLD_DEPTH: usize = 2048;

impl Cold {
    /// Whether the library is large enough for cold lists to pay: many more
    /// tiles than cells, and costs that fit `u32` with room for the offset
    /// that ranks hot tiles last in a kernel search.
    pub(super) fn wanted(m: usize, n: usize, orientations: usize, max_cost: u128) -> bool {
        n >= 8 * m && orientations == 1 && max_cost < (1 << 29)
    }

    pub(super) fn new(m: usize) -> Cold {
        Cold {
            lists: vec![Vec::new(); m],
            cursor: vec![0; m],
            bound: vec![INF; m],
        }
    }

    fn depth(m: usize) -> usize {
        (COLD_BUDGET / m.max(1)).clamp(256, COLD_DEPTH)
    }
}

impl Auction<'_> {
    /// The current value `K c + price` of an entry.
    pub(super) fn value(&self, e: &Entry) -> i64 {
        self.scale * e.cost + self.p1[e.tile as usize]
    }

    /// A stamp no mark holds yet.
    pub(super) fn next_stamp(&mut self) -> u64 {
        self.stamp += 1;
        self.stamp
    }

    /// Sets a cell's pool, keyed by current values and sorted by `(key, tile)`.
    fn set_pool(&mut self, i: usize, pool: Vec<Entry>) {
        let pool = self.keyed(pool);
        self.sorted[i] = pool.len() as u32;
        self.keyed[i] = self.drops;
        self.pool[i] = pool;
    }

    /// A pool keyed by current values and sorted by `(key, tile)`.
    fn keyed(&self, mut pool: Vec<Entry>) -> Vec<Entry> {
        for e in &mut pool {
            e.key = self.value(e);
        }
        pool.sort_unstable_by_key(|e| pair_key(e.key, i64::from(e.tile)));
        pool
    }

    /// Rebuilds a cell's list from its pool: its `list_len` best entries by
    /// current value; the list's bound is the next entry's value (or the
    /// pool's bound). False if the pool cannot tell the cell's best tile.
    ///
    /// Prices only rise between two falls, so the scan of the part sorted by
    /// key (the value when keyed) stops at the first key that reaches the
    /// worst value kept; after a price fell the pool is keyed again first.
    pub(super) fn refill(&mut self, i: usize) -> bool {
        let c = self.class(i);
        if self.keyed[c] != self.drops {
            let pool = std::mem::take(&mut self.pool[c]);
            self.set_pool(c, pool);
        }
        let (list, bound) = self.listed(&self.pool[c], self.sorted[c] as usize, self.pool_bound[c]);
        let known = list.first().map_or(INF, |e| e.key) <= self.pool_bound[c];
        self.bound[i] = bound;
        self.lists[i] = list;
        known
    }

    /// The list of a pool whose first `sorted` entries are sorted by key (a
    /// value no lower than today's), and its bound: the `list_len` best
    /// entries by current value (each keyed by it), and the value every other
    /// tile reaches.
    fn listed(&self, pool: &[Entry], sorted: usize, pool_bound: i64) -> (Vec<Entry>, i64) {
        let keep = self.list_len + 1;
        // The best `keep` (value, tile, cost) so far, sorted.
        let mut best: Vec<(i64, u32, i64)> = Vec::with_capacity(keep + 1);
        let (sorted, extra) = pool.split_at(sorted);
        let offer = |e: &Entry, best: &mut Vec<(i64, u32, i64)>| {
            let entry = (self.value(e), e.tile, e.cost);
            if best.len() == keep && (entry.0, entry.1) >= (best[keep - 1].0, best[keep - 1].1) {
                return;
            }
            let at = best.partition_point(|b| (b.0, b.1) < (entry.0, entry.1));
            best.insert(at, entry);
            best.truncate(keep);
        };
        for e in sorted {
            if best.len() == keep && e.key >= best[keep - 1].0 {
                break; // the rest of the sorted part is worth at least this much
            }
            offer(e, &mut best);
        }
        for e in extra {
            offer(e, &mut best);
        }
        let next = if best.len() == keep {
            best.pop().map_or(INF, |b| b.0)
        } else {
            INF
        };
        let list = best
            .iter()
            .map(|&(key, tile, cost)| Entry { tile, cost, key })
            .collect();
        (list, pool_bound.min(next))
    }

    /// Shortens a pool (of class `i`) to its best entries by current value,
    /// lowering its bound to the best entry dropped, and refills the class
    /// representative's list from it.
    fn trim_pool(&mut self, i: usize) {
        let mut pool = std::mem::take(&mut self.pool[i]);
        pool.sort_unstable_by_key(|e| (self.value(e), e.tile));
        let len = self.pool_len_of(i);
        let dropped = self.value(&pool[len]);
        pool.truncate(len);
        self.set_pool(i, pool);
        self.pool_bound[i] = self.pool_bound[i].min(dropped);
        self.refill(i);
    }

    /// A value that at least `k` entries of cell `i` reach, plus one: its
    /// pool's `k`-th at current prices (`i64::MAX` if the pool is shorter).
    fn seed(&self, i: usize, k: usize) -> i64 {
        if self.pool[i].len() < k {
            return i64::MAX;
        }
        let mut values: Vec<i64> = self.pool[i].iter().map(|e| self.value(e)).collect();
        let (_, kth, _) = values.select_nth_unstable(k - 1);
        *kth + 1
    }

    /// The rows of `cells`' descriptors, one after another.
    pub(super) fn rows_of(&self, cells: &[u32]) -> Vec<i16> {
        let dim = self.problem.dim;
        cells
            .iter()
            .flat_map(|&c| {
                let c = c as usize;
                self.problem.cells[c * dim..(c + 1) * dim].iter().copied()
            })
            .collect()
    }

    /// The rows of `tiles` as [`Problem`](super::Problem) lays them out
    /// (in each orientation in turn).
    fn tile_rows(&self, tiles: &[u32]) -> Vec<i16> {
        let (dim, n) = (self.problem.dim, self.n);
        (0..self.problem.orientations)
            .flat_map(|c| tiles.iter().map(move |&t| t as usize + c * n))
            .flat_map(|e| self.problem.tiles[e * dim..(e + 1) * dim].iter().copied())
            .collect()
    }

    /// `tiles` as a searched set (each ranked by its nearest orientation).
    fn subset<'r>(&self, rows: &'r [i16]) -> CoreResult<TileSet<'r>> {
        let simd = Simd::chosen()?;
        Ok(TileSet::oriented(
            simd,
            rows,
            self.problem.dim,
            self.problem.orientations,
        ))
    }

    /// New pools and lists for `cells`: their `pool_len` best tiles by
    /// `K c + price` (or all those below a seed, if fewer), by one
    /// exhaustive search.
    ///
    /// Identical cells share one pool: each class is searched once, then
    /// every cell of `cells` refills its list from its class's new pool.
    pub(super) fn reprice(&mut self, cells: &[u32]) -> CoreResult<()> {
        let mut classes: Vec<u32> = cells
            .iter()
            .map(|&c| self.class(c as usize) as u32)
            .collect();
        classes.sort_unstable();
        classes.dedup();
        if self.cold.is_some() {
            self.reprice_hot(&classes)?;
        } else {
            self.reprice_classes(&classes)?;
        }
        for &cell in cells {
            let i = cell as usize;
            if self.class(i) != i {
                self.refill(i);
            }
        }
        Ok(())
    }

    /// [`Auction::reprice`] for the representatives of classes: one search
    /// for the classes of one cell, one for each larger class (its pool is
    /// longer).
    fn reprice_classes(&mut self, cells: &[u32]) -> CoreResult<()> {
        let (single, shared): (Vec<u32>, Vec<u32>) =
            cells.iter().partition(|&&c| !self.shared(c as usize));
        self.reprice_group(&single, self.pool_len)?;
        for c in shared {
            self.reprice_group(&[c], self.pool_len_of(c as usize))?;
        }
        Ok(())
    }

    /// [`Auction::reprice_classes`] for classes whose pools take `len` tiles.
    fn reprice_group(&mut self, cells: &[u32], len: usize) -> CoreResult<()> {
        if cells.is_empty() {
            return Ok(());
        }
        self.progress.repriced += cells.len() as u64;
        self.progress.passes += 1;
        let total = self.priced.tiles().len();
        let square = near_square(self.m, self.n, self.problem.capacity);
        let mut k = len.min(total);
        let first = self.pool[cells[0] as usize].is_empty();
        if first && self.warm && !square && cells.iter().all(|&c| !self.shared(c as usize)) {
            k = (k / LOOSE_RESEED).max(1);
        }
        let rows = self.rows_of(cells);
        let seeds: Vec<i64> = match &self.sample {
            Some(sample) if first => {
                let offsets = Offsets {
                    values: &self.p1,
                    scale: self.scale,
                };
                sample.seeds(&rows, k, offsets, total, None)?
            }
            _ => {
                let depth = |c: usize| {
                    if square || self.shared(c) {
                        k
                    } else {
                        (k / LOOSE_RESEED).max(1)
                    }
                };
                let seeds: Vec<i64> = cells
                    .iter()
                    .map(|&c| self.seed(c as usize, depth(c as usize)))
                    .collect();
                match &self.sample {
                    Some(sample) if square => {
                        let offsets = Offsets {
                            values: &self.p1,
                            scale: self.scale,
                        };
                        let depth = (k * TIGHT_DEPTH / 4).max(1);
                        let tight = sample.seeds(&rows, depth, offsets, total, Some(&seeds))?;
                        seeds.iter().zip(tight).map(|(&s, t)| s.min(t)).collect()
                    }
                    _ => seeds,
                }
            }
        };
        let found = self.priced.search_unordered(&rows, k, Some(&seeds))?;
        // Each cell's pool and list from its row, in parallel: the sorts
        // and list scans cost as much as the search itself.
        let this = &*self;
        let built: Vec<_> = found
            .into_par_iter()
            .zip(seeds.par_iter())
            .with_min_len(PAR_CELLS)
            .map(|(row, &seed)| {
                let pool_bound = found_bound(&row, k, total, seed);
                let pool = this.keyed(
                    row.iter()
                        .map(|&(value, tile)| Entry {
                            tile: tile as u32,
                            cost: (value - this.p1[tile as usize]) / this.scale,
                            key: value,
                        })
                        .collect(),
                );
                let (list, bound) = this.listed(&pool, pool.len(), pool_bound);
                (pool, pool_bound, list, bound)
            })
            .collect();
        for (&cell, (pool, pool_bound, list, bound)) in cells.iter().zip(built) {
            let i = cell as usize;
            (self.sorted[i], self.keyed[i]) = (pool.len() as u32, self.drops);
            (self.pool[i], self.pool_bound[i]) = (pool, pool_bound);
            (self.lists[i], self.bound[i]) = (list, bound);
        }
        Ok(())
    }

    /// Re-prices `cells` with cold lists: the hot tiles by one search among
    /// them, the cold ones from the lists; cells without a list, or whose
    /// list is used up, get a (longer) one first.
    fn reprice_hot(&mut self, cells: &[u32]) -> CoreResult<()> {
        let depth = Cold::depth(self.m);
        let first: Vec<u32> = cells
            .iter()
            .copied()
            .filter(|&c| {
                self.cold
                    .as_ref()
                    .is_some_and(|cold| cold.lists[c as usize].is_empty())
            })
            .collect();
        self.fill_cold(&first, depth)?;
        let stuck = self.reprice_hot_once(cells)?;
        if stuck.is_empty() {
            return Ok(());
        }
        let longest = stuck
            .iter()
            .map(|&c| {
                self.cold
                    .as_ref()
                    .map_or(0, |cold| cold.lists[c as usize].len())
            })
            .max()
            .unwrap_or(0);
        self.fill_cold(&stuck, (2 * longest).max(depth))?;
        self.reprice_hot_once(&stuck)?;
        Ok(())
    }

    /// Gives `cells` cold lists of up to `depth` entries: one exhaustive
    /// search by distance in which hot tiles rank last.
    fn fill_cold(&mut self, cells: &[u32], depth: usize) -> CoreResult<()> {
        if cells.is_empty() {
            return Ok(());
        }
        let total = self.priced.tiles().len();
        let k = depth.min(total);
        let rows = self.rows_of(cells);
        // Past every distance: a hot tile never ranks before a cold one.
        let past = self.max_cost + 1;
        let exclude: Vec<i64> = self.hot.iter().map(|&h| if h { past } else { 0 }).collect();
        let offsets = Offsets {
            values: &exclude,
            scale: 1,
        };
        let seeds = match &self.sample {
            Some(sample) => sample.seeds(&rows, k, offsets, total, None)?,
            None => vec![past; cells.len()],
        };
        let found = self
            .priced
            .tiles()
            .search_unordered(&rows, k, Some(offsets), Some(&seeds))?;
        self.progress.passes += 1;
        let scale = self.scale;
        let Some(cold) = self.cold.as_mut() else {
            return Ok(());
        };
        for ((&cell, mut row), &seed) in cells.iter().zip(found).zip(&seeds) {
            let i = cell as usize;
            row.retain(|&(d, _)| d < past);
            row.sort_unstable();
            cold.bound[i] = match found_bound(&row, k, total, seed.min(past)) {
                bound if bound >= past => INF,
                bound => scale * bound,
            };
            cold.lists[i] = row.iter().map(|&(d, t)| (t as u32, d as u32)).collect();
            cold.cursor[i] = 0;
        }
        Ok(())
    }

    /// One re-pricing of `cells` from the hot tiles and the cold lists;
    /// returns the cells whose pool cannot tell their best tile (cold list
    /// used up).
    fn reprice_hot_once(&mut self, cells: &[u32]) -> CoreResult<Vec<u32>> {
        self.progress.repriced += cells.len() as u64;
        let len = self.pool_len;
        let hot: Vec<u32> = (0..self.n as u32)
            .filter(|&t| self.hot[t as usize])
            .collect();
        let k = len.min(hot.len());
        let mut found = vec![Vec::new(); cells.len()];
        let mut seeds = vec![INF; cells.len()];
        if k > 0 {
            let rows = self.tile_rows(&hot);
            let prices: Vec<i64> = hot.iter().map(|&t| self.p1[t as usize]).collect();
            seeds = cells.iter().map(|&c| self.seed(c as usize, k)).collect();
            let set = self.subset(&rows)?;
            let offsets = Offsets {
                values: &prices,
                scale: self.scale,
            };
            found = set.search_unordered(&self.rows_of(cells), k, Some(offsets), Some(&seeds))?;
            self.progress.passes += 1;
        }
        let mut stuck = Vec::new();
        for ((&cell, row), &seed) in cells.iter().zip(found).zip(&seeds) {
            let i = cell as usize;
            let hot_bound = found_bound(&row, k, hot.len(), seed);
            let mut pool: Vec<Entry> = row
                .iter()
                .map(|&(value, e)| {
                    let tile = hot[e as usize];
                    Entry {
                        tile,
                        cost: (value - self.p1[tile as usize]) / self.scale,
                        key: value,
                    }
                })
                .collect();
            let cold_bound = self.take_cold(i, len, &mut pool);
            self.set_pool(i, pool);
            self.pool_bound[i] = hot_bound.min(cold_bound);
            if !self.refill(i) {
                stuck.push(cell);
            }
        }
        Ok(stuck)
    }

    /// Appends up to `len` of cell `i`'s nearest cold tiles to `pool`;
    /// returns the value every other cold tile reaches.
    fn take_cold(&mut self, i: usize, len: usize, pool: &mut Vec<Entry>) -> i64 {
        let Some(cold) = self.cold.as_mut() else {
            return INF;
        };
        let list = &cold.lists[i];
        let mut at = cold.cursor[i] as usize;
        while at < list.len() && self.hot[list[at].0 as usize] {
            at += 1; // hot for good
        }
        cold.cursor[i] = at as u32;
        let mut taken = 0;
        for &(tile, cost) in &list[at..] {
            if self.hot[tile as usize] {
                continue;
            }
            if taken == len {
                return self.scale * i64::from(cost);
            }
            pool.push(Entry {
                tile,
                cost: i64::from(cost),
                key: self.scale * i64::from(cost) + self.p1[tile as usize],
            });
            taken += 1;
        }
        cold.bound[i]
    }

    /// Keeps every pool's and list's bound valid after the prices of `tiles`
    /// fell: one search of all cells among those tiles adds each cell's best
    /// of them below its bounds, and lowers the bounds to what the search
    /// cannot tell.
    pub(super) fn relist(&mut self, tiles: &[u32]) -> CoreResult<()> {
        if tiles.is_empty() {
            return Ok(());
        }
        let rows = self.tile_rows(tiles);
        let prices: Vec<i64> = tiles.iter().map(|&t| self.p1[t as usize]).collect();
        let subset = self.subset(&rows)?;
        let k = self.list_len.min(tiles.len());
        let offsets = Offsets {
            values: &prices,
            scale: self.scale,
        };
        let found = subset.search(self.problem.cells, k, Some(offsets), None)?;
        self.progress.passes += 1;
        for i in 0..self.m {
            let c = self.class(i);
            let row = i * k..(i + 1) * k;
            if found.distances[row.start] < self.pool_bound[c] {
                let stamp = self.next_stamp();
                for e in &self.pool[c] {
                    self.marks[e.tile as usize] = stamp;
                }
                let hits = found.indices[row.clone()].iter().zip(&found.distances[row]);
                for (&e, &value) in hits {
                    if value >= self.pool_bound[c] {
                        break;
                    }
                    let tile = tiles[e as usize];
                    let entry = Entry {
                        tile,
                        cost: (value - prices[e as usize]) / self.scale,
                        key: value,
                    };
                    if self.marks[tile as usize] != stamp {
                        self.marks[tile as usize] = stamp;
                        self.pool[c].push(entry);
                    }
                    if value < self.bound[i] && !self.lists[i].iter().any(|x| x.tile == tile) {
                        self.lists[i].push(entry);
                    }
                }
            }
            if k < tiles.len() {
                let unseen = found.distances[(i + 1) * k - 1];
                self.pool_bound[c] = self.pool_bound[c].min(unseen);
                self.bound[i] = self.bound[i].min(unseen);
            }
            if self.pool[c].len() > 2 * self.pool_len_of(c) {
                self.trim_pool(c);
                self.refill(i);
            }
        }
        Ok(())
    }
}
