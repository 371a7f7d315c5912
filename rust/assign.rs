//! Assignment of tiles to cells from per-cell candidate lists: row-major
//! `(m, k)` arrays of tile indices (`-1` pads a short row) and their costs,
//! lower is better.
//!
//! - [`penalised_greedy`] visits cells in a given order and gives each the
//!   candidate of least `cost + penalty * uses`, skipping tiles at their use
//!   limit or already placed within a Chebyshev radius `r`. Cost:
//!   `O(m * (k + r^2) + n)`, sequential (each choice depends on the earlier).
//! - [`optimal_assignment`] finds the minimum total cost assignment with every
//!   tile used at most `capacity` times, exactly, on the sparse candidate graph:
//!   successive shortest augmenting paths (Dijkstra on reduced costs with
//!   potentials, as in Jonker and Volgenant) over the flow network
//!   cell -> tile -> sink, where a tile below its capacity ends a path. It
//!   returns the dual potentials that certify optimality. With tiles of one
//!   use and integer costs (the matcher's re-ranked problem) an ε-scaling
//!   auction solves it instead (`assign/auction.rs`), its duals recovered by
//!   shortest paths, which also check it (no duals, no answer: the paths run).
//!   Cost of the paths: one Dijkstra per cell, `O(E log E)` in the edges it
//!   explores (a few, or thousands where many cells want the same tiles), so
//!   `O(m * m * k * log)` at worst; of the auction, `O(k)` per bid.
//!   Sequential, hence the same result for any thread count.
//! - [`rank_candidates`] turns a search's rows of entries into candidate lists:
//!   each row sorted by score (ties to the lower entry), a tile in another
//!   orientation (entry `t + o * n`: its mirror image, its quarter turns) kept
//!   only where it ranks before the tile's other orientations, and cut to `n`
//!   columns. Cost: `O(m * k log k)`, rows in parallel.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use rayon::prelude::*;

use crate::error::{CoreError, CoreResult};

mod auction;

/// A cell with no assigned tile, or a padding entry of a candidate row.
pub const NONE: i64 = -1;

/// Candidate lists: row-major `(m, k)` tile indices and costs.
#[derive(Debug, Clone, Copy)]
pub struct Candidates<'a> {
    pub tiles: &'a [i64],
    pub costs: &'a [f64],
    pub k: usize,
    pub n_tiles: usize,
}

impl Candidates<'_> {
    /// Checks shapes and values; returns the number of cells `m`.
    pub fn check(&self) -> CoreResult<usize> {
        let k = self.k;
        if k == 0 {
            return Err(CoreError::Shape(
                "candidate lists must have at least one column (k >= 1)".into(),
            ));
        }
        if self.tiles.len() != self.costs.len() || !self.tiles.len().is_multiple_of(k) {
            return Err(CoreError::Shape(format!(
                "cand and cost must both have shape (m, {k}), got {} and {} values",
                self.tiles.len(),
                self.costs.len()
            )));
        }
        let n = self.n_tiles;
        // `seen[t] == row + 1` marks tile `t` as listed in the current row.
        let mut seen = vec![0usize; n];
        for (row, (tiles, costs)) in self
            .tiles
            .chunks_exact(k)
            .zip(self.costs.chunks_exact(k))
            .enumerate()
        {
            for (&tile, &cost) in tiles.iter().zip(costs) {
                if tile == NONE {
                    continue;
                }
                if !(0..n as i64).contains(&tile) {
                    return Err(CoreError::Argument(format!(
                        "cand[{row}] holds tile {tile}, outside 0..{n} (use -1 for padding)"
                    )));
                }
                if seen[tile as usize] == row + 1 {
                    return Err(CoreError::Argument(format!(
                        "cand[{row}] lists tile {tile} twice"
                    )));
                }
                seen[tile as usize] = row + 1;
                if !cost.is_finite() {
                    return Err(CoreError::Argument(format!(
                        "cost[{row}] holds {cost} for tile {tile}; costs must be finite"
                    )));
                }
            }
        }
        Ok(self.tiles.len() / k)
    }

    /// The `(tile, cost)` candidates of cell `cell`, padding skipped.
    fn of(&self, cell: usize) -> impl Iterator<Item = (usize, f64)> + '_ {
        let row = cell * self.k..(cell + 1) * self.k;
        self.tiles[row.clone()]
            .iter()
            .zip(&self.costs[row])
            .filter(|(&t, _)| t != NONE)
            .map(|(&t, &c)| (t as usize, c))
    }
}

/// Options of [`penalised_greedy`].
#[derive(Debug, Clone, Copy)]
pub struct GreedyOptions<'a> {
    /// Added to a candidate's cost per earlier use of its tile (>= 0).
    pub penalty: f64,
    /// Most uses of one tile (`None`: unlimited).
    pub max_uses: Option<usize>,
    /// Chebyshev radius within which a tile may not repeat (0: no rule).
    pub min_distance: usize,
    /// The `(rows, cols)` grid of the cells, row-major.
    pub grid: (usize, usize),
    /// How many tiles each tile counts as (>= 1; empty: every tile 1). A tile of
    /// weight `w` may be used `w * max_uses` times, is charged `penalty / w` per
    /// earlier use, and may appear up to `w - 1` times within `min_distance` of a
    /// cell it takes: the rule for flat tiles, whose repeats show no clump.
    pub weights: &'a [u32],
    /// The cells near each cell, given instead of the grid's window (then
    /// `min_distance` must be 0): for cells not on one grid, such as cells of
    /// several sizes.
    pub neighbours: Option<Neighbours<'a>>,
}

/// Explicit neighbourhoods in compressed rows: the cells near cell `i` are
/// `cells[offsets[i]..offsets[i + 1]]`.
#[derive(Debug, Clone, Copy)]
pub struct Neighbours<'a> {
    pub offsets: &'a [i64],
    pub cells: &'a [i64],
}

impl Neighbours<'_> {
    /// Checks the rows against `m` cells.
    fn check(&self, m: usize) -> CoreResult<()> {
        let Neighbours { offsets, cells } = *self;
        if offsets.len() != m + 1 || offsets.first() != Some(&0) {
            return Err(CoreError::Shape(format!(
                "neighbour offsets must hold m + 1 = {} values starting at 0, got {}",
                m + 1,
                offsets.len()
            )));
        }
        if offsets.windows(2).any(|w| w[0] > w[1]) || offsets[m] != cells.len() as i64 {
            return Err(CoreError::Argument(format!(
                "neighbour offsets must rise to the {} neighbours listed",
                cells.len()
            )));
        }
        if let Some(&cell) = cells.iter().find(|&&c| !(0..m as i64).contains(&c)) {
            return Err(CoreError::Argument(format!(
                "neighbours hold cell {cell}, outside 0..{m}"
            )));
        }
        Ok(())
    }

    pub(crate) fn of(&self, cell: usize) -> impl Iterator<Item = usize> + '_ {
        let (start, stop) = (self.offsets[cell] as usize, self.offsets[cell + 1] as usize);
        self.cells[start..stop].iter().map(|&c| c as usize)
    }
}

impl GreedyOptions<'_> {
    fn weight(&self, tile: usize) -> u32 {
        self.weights.get(tile).copied().unwrap_or(1)
    }
}

/// Tiles per cell (`-1` where none was allowed) and uses per tile.
#[derive(Debug, Clone, PartialEq)]
pub struct Greedy {
    pub assignment: Vec<i64>,
    pub uses: Vec<i64>,
}

/// Visits the cells of `order` (distinct; cells already holding a tile in
/// `fixed` are skipped) and gives each the allowed candidate of least
/// `cost + penalty * uses[tile] / weight[tile]`, ties to the lower tile index. A
/// tile is not allowed if it has `weight * max_uses` uses or appears `weight`
/// times within `min_distance` (Chebyshev) of the cell among the cells assigned
/// so far, fixed ones included (weights: [`GreedyOptions::weights`]). A cell
/// with no allowed candidate keeps `-1`.
pub fn penalised_greedy(
    cand: Candidates<'_>,
    order: &[i64],
    fixed: &[i64],
    options: GreedyOptions<'_>,
) -> CoreResult<Greedy> {
    let m = cand.check()?;
    let n = cand.n_tiles;
    check_greedy_options(&options, m, n)?;
    let mut assignment = check_fixed(fixed, m, n)?;
    let mut uses = vec![0i64; n];
    for &tile in assignment.iter().filter(|&&t| t != NONE) {
        uses[tile as usize] += 1;
    }
    let limit = |tile: usize| {
        options.max_uses.map_or(i64::MAX, |u| {
            (u as i64).saturating_mul(i64::from(options.weight(tile)))
        })
    };
    if let Some(tile) = (0..n).find(|&t| uses[t] > limit(t)) {
        return Err(CoreError::Argument(format!(
            "the fixed assignment uses tile {tile} {} times, more than max_uses allows it ({})",
            uses[tile],
            limit(tile)
        )));
    }
    let cells = check_order(order, m)?;
    // `near[t] = (step + 1, count)`: tile `t` appears `count` times near the current cell.
    let mut near = vec![(0usize, 0u32); n];
    for (step, cell) in cells.into_iter().enumerate() {
        if assignment[cell] != NONE {
            continue;
        }
        mark_neighbours(&assignment, cell, &options, &mut near, step + 1);
        let mut best: Option<(f64, usize)> = None;
        for (tile, cost) in cand.of(cell) {
            let weight = options.weight(tile);
            let close = if near[tile].0 == step + 1 {
                near[tile].1
            } else {
                0
            };
            if uses[tile] >= limit(tile) || close >= weight {
                continue;
            }
            let score = cost + options.penalty * uses[tile] as f64 / f64::from(weight);
            let better = best.is_none_or(|(s, t)| (score, tile) < (s, t));
            if better {
                best = Some((score, tile));
            }
        }
        if let Some((_, tile)) = best {
            assignment[cell] = tile as i64;
            uses[tile] += 1;
        }
    }
    Ok(Greedy { assignment, uses })
}

pub(crate) fn check_greedy_options(
    options: &GreedyOptions<'_>,
    m: usize,
    n: usize,
) -> CoreResult<()> {
    if !options.weights.is_empty() && options.weights.len() != n {
        return Err(CoreError::Shape(format!(
            "weights must hold one value per tile ({n}), got {}",
            options.weights.len()
        )));
    }
    if options.weights.contains(&0) {
        return Err(CoreError::Argument(
            "every tile weight must be at least 1".into(),
        ));
    }
    if !(options.penalty.is_finite() && options.penalty >= 0.0) {
        return Err(CoreError::Argument(format!(
            "penalty must be a finite number >= 0, got {}",
            options.penalty
        )));
    }
    if options.max_uses == Some(0) {
        return Err(CoreError::Argument("max_uses must be at least 1".into()));
    }
    let (rows, cols) = options.grid;
    if rows.checked_mul(cols) != Some(m) {
        return Err(CoreError::Shape(format!(
            "shape {rows}x{cols} does not have the {m} cells of the candidate lists"
        )));
    }
    if let Some(neighbours) = options.neighbours {
        if options.min_distance > 0 {
            return Err(CoreError::Argument(
                "give min_distance or neighbours, not both".into(),
            ));
        }
        neighbours.check(m)?;
    }
    Ok(())
}

/// The fixed assignment as an owned vector, checked against `0..n` or `-1`.
fn check_fixed(fixed: &[i64], m: usize, n: usize) -> CoreResult<Vec<i64>> {
    if fixed.len() != m {
        return Err(CoreError::Shape(format!(
            "the fixed assignment must have one entry per cell ({m}), got {}",
            fixed.len()
        )));
    }
    if let Some(cell) = fixed
        .iter()
        .position(|&t| t != NONE && !(0..n as i64).contains(&t))
    {
        return Err(CoreError::Argument(format!(
            "the fixed assignment gives cell {cell} tile {}, outside 0..{n} (use -1 for free)",
            fixed[cell]
        )));
    }
    Ok(fixed.to_vec())
}

/// The visiting order as cell indices, checked to be distinct and in `0..m`.
fn check_order(order: &[i64], m: usize) -> CoreResult<Vec<usize>> {
    let mut seen = vec![false; m];
    order
        .iter()
        .map(|&cell| {
            if !(0..m as i64).contains(&cell) {
                return Err(CoreError::Argument(format!(
                    "order holds cell {cell}, outside 0..{m}"
                )));
            }
            let cell = cell as usize;
            if std::mem::replace(&mut seen[cell], true) {
                return Err(CoreError::Argument(format!(
                    "order lists cell {cell} twice"
                )));
            }
            Ok(cell)
        })
        .collect()
}

/// Counts, stamped with `stamp`, the tiles assigned within `min_distance` of
/// `cell` (or among its given neighbours).
fn mark_neighbours(
    assignment: &[i64],
    cell: usize,
    options: &GreedyOptions<'_>,
    near: &mut [(usize, u32)],
    stamp: usize,
) {
    let mut count = |other: usize| {
        let tile = assignment[other];
        if tile != NONE {
            let entry = &mut near[tile as usize];
            if entry.0 != stamp {
                *entry = (stamp, 0);
            }
            entry.1 += 1;
        }
    };
    if let Some(neighbours) = options.neighbours {
        neighbours.of(cell).for_each(count);
        return;
    }
    let r = options.min_distance;
    if r == 0 {
        return;
    }
    let (rows, cols) = options.grid;
    let (row, col) = (cell / cols, cell % cols);
    for y in row.saturating_sub(r)..(row + r + 1).min(rows) {
        for x in col.saturating_sub(r)..(col + r + 1).min(cols) {
            count(y * cols + x);
        }
    }
}

/// A minimum-cost assignment and its certificate.
///
/// With `u` the cell duals and `v` the tile duals: every candidate `(i, j)`
/// has reduced cost `c_ij - u_i - v_j >= 0`, assigned pairs have `0`, every
/// `v_j <= 0` and `v_j < 0` only for tiles used `capacity` times. These are
/// the optimality conditions of the linear program
/// `min sum c x` s.t. `sum_j x_ij = 1`, `sum_i x_ij <= capacity`, `x >= 0`
/// (whose optimum is integral), and `total_cost = sum u + capacity * sum v`.
#[derive(Debug, Clone, PartialEq)]
pub struct Optimal {
    /// Tile of every cell; `-1` for the cells no augmenting path could reach.
    pub assignment: Vec<i64>,
    /// Total cost of the assigned pairs.
    pub total_cost: f64,
    /// `u`, one per cell (0 for unmatched cells).
    pub cell_duals: Vec<f64>,
    /// `v`, one per tile.
    pub tile_duals: Vec<f64>,
    /// Number of cells left unmatched (0 when the problem is feasible).
    pub unmatched: usize,
}

/// The minimum total cost assignment of every cell to one of its candidates
/// with each tile used at most `capacity` times.
///
/// If some cells cannot all be matched (no augmenting path from a cell means
/// none will appear later, so this is a maximum matching), those cells keep
/// `-1` and are counted in `unmatched`; the rest is then a minimum-cost
/// assignment of the matched cells.
pub fn optimal_assignment(cand: Candidates<'_>, capacity: usize) -> CoreResult<Optimal> {
    let m = cand.check()?;
    let n = cand.n_tiles;
    if capacity == 0 {
        return Err(CoreError::Argument("capacity must be at least 1".into()));
    }
    if (n as u128) * (capacity as u128) < m as u128 {
        return Err(CoreError::Argument(format!(
            "{m} cells cannot be filled from {n} tiles used at most {capacity} times each"
        )));
    }
    if capacity == 1 {
        // Integer costs: exact by the auction, unless it does not apply.
        if let Some(optimal) = auction::solve(cand, m) {
            return Ok(optimal);
        }
    }
    let mut solver = Solver::new(cand, capacity);
    let mut unmatched = 0;
    for cell in 0..m {
        if !solver.augment(cell) {
            unmatched += 1;
        }
    }
    Ok(solver.finish(unmatched))
}

/// A tentative shortest-path length to a tile, ordered for a min-heap with
/// ties to the lower tile index.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Reach {
    dist: f64,
    tile: usize,
}

impl Eq for Reach {}

impl Ord for Reach {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .dist
            .total_cmp(&self.dist)
            .then_with(|| other.tile.cmp(&self.tile))
    }
}

impl PartialOrd for Reach {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// State of the successive shortest path solver.
struct Solver<'a> {
    cand: Candidates<'a>,
    capacity: usize,
    u: Vec<f64>,
    v: Vec<f64>,
    tile_of: Vec<i64>,
    cost_of: Vec<f64>,
    uses: Vec<usize>,
    // Cells assigned to each tile as doubly linked lists (`NO_CELL` ends one).
    first_cell: Vec<usize>,
    next_cell: Vec<usize>,
    prev_cell: Vec<usize>,
    // Dijkstra scratch, reset through `touched` after each search.
    dist: Vec<f64>,
    pred: Vec<(usize, f64)>,
    done: Vec<bool>,
    touched: Vec<usize>,
    scanned: Vec<usize>,
    visited: Vec<(usize, f64)>,
    heap: BinaryHeap<Reach>,
}

const NO_CELL: usize = usize::MAX;

impl<'a> Solver<'a> {
    fn new(cand: Candidates<'a>, capacity: usize) -> Self {
        let m = cand.tiles.len() / cand.k;
        let n = cand.n_tiles;
        Solver {
            cand,
            capacity,
            u: vec![0.0; m],
            v: vec![0.0; n],
            tile_of: vec![NONE; m],
            cost_of: vec![0.0; m],
            uses: vec![0; n],
            first_cell: vec![NO_CELL; n],
            next_cell: vec![NO_CELL; m],
            prev_cell: vec![NO_CELL; m],
            dist: vec![f64::INFINITY; n],
            pred: vec![(NO_CELL, 0.0); n],
            done: vec![false; n],
            touched: Vec::new(),
            scanned: Vec::new(),
            visited: Vec::new(),
            heap: BinaryHeap::new(),
        }
    }

    /// Relaxes the candidate edges of `cell`, reached at distance `base`.
    fn relax(&mut self, cell: usize, base: f64) {
        let k = self.cand.k;
        let row = cell * k..(cell + 1) * k;
        for (&tile, &cost) in self.cand.tiles[row.clone()]
            .iter()
            .zip(&self.cand.costs[row])
        {
            if tile == NONE {
                continue;
            }
            let tile = tile as usize;
            if self.done[tile] {
                continue;
            }
            let d = base + (cost - self.u[cell] - self.v[tile]);
            if d < self.dist[tile] {
                if self.dist[tile] == f64::INFINITY {
                    self.touched.push(tile);
                }
                self.dist[tile] = d;
                self.pred[tile] = (cell, cost);
                self.heap.push(Reach { dist: d, tile });
            }
        }
    }

    /// Finds a shortest augmenting path from the free `start` cell, updates
    /// the potentials and flips the path. False if no path exists.
    fn augment(&mut self, start: usize) -> bool {
        self.u[start] = 0.0;
        self.relax(start, 0.0);
        let mut sink = None;
        while let Some(Reach { dist, tile }) = self.heap.pop() {
            if self.done[tile] || dist > self.dist[tile] {
                continue;
            }
            self.done[tile] = true;
            self.scanned.push(tile);
            if self.uses[tile] < self.capacity {
                sink = Some((tile, dist));
                break;
            }
            // A full tile leads on to every cell it holds, along zero reduced cost.
            let mut cell = self.first_cell[tile];
            while cell != NO_CELL {
                self.visited.push((cell, dist));
                self.relax(cell, dist);
                cell = self.next_cell[cell];
            }
        }
        let found = sink.is_some();
        if let Some((tile, length)) = sink {
            self.update_potentials(start, length);
            self.flip_path(start, tile);
        }
        self.reset_search();
        found
    }

    /// Keeps reduced costs non-negative and the new path tight (JV's update).
    fn update_potentials(&mut self, start: usize, length: f64) {
        self.u[start] += length;
        for &(cell, d) in &self.visited {
            self.u[cell] += length - d;
        }
        for &tile in &self.scanned {
            self.v[tile] -= length - self.dist[tile];
        }
    }

    /// Moves every cell of the path to the tile it reached, ending at `sink`.
    fn flip_path(&mut self, start: usize, sink: usize) {
        self.uses[sink] += 1;
        let mut tile = sink;
        loop {
            let (cell, cost) = self.pred[tile];
            let old = self.tile_of[cell];
            if old != NONE {
                self.unlink(cell, old as usize);
            }
            self.link(cell, tile);
            self.tile_of[cell] = tile as i64;
            self.cost_of[cell] = cost;
            if cell == start {
                break;
            }
            tile = old as usize;
        }
    }

    fn link(&mut self, cell: usize, tile: usize) {
        let head = self.first_cell[tile];
        self.next_cell[cell] = head;
        self.prev_cell[cell] = NO_CELL;
        if head != NO_CELL {
            self.prev_cell[head] = cell;
        }
        self.first_cell[tile] = cell;
    }

    fn unlink(&mut self, cell: usize, tile: usize) {
        let (prev, next) = (self.prev_cell[cell], self.next_cell[cell]);
        if prev == NO_CELL {
            self.first_cell[tile] = next;
        } else {
            self.next_cell[prev] = next;
        }
        if next != NO_CELL {
            self.prev_cell[next] = prev;
        }
    }

    fn reset_search(&mut self) {
        for &tile in &self.touched {
            self.dist[tile] = f64::INFINITY;
            self.done[tile] = false;
        }
        self.touched.clear();
        self.scanned.clear();
        self.visited.clear();
        self.heap.clear();
    }

    fn finish(self, unmatched: usize) -> Optimal {
        let total_cost = self
            .tile_of
            .iter()
            .zip(&self.cost_of)
            .filter(|(&t, _)| t != NONE)
            .map(|(_, &c)| c)
            .sum();
        let cell_duals = self
            .u
            .iter()
            .zip(&self.tile_of)
            .map(|(&u, &t)| if t == NONE { 0.0 } else { u })
            .collect();
        Optimal {
            assignment: self.tile_of,
            total_cost,
            cell_duals,
            tile_duals: self.v,
            unmatched,
        }
    }
}

/// Candidate lists made by [`rank_candidates`], row-major `(m, width)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    /// Tile of every candidate, `-1` past a row's distinct tiles.
    pub tiles: Vec<i64>,
    /// The orientation of each candidate: its entry's block (`entry / n`).
    pub orientation: Vec<u8>,
    pub scores: Vec<f64>,
    pub distances: Vec<i64>,
    pub width: usize,
}

/// Ranks every row of `k` search results (`entries`, with their `scores` and
/// `distances`): sorted by score, ties to the lower entry (NaN last, as NumPy
/// sorts). With `orientations` above 1 the entries are tiles `0..n` in that
/// many orientations, orientation `o` of tile `t` being entry `o * n + t`; a row
/// keeps each tile's best-ranked orientation, its repeats follow the kept
/// candidates with tile `-1`, and the rows are cut to `min(k, n)` columns. With
/// one orientation the entries are tiles and the rows keep `k` columns.
/// The same arrays as `np.lexsort((entries, scores))` followed by that
/// compaction, without the permutations of every array.
pub fn rank_candidates(
    entries: &[i64],
    scores: &[f64],
    distances: &[i64],
    k: usize,
    n: usize,
    orientations: usize,
) -> CoreResult<Ranked> {
    if k == 0
        || !entries.len().is_multiple_of(k)
        || scores.len() != entries.len()
        || distances.len() != entries.len()
    {
        return Err(CoreError::Shape(format!(
            "entries, scores and distances must all have shape (m, k) with k >= 1, got {}, {} and {} values for k {k}",
            entries.len(),
            scores.len(),
            distances.len()
        )));
    }
    if !(1..=u8::MAX as usize).contains(&orientations) {
        return Err(CoreError::Argument(format!(
            "orientations must be 1 to {}, got {orientations}",
            u8::MAX
        )));
    }
    let limit = orientations.saturating_mul(n) as i64;
    if let Some(bad) = entries.iter().find(|&&e| !(0..limit).contains(&e)) {
        return Err(CoreError::Argument(format!(
            "an entry is {bad}, outside 0..{limit} ({n} tiles in {orientations} orientation(s))"
        )));
    }
    if u32::try_from(limit).is_err() || u32::try_from(k).is_err() {
        return Err(CoreError::Argument(format!(
            "ranking takes fewer than 2^32 entries and candidates per cell, got {limit} and {k}"
        )));
    }
    let many = orientations > 1;
    let width = if many { k.min(n) } else { k };
    let m = entries.len() / k;
    let mut out = Ranked {
        tiles: vec![NONE; m * width],
        orientation: vec![0; m * width],
        scores: vec![0.0; m * width],
        distances: vec![0; m * width],
        width,
    };
    out.tiles
        .par_chunks_mut(width)
        .zip(out.orientation.par_chunks_mut(width))
        .zip(out.scores.par_chunks_mut(width))
        .zip(out.distances.par_chunks_mut(width))
        .enumerate()
        .for_each_init(
            || RowRanking::new(k),
            |ranking, (row, (((tiles, orientation), row_scores), row_distances))| {
                let span = row * k..(row + 1) * k;
                let (e, s, d) = (
                    &entries[span.clone()],
                    &scores[span.clone()],
                    &distances[span],
                );
                let order = ranking.rank(e, s, n, many);
                for (slot, &(j, kept)) in order.iter().take(width).enumerate() {
                    tiles[slot] = if kept { e[j] % n as i64 } else { NONE };
                    // `e[j] < orientations * n` with `orientations <= u8::MAX`.
                    orientation[slot] = (e[j] / n as i64) as u8;
                    row_scores[slot] = s[j];
                    row_distances[slot] = d[j];
                }
            },
        );
    Ok(out)
}

/// A score as a key whose integer order is NumPy's sort order: -0 equal to 0,
/// every NaN equal and last.
fn score_key(score: f64) -> u64 {
    if score.is_nan() {
        return u64::MAX;
    }
    let bits = (score + 0.0).to_bits(); // -0 + 0 is +0
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

/// One thread's buffers for ranking rows of `k` entries.
struct RowRanking {
    /// The row's score key, entry and column packed in one integer each
    /// (ordered as the tuple), sorted.
    keys: Vec<u128>,
    /// The columns in ranked order, each with whether it is kept.
    order: Vec<(usize, bool)>,
    repeats: Vec<(usize, bool)>,
    /// Tiles seen in the row so far: open addressing, `-1` free.
    seen: Vec<i64>,
}

impl RowRanking {
    fn new(k: usize) -> Self {
        RowRanking {
            keys: Vec::with_capacity(k),
            order: Vec::with_capacity(k),
            repeats: Vec::new(),
            seen: vec![NONE; (2 * k).next_power_of_two()],
        }
    }

    /// The columns of one row in ranked order, each with whether it is kept (its
    /// tile's first entry in that order, or every entry with one `orientation`):
    /// the kept ones first.
    fn rank(
        &mut self,
        entries: &[i64],
        scores: &[f64],
        n: usize,
        oriented: bool,
    ) -> &[(usize, bool)] {
        self.keys.clear();
        let keys = entries.iter().zip(scores).enumerate();
        self.keys.extend(
            keys.map(|(j, (&e, &s))| {
                u128::from(score_key(s)) << 64 | (e as u128) << 32 | j as u128
            }),
        );
        self.keys.sort_unstable();
        self.order.clear();
        if !oriented {
            self.order
                .extend(self.keys.iter().map(|&key| (key as u32 as usize, true)));
            return &self.order;
        }
        self.seen.fill(NONE);
        self.repeats.clear();
        let mask = self.seen.len() - 1;
        for &key in &self.keys {
            let (entry, j) = ((key >> 32) as u32 as i64, key as u32 as usize);
            let tile = entry % n as i64;
            let hash = (tile as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let mut slot = (hash >> (64 - mask.count_ones())) as usize & mask;
            while self.seen[slot] != NONE && self.seen[slot] != tile {
                slot = (slot + 1) & mask;
            }
            if self.seen[slot] == tile {
                self.repeats.push((j, false));
            } else {
                self.seen[slot] = tile;
                self.order.push((j, true));
            }
        }
        self.order.extend_from_slice(&self.repeats);
        &self.order
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random numbers in `[0, 1)`.
    fn uniform(len: usize, seed: u64) -> Vec<f64> {
        let mut state = seed.wrapping_mul(6364136223846793005) ^ 0x9E37_79B9_7F4A_7C15;
        (0..len)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (state >> 11) as f64 / (1u64 << 53) as f64
            })
            .collect()
    }

    /// Every cell lists every tile, with integer costs (so many ties).
    fn dense(m: usize, n: usize, seed: u64) -> (Vec<i64>, Vec<f64>) {
        let tiles = (0..m).flat_map(|_| 0..n as i64).collect();
        let costs = uniform(m * n, seed)
            .into_iter()
            .map(|x| (x * 10.0).floor())
            .collect();
        (tiles, costs)
    }

    /// Least total cost by trying every assignment (tiny problems only).
    fn brute_force(cand: Candidates<'_>, capacity: usize) -> Option<f64> {
        fn go(cell: usize, cand: &Candidates<'_>, uses: &mut [usize], cap: usize) -> Option<f64> {
            if cell * cand.k == cand.tiles.len() {
                return Some(0.0);
            }
            let mut best: Option<f64> = None;
            for (tile, cost) in cand.of(cell) {
                if uses[tile] < cap {
                    uses[tile] += 1;
                    if let Some(rest) = go(cell + 1, cand, uses, cap) {
                        best = Some(best.map_or(cost + rest, |b| b.min(cost + rest)));
                    }
                    uses[tile] -= 1;
                }
            }
            best
        }
        go(0, &cand, &mut vec![0; cand.n_tiles], capacity)
    }

    fn assert_certified(cand: Candidates<'_>, capacity: usize, opt: &Optimal) {
        let m = cand.tiles.len() / cand.k;
        let mut uses = vec![0; cand.n_tiles];
        for &t in &opt.assignment {
            uses[t as usize] += 1;
        }
        for cell in 0..m {
            for (tile, cost) in cand.of(cell) {
                let reduced = cost - opt.cell_duals[cell] - opt.tile_duals[tile];
                assert!(reduced >= -1e-9, "cell {cell} tile {tile}: {reduced}");
                if opt.assignment[cell] == tile as i64 {
                    assert!(reduced.abs() <= 1e-9);
                }
            }
        }
        for (tile, &v) in opt.tile_duals.iter().enumerate() {
            assert!(v <= 0.0 && (v == 0.0 || uses[tile] == capacity));
            assert!(uses[tile] <= capacity);
        }
        let dual: f64 = opt.cell_duals.iter().sum::<f64>()
            + capacity as f64 * opt.tile_duals.iter().sum::<f64>();
        assert!((dual - opt.total_cost).abs() <= 1e-9 * opt.total_cost.abs().max(1.0));
    }

    #[test]
    fn optimal_matches_brute_force() {
        for seed in 0..40 {
            let (m, n) = (2 + seed as usize % 5, 3 + seed as usize % 4);
            for capacity in 1..=2 {
                if n * capacity < m {
                    continue;
                }
                let (tiles, costs) = dense(m, n, seed);
                let cand = Candidates {
                    tiles: &tiles,
                    costs: &costs,
                    k: n,
                    n_tiles: n,
                };
                let opt = optimal_assignment(cand, capacity).unwrap();
                assert_eq!(opt.unmatched, 0);
                assert_eq!(Some(opt.total_cost), brute_force(cand, capacity));
                assert_certified(cand, capacity, &opt);
            }
        }
    }

    #[test]
    fn sparse_rows_with_padding_are_certified() {
        // Cell i lists tiles i, i+1, i+2 of 12 (mod 12) in a row of width 4.
        let (m, n, k) = (10, 12, 4);
        let mut tiles = vec![NONE; m * k];
        for cell in 0..m {
            for j in 0..3 {
                tiles[cell * k + j] = ((cell * 5 + j) % n) as i64;
            }
        }
        let costs = uniform(m * k, 7);
        let cand = Candidates {
            tiles: &tiles,
            costs: &costs,
            k,
            n_tiles: n,
        };
        let opt = optimal_assignment(cand, 1).unwrap();
        let best = brute_force(cand, 1).unwrap();
        assert!((opt.total_cost - best).abs() <= 1e-12);
        assert_certified(cand, 1, &opt);
    }

    /// A crowded problem: `m` cells, `m + m / 8` tiles, each cell listing
    /// `k` tiles of a window around its own place, integer costs.
    fn crowded(m: usize, k: usize, seed: u64) -> (Vec<i64>, Vec<f64>, usize) {
        let n = m + m / 8;
        let picks = uniform(m * k, seed);
        let costs = uniform(m * k, seed + 1);
        let mut tiles = vec![NONE; m * k];
        let mut values = vec![0.0; m * k];
        for cell in 0..m {
            let mut row: Vec<i64> = Vec::new();
            for j in 0..k {
                let tile = ((cell + (picks[cell * k + j] * 40.0) as usize) % n) as i64;
                if !row.contains(&tile) {
                    tiles[cell * k + row.len()] = tile;
                    values[cell * k + row.len()] = (costs[cell * k + j] * 1000.0).floor();
                    row.push(tile);
                }
            }
        }
        (tiles, values, n)
    }

    /// Random sparse rows: `m` cells, each listing 1 to `k` of `n` tiles
    /// (the low ones more often: crowded), integer costs with many ties, some
    /// negative.
    fn sparse_rows(m: usize, n: usize, k: usize, seed: u64) -> (Vec<i64>, Vec<f64>) {
        let draws = uniform(m * (k + 1) * 2, seed);
        let mut tiles = vec![NONE; m * k];
        let mut costs = vec![0.0; m * k];
        for cell in 0..m {
            let d = &draws[cell * (k + 1) * 2..(cell + 1) * (k + 1) * 2];
            let len = 1 + (d[0] * k as f64) as usize;
            let mut row: Vec<i64> = Vec::new();
            for j in 0..len {
                let tile = ((d[1 + j].powi(2) * n as f64) as i64).min(n as i64 - 1);
                if !row.contains(&tile) {
                    tiles[cell * k + row.len()] = tile;
                    costs[cell * k + row.len()] = (d[k + 1 + j] * 12.0).floor() - 3.0;
                    row.push(tile);
                }
            }
        }
        (tiles, costs)
    }

    #[test]
    fn the_auction_is_exact_or_leaves_the_problem_to_the_paths() {
        let mut solved = 0;
        for seed in 0..300 {
            let m = 1 + seed as usize % 40;
            let n = m + (seed as usize * 7) % 25;
            let k = 1 + seed as usize % 9;
            let (tiles, costs) = sparse_rows(m, n, k, seed);
            let cand = Candidates {
                tiles: &tiles,
                costs: &costs,
                k,
                n_tiles: n,
            };
            let mut plain = Solver::new(cand, 1);
            let unmatched = (0..m).filter(|&c| !plain.augment(c)).count();
            let plain = plain.finish(unmatched);
            match auction::solve(cand, m) {
                Some(opt) => {
                    assert_eq!(
                        plain.unmatched, 0,
                        "seed {seed}: matched all of an infeasible problem"
                    );
                    assert_eq!(opt.total_cost, plain.total_cost, "seed {seed}");
                    assert_certified(cand, 1, &opt);
                    solved += 1;
                }
                // Only problems without a complete assignment.
                None => assert!(plain.unmatched > 0, "seed {seed}: feasible, not solved"),
            }
            let opt = optimal_assignment(cand, 1).unwrap();
            assert_eq!(opt.unmatched, plain.unmatched);
            assert_eq!(opt.total_cost, plain.total_cost);
        }
        assert!(solved > 100, "{solved} of 300 solved by the auction");
        // Costs that are not integers are left to the paths.
        let (tiles, costs, n) = crowded(200, 8, 3);
        let halves: Vec<f64> = costs.iter().map(|c| c + 0.5).collect();
        let cand = Candidates {
            tiles: &tiles,
            costs: &halves,
            k: 8,
            n_tiles: n,
        };
        assert!(auction::solve(cand, 200).is_none());
        assert_certified(cand, 1, &optimal_assignment(cand, 1).unwrap());
    }

    #[test]
    fn unmatchable_cells_are_counted() {
        // Three cells that can only use tiles 0 and 1, one with tile 2; tile 3 unlisted.
        let tiles = [0, 1, 0, 1, 1, 0, 2, NONE];
        let costs = [1.0, 2.0, 1.0, 3.0, 1.0, 5.0, 0.0, 0.0];
        let cand = Candidates {
            tiles: &tiles,
            costs: &costs,
            k: 2,
            n_tiles: 4,
        };
        let opt = optimal_assignment(cand, 1).unwrap();
        assert_eq!(opt.unmatched, 1);
        assert_eq!(opt.assignment.iter().filter(|&&t| t == NONE).count(), 1);
        assert_eq!(opt.assignment[3], 2);
    }

    #[test]
    fn bad_candidates_are_errors() {
        let check = |tiles: &[i64], costs: &[f64], k, n| {
            Candidates {
                tiles,
                costs,
                k,
                n_tiles: n,
            }
            .check()
        };
        assert!(matches!(check(&[], &[], 0, 3), Err(CoreError::Shape(_))));
        assert!(matches!(
            check(&[0, 1], &[0.0], 2, 3),
            Err(CoreError::Shape(_))
        ));
        assert!(matches!(
            check(&[0, 3], &[0.0; 2], 2, 3),
            Err(CoreError::Argument(_))
        ));
        assert!(matches!(
            check(&[1, 1], &[0.0; 2], 2, 3),
            Err(CoreError::Argument(_))
        ));
        assert!(matches!(
            check(&[0, 1], &[0.0, f64::NAN], 2, 3),
            Err(CoreError::Argument(_))
        ));
        assert_eq!(check(&[0, 1, 1, NONE], &[0.0; 4], 2, 3), Ok(2));
        let cand = Candidates {
            tiles: &[0, 1, 1, 0],
            costs: &[0.0; 4],
            k: 2,
            n_tiles: 2,
        };
        assert!(matches!(
            optimal_assignment(cand, 0),
            Err(CoreError::Argument(_))
        ));
        let one = Candidates {
            n_tiles: 1,
            tiles: &[0, 0],
            costs: &[0.0; 2],
            k: 1,
        };
        assert!(matches!(
            optimal_assignment(one, 1),
            Err(CoreError::Argument(_))
        ));
    }

    fn options(
        penalty: f64,
        max_uses: Option<usize>,
        r: usize,
        grid: (usize, usize),
    ) -> GreedyOptions<'static> {
        GreedyOptions {
            penalty,
            max_uses,
            min_distance: r,
            grid,
            weights: &[],
            neighbours: None,
        }
    }

    #[test]
    fn greedy_without_penalty_takes_each_cells_best() {
        let (m, n) = (30, 6);
        let (tiles, costs) = dense(m, n, 3);
        let cand = Candidates {
            tiles: &tiles,
            costs: &costs,
            k: n,
            n_tiles: n,
        };
        let order: Vec<i64> = (0..m as i64).rev().collect();
        let got =
            penalised_greedy(cand, &order, &vec![NONE; m], options(0.0, None, 0, (5, 6))).unwrap();
        for cell in 0..m {
            let best = cand
                .of(cell)
                .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)))
                .unwrap();
            assert_eq!(got.assignment[cell], best.0 as i64);
        }
    }

    #[test]
    fn greedy_respects_limits_and_distance() {
        let (rows, cols, n) = (8, 9, 40);
        let m = rows * cols;
        let (tiles, costs) = dense(m, n, 5);
        let cand = Candidates {
            tiles: &tiles,
            costs: &costs,
            k: n,
            n_tiles: n,
        };
        let order: Vec<i64> = (0..m as i64).collect();
        let r = 2;
        let got = penalised_greedy(
            cand,
            &order,
            &vec![NONE; m],
            options(0.5, Some(3), r, (rows, cols)),
        )
        .unwrap();
        assert!(got.assignment.iter().all(|&t| t != NONE));
        assert!(got.uses.iter().all(|&u| u <= 3));
        for a in 0..m {
            for b in a + 1..m {
                let near = (a / cols).abs_diff(b / cols) <= r && (a % cols).abs_diff(b % cols) <= r;
                assert!(
                    !near || got.assignment[a] != got.assignment[b],
                    "cells {a} {b}"
                );
            }
        }
    }

    #[test]
    fn greedy_reports_blocked_cells_and_resumes_from_fixed() {
        // Two cells side by side with the same single candidate.
        let cand = Candidates {
            tiles: &[0, 0],
            costs: &[1.0, 1.0],
            k: 1,
            n_tiles: 1,
        };
        let got =
            penalised_greedy(cand, &[1, 0], &[NONE, NONE], options(0.0, None, 1, (1, 2))).unwrap();
        assert_eq!(got.assignment, vec![NONE, 0]);
        assert_eq!(got.uses, vec![1]);
        let capped = penalised_greedy(cand, &[0, 1], &[NONE, 0], options(0.0, Some(1), 0, (1, 2)));
        assert_eq!(capped.unwrap().assignment, vec![NONE, 0]);
        let over = penalised_greedy(cand, &[0], &[0, 0], options(0.0, Some(1), 0, (1, 2)));
        assert!(matches!(over, Err(CoreError::Argument(_))));
        let twice = penalised_greedy(cand, &[0, 0], &[NONE, NONE], options(0.0, None, 0, (1, 2)));
        assert!(matches!(twice, Err(CoreError::Argument(_))));
        let negative = penalised_greedy(cand, &[0], &[NONE, NONE], options(-1.0, None, 0, (1, 2)));
        assert!(matches!(negative, Err(CoreError::Argument(_))));
        let grid = penalised_greedy(cand, &[0], &[NONE, NONE], options(0.0, None, 0, (2, 2)));
        assert!(matches!(grid, Err(CoreError::Shape(_))));
    }

    #[test]
    fn a_heavier_tile_may_repeat_nearby_and_more_often() {
        // One row of 6 cells, all preferring tile 0 (then 1, then 2); radius 1,
        // at most 3 uses. Tile 0 counts as 3 tiles: up to 9 uses, and up to 2 of
        // it among a cell's neighbours.
        let m = 6;
        let tiles: Vec<i64> = (0..m).flat_map(|_| [0, 1, 2]).collect();
        let costs: Vec<f64> = (0..m).flat_map(|_| [0.0, 1.0, 2.0]).collect();
        let cand = Candidates {
            tiles: &tiles,
            costs: &costs,
            k: 3,
            n_tiles: 3,
        };
        let order: Vec<i64> = (0..m as i64).collect();
        let plain = penalised_greedy(cand, &order, &[NONE; 6], options(0.0, Some(3), 1, (1, 6)));
        assert_eq!(plain.unwrap().assignment, vec![0, 1, 0, 1, 0, 1]);
        let weights = [3, 1, 1];
        let heavy = GreedyOptions {
            weights: &weights,
            ..options(0.0, Some(3), 1, (1, 6))
        };
        let got = penalised_greedy(cand, &order, &[NONE; 6], heavy).unwrap();
        assert_eq!(got.assignment, vec![0, 0, 0, 0, 0, 0]);
        let row = GreedyOptions {
            weights: &weights,
            ..options(0.0, Some(1), 1, (1, 6))
        };
        let capped = penalised_greedy(cand, &order, &[NONE; 6], row).unwrap();
        // Tile 0 at its 3 uses, tile 1 once, tile 2 beside itself: the last cell
        // has no allowed candidate.
        assert_eq!(capped.assignment, vec![0, 0, 0, 1, 2, NONE]);
        let zero = GreedyOptions {
            weights: &[0, 1, 1],
            ..options(0.0, None, 0, (1, 6))
        };
        assert!(matches!(
            penalised_greedy(cand, &order, &[NONE; 6], zero),
            Err(CoreError::Argument(_))
        ));
    }

    #[test]
    fn given_neighbours_act_like_the_grid_window() {
        let (rows, cols, n) = (6, 7, 12);
        let m = rows * cols;
        let tiles: Vec<i64> = (0..m * 4).map(|i| ((i * 7 + i / 4) % n) as i64).collect();
        let costs = uniform(m * 4, 3);
        let cand = Candidates {
            tiles: &tiles,
            costs: &costs,
            k: 4,
            n_tiles: n,
        };
        let order: Vec<i64> = (0..m as i64).rev().collect();
        let free = vec![NONE; m];
        let r = 1;
        let (mut offsets, mut cells) = (vec![0i64], Vec::new());
        for a in 0..m {
            for b in 0..m {
                let near = (a / cols).abs_diff(b / cols) <= r && (a % cols).abs_diff(b % cols) <= r;
                if near && a != b {
                    cells.push(b as i64);
                }
            }
            offsets.push(cells.len() as i64);
        }
        let grid = penalised_greedy(cand, &order, &free, options(0.2, Some(5), r, (rows, cols)));
        let listed = GreedyOptions {
            neighbours: Some(Neighbours {
                offsets: &offsets,
                cells: &cells,
            }),
            ..options(0.2, Some(5), 0, (1, m))
        };
        let given = penalised_greedy(cand, &order, &free, listed);
        assert_eq!(grid.unwrap(), given.unwrap());
        let both = GreedyOptions {
            min_distance: 1,
            ..listed
        };
        assert!(penalised_greedy(cand, &order, &free, both).is_err());
        let short = GreedyOptions {
            neighbours: Some(Neighbours {
                offsets: &offsets[..m],
                cells: &cells,
            }),
            ..listed
        };
        assert!(matches!(
            penalised_greedy(cand, &order, &free, short),
            Err(CoreError::Shape(_))
        ));
        let outside = [0, 1];
        let stray = GreedyOptions {
            neighbours: Some(Neighbours {
                offsets: &offsets,
                cells: &outside,
            }),
            ..listed
        };
        assert!(penalised_greedy(cand, &order, &free, stray).is_err());
    }
}
