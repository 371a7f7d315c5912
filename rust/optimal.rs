//! The exact minimum-cost assignment of cells to tiles over **all** pairs,
//! each tile used at most `capacity` times, for the integer cost
//! `c_ij = |a_i - b_j|^2` that the exhaustive search ranks by (with tiles in
//! several orientations: the best of a tile's orientations), with an integer
//! certificate of optimality checked over every cell x tile pair.
//!
//! 1. **Auction** (Bertsekas, "The auction algorithm: a distributed relaxation
//!    method for the assignment problem", 1988; ε-scaling, and reverse bids
//!    for asymmetric problems: Bertsekas and Castañon, "A forward/reverse
//!    auction algorithm for asymmetric assignment problems", 1992). A tile has
//!    `capacity` slots, each with its own price (Bertsekas' "similar
//!    objects"). Costs are multiplied by `K = m + 1`, so that ε-complementary
//!    slackness (ε-CS) at ε = 1 implies optimality: the total is then within
//!    `m ε < K` of the optimum and totals are multiples of `K`. In phases of
//!    decreasing ε, cells that break ε-CS are released and bid for the
//!    cheapest slot of their best tile (forward auction: prices rise), then
//!    free slots that kept a positive price bid for the cell that gains most
//!    by moving to them (reverse auction: prices fall) until every free slot
//!    is at price 0. Gauss-Seidel, sequential: the result does not depend on
//!    the thread count. Problems of `WARM_CELLS` cells or more start from
//!    the prices of the same auction on a sample of the cells and tiles
//!    ([`warm_prices`]); near-square ones and loose ones (fewer than 4 tile
//!    uses per cell) then run their coarse phases on a fixed graph of
//!    candidates, forward and reverse bids without searches (`coarse.rs`);
//!    the fine phases are exact over all tiles.
//! 2. **Lazy exact pricing** (`pricing.rs`). A cell bids from a short list
//!    of tiles with a bound that every unlisted tile's `K c + price` reaches;
//!    the list is refilled from a longer pool, and a pool from one exhaustive
//!    SIMD search with the tile prices as per-tile offsets
//!    (`search::PricedTiles`), many cells at a time, in parallel; with
//!    several orientations the kernels rank each tile by its nearest in the
//!    same scan (`search::TileSet::oriented`). Libraries
//!    much larger than the cells search only the tiles that ever had a price
//!    and take the others from each cell's nearest tiles, found once.
//! 3. **Certificate** (`certificate.rs`). Integer tile duals `v <= 0` from
//!    the final assignment by shortest paths, cell duals
//!    `u_i = c_i,a(i) - v_a(i)`, then one exhaustive search with offsets `-v`
//!    checks `c_ij - u_i - v_j >= 0` over every pair, repeating with the
//!    pairs it finds until none is left.
//!
//! Cost: a few exhaustive passes (`cells * tiles * dim` multiply-adds each)
//! and `O(bids * list length)`; memory `O(cells * pool length + tiles)`: the
//! `cells x tiles` cost matrix is never formed.

mod certificate;
mod coarse;
mod pricing;
#[cfg(test)]
mod tests;

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use crate::error::{CoreError, CoreResult};
use crate::kernels::Simd;
use crate::search::{check_search, distance_in_range, Offsets, PricedTiles, TileSet};

use pricing::{Cold, Sample, SampleRows};

/// No cell, or no slot.
const NONE: u32 = u32::MAX;
/// A value larger than any cost plus price (and safe to add to one).
const INF: i64 = i64::MAX / 4;
/// Least time between two progress reports (none in the crate's tests, which
/// check where the reports come from).
#[cfg(not(test))]
const REPORT_EVERY: Duration = Duration::from_millis(100);
#[cfg(test)]
const REPORT_EVERY: Duration = Duration::ZERO;
/// Bids between two looks at the clock for a progress report.
const BIDS_PER_CLOCK: u64 = 1024;
/// Cells a reverse bid compares exactly (per orientation).
const RIVALS: usize = 16;
/// A reverse auction that starts with fewer free priced slots than the cells
/// over this searches the rivals of the tiles it frees as they come.
const FEW_FREE: usize = 8;

/// The cost problem: cells against tiles, and how many uses a tile allows.
#[derive(Debug, Clone, Copy)]
pub struct Problem<'a> {
    /// Row-major `(m, dim)` cell descriptors.
    pub cells: &'a [i16],
    /// Row-major `(orientations * n, dim)` tile descriptors: every tile in its
    /// first orientation, then every tile in the next, in the same order
    /// (entry `e` is tile `e % n` in orientation `e / n`).
    pub tiles: &'a [i16],
    pub dim: usize,
    /// Orientations of every tile, `>= 1`: a tile is one tile, at the least
    /// of its orientations' costs.
    pub orientations: usize,
    /// Most uses of one tile, `>= 1`.
    pub capacity: usize,
}

/// Where the solver is, for progress reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// `"auction"` or `"certificate"`.
    pub stage: &'static str,
    /// ε-scaling phases of the auction done and planned.
    pub phase: usize,
    pub phases: usize,
    /// Exhaustive checks of the certificate made.
    pub checks: usize,
    /// Cells without a tile at the moment.
    pub unassigned: usize,
    pub bids: u64,
    pub reverse_bids: u64,
    /// Cells re-priced by an exhaustive search, and searches made.
    pub repriced: u64,
    pub passes: u64,
    /// Pairs the certificate found violated and added.
    pub pairs_added: u64,
    /// Improvements the certificate step made to the auction's assignment.
    pub improved: u64,
    /// Exact phases that went back to the previous phase's ε in a price war
    /// (see `WAR_BIDS`).
    pub retreats: u64,
}

/// Receives progress reports; returning `false` stops the solver.
pub trait Observer {
    fn report(&mut self, progress: &Progress) -> bool;
}

impl<F: FnMut(&Progress) -> bool> Observer for F {
    fn report(&mut self, progress: &Progress) -> bool {
        self(progress)
    }
}

/// A certified minimum-cost assignment.
///
/// `cell_duals` `u` and `tile_duals` `v` satisfy `c_ij - u_i - v_j >= 0` for
/// every cell and tile (checked by the exhaustive search), with equality on
/// the assigned pairs, `v <= 0` and `v_j < 0` only for tiles used `capacity`
/// times: the optimality conditions of the linear program `min sum c x`
/// subject to `sum_j x_ij = 1`, `sum_i x_ij <= capacity`, `x >= 0` (whose
/// optimum is integral), so `total_cost = sum(u) + capacity * sum(v)` is the
/// least total of any assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certified {
    /// Tile of every cell.
    pub assignment: Vec<i64>,
    /// The orientation each cell uses its tile in (its nearest; the first
    /// of equals).
    pub orientation: Vec<u8>,
    /// Cost of every cell's pair.
    pub costs: Vec<i64>,
    pub total_cost: i64,
    pub cell_duals: Vec<i64>,
    pub tile_duals: Vec<i64>,
    pub progress: Progress,
}

/// Solves `problem` exactly; see the module documentation.
pub fn solve(problem: Problem<'_>, observer: &mut dyn Observer) -> CoreResult<Certified> {
    let (m, n) = check(&problem)?;
    if m == 0 {
        return Ok(Certified {
            assignment: vec![],
            orientation: vec![],
            costs: vec![],
            total_cost: 0,
            cell_duals: vec![],
            tile_duals: vec![0; n],
            progress: Progress::default(),
        });
    }
    let start = warm_prices(problem, m, n, observer)?;
    let sample = SampleRows::new(problem.tiles, problem.dim, problem.orientations);
    let classes = Classes::new(problem.cells, problem.dim);
    let mut auction = Auction::new(problem, n, start.as_deref(), sample.as_ref(), &classes)?;
    auction.run(observer)?;
    auction.certify(observer)
}

/// Problems with at least this many cells start from prices.
const WARM_CELLS: usize = 1024;
/// The warm start's problem takes one cell and one tile in this many.
const WARM_STEP: usize = 4;
// From the warm prices the near-square schedule skips its first phase (ε as
// large as the costs); skipping more measured slower (benches/NOTES.md). A
// loose problem keeps its schedule: skipping its first phase measured the same.

/// Starting tile prices for a problem of `m` cells (`None` for fewer than
/// `WARM_CELLS`), from the auction on a problem of one cell and one tile in
/// `WARM_STEP`: on photographs the prices that end the coarse phases' price
/// war depend on where a tile lies among the cells' colours, which a sample
/// of both shows at a sixteenth of the work (a loose problem's first phase,
/// that price war, was two thirds of the demo build's solve). Each tile of
/// the full problem takes the price at which no sampled cell would rather
/// have it than what it pays, `max(0, max_i pay_i - K c_it)` (the c-transform
/// of the sample's cell values, one kernel search of the tiles among the
/// sampled cells); in a loose problem the reverse auction then lowers the
/// prices of the tiles left free. The prices are a guess: the auction starts
/// from them and stays exact whatever they are.
fn warm_prices(
    problem: Problem<'_>,
    m: usize,
    n: usize,
    observer: &mut dyn Observer,
) -> CoreResult<Option<Vec<i64>>> {
    if m < WARM_CELLS {
        return Ok(None);
    }
    let dim = problem.dim;
    let rows = |values: &[i16], picked: &mut dyn Iterator<Item = usize>| -> Vec<i16> {
        picked
            .flat_map(|e| values[e * dim..(e + 1) * dim].iter().copied())
            .collect()
    };
    let cells = rows(problem.cells, &mut (0..m).step_by(WARM_STEP));
    let tiles = rows(
        problem.tiles,
        &mut (0..problem.orientations)
            .flat_map(|c| (0..n).step_by(WARM_STEP).map(move |t| t + c * n)),
    );
    let sub = Problem {
        cells: &cells,
        tiles: &tiles,
        ..problem
    };
    let (sub_m, sub_n) = check(&sub)?;
    let start = warm_prices(sub, sub_m, sub_n, observer)?;
    let sample = SampleRows::new(sub.tiles, dim, sub.orientations);
    let classes = Classes::new(sub.cells, dim);
    let mut auction = Auction::new(sub, sub_n, start.as_deref(), sample.as_ref(), &classes)?;
    auction.run(observer)?;
    // What the sampled cells pay, in units of the full problem's `K`, as
    // offsets `-pay` of a search among them: a tile's least value is then
    // `K c - pay` at its best cell, the opposite of its price.
    let (from, to) = (i128::from(auction.scale), (m + 1) as i128);
    let offsets: Vec<i64> = auction
        .pay
        .iter()
        .map(|&pay| -((i128::from(pay) * to / from) as i64))
        .collect();
    let offsets = Offsets {
        values: &offsets,
        scale: to as i64,
    };
    let simd = Simd::chosen()?;
    let found = TileSet::new(simd, &cells, dim).search(problem.tiles, 1, Some(offsets), None)?;
    let mut prices = vec![0i64; n];
    for (e, &value) in found.distances.iter().enumerate() {
        prices[e % n] = prices[e % n].max(-value);
    }
    Ok(Some(prices))
}

/// Whether the tiles' uses barely exceed the cells (see `SQUARE_SLACK`).
fn near_square(m: usize, n: usize, capacity: usize) -> bool {
    ((n * capacity) as f64 / m as f64) < SQUARE_SLACK
}

/// Checks shapes, values and feasibility; returns `(cells, tiles)`.
fn check(problem: &Problem<'_>) -> CoreResult<(usize, usize)> {
    let dim = problem.dim;
    check_search(problem.cells, problem.tiles, dim, 1)?;
    let (m, entries) = (problem.cells.len() / dim, problem.tiles.len() / dim);
    let orientations = problem.orientations;
    if !(1..=usize::from(u8::MAX)).contains(&orientations) {
        return Err(CoreError::Argument(format!(
            "orientations must be between 1 and 255, got {orientations}"
        )));
    }
    if !entries.is_multiple_of(orientations) {
        return Err(CoreError::Shape(format!(
            "with {orientations} orientations the tiles must come in {orientations} blocks \
             of equal length, got {entries} rows"
        )));
    }
    let n = entries / orientations;
    if problem.capacity == 0 {
        return Err(CoreError::Argument("capacity must be at least 1".into()));
    }
    if (n as u128) * (problem.capacity as u128) < m as u128 {
        return Err(CoreError::Argument(format!(
            "{m} cells cannot be filled from {n} tiles used at most {} times each",
            problem.capacity
        )));
    }
    if m >= NONE as usize || entries >= NONE as usize {
        return Err(CoreError::Argument(
            "too many cells or tiles for the optimal assignment".into(),
        ));
    }
    Ok((m, n))
}

/// The classes of identical cells. A class is named by its first cell
/// (its representative); every cell has the index of its class among the
/// classes in order of their first cells, and the reverse auction searches
/// the classes' descriptors, one row each: a class's members have the same
/// cost for every tile, so the one paying most stands for all of them.
struct Classes {
    /// For each cell, the first cell with the same descriptor.
    of: Vec<u32>,
    /// For each cell, the index of its class.
    index: Vec<u32>,
    /// The first cell of each class, and the class's number of cells.
    firsts: Vec<u32>,
    sizes: Vec<u32>,
    /// The first cells' rows when some cells share a class (otherwise they
    /// are the cells' own).
    rows: Option<Vec<i16>>,
}

impl Classes {
    fn new(cells: &[i16], dim: usize) -> Classes {
        let mut first: HashMap<&[i16], u32> = HashMap::new();
        let of: Vec<u32> = cells
            .chunks_exact(dim)
            .enumerate()
            .map(|(i, row)| *first.entry(row).or_insert(i as u32))
            .collect();
        let firsts: Vec<u32> = (0..of.len() as u32)
            .filter(|&i| of[i as usize] == i)
            .collect();
        let mut index = vec![0u32; of.len()];
        for (k, &i) in firsts.iter().enumerate() {
            index[i as usize] = k as u32;
        }
        let mut sizes = vec![0u32; firsts.len()];
        for i in 0..of.len() {
            index[i] = index[of[i] as usize];
            sizes[index[i] as usize] += 1;
        }
        let rows = (firsts.len() < of.len()).then(|| {
            firsts
                .iter()
                .flat_map(|&i| {
                    cells[i as usize * dim..(i as usize + 1) * dim]
                        .iter()
                        .copied()
                })
                .collect()
        });
        Classes {
            of,
            index,
            firsts,
            sizes,
            rows,
        }
    }

    /// The rows of the classes' first cells, from the problem's `cells`.
    fn rows<'s>(&'s self, cells: &'s [i16]) -> &'s [i16] {
        self.rows.as_deref().unwrap_or(cells)
    }

    /// The number of cells of the class of cell `i`.
    fn size(&self, i: usize) -> usize {
        self.sizes[self.index[i] as usize] as usize
    }
}

/// A tile of a cell's list or pool, the cell's (unscaled) cost for it and
/// its value `K c + price` when it entered the list or pool: a lower bound of
/// its value for as long as no price falls (prices only rise in the forward
/// auction).
#[derive(Debug, Clone, Copy)]
struct Entry {
    tile: u32,
    cost: i64,
    key: i64,
}

/// A use of a tile: its price and the cell holding it (`NONE`: free).
#[derive(Debug, Clone, Copy)]
struct Slot {
    price: i64,
    holder: u32,
}

/// What a cell bids: its best tile and its cost there, and the second-best
/// value (a lower bound of it, when the list cannot tell more).
struct Bid {
    tile: u32,
    cost: i64,
    second: i64,
    /// A class whose members' slots the bid leaves alone (`NONE`: any slot).
    spare: u32,
}

/// The cells of largest gain for a tile, each with its gain at the time of
/// the search, largest first, and an upper bound of every other cell's gain
/// then (`i64::MIN` when every cell is listed). A cell of a class of
/// identical cells stands for its whole class (see [`Auction::reverse_bid`]).
struct Rivals {
    cells: Vec<(i64, u32)>,
    others: i64,
}

/// The two largest gains a reverse bid has seen, and the cell of the first
/// (ties to the lower cell) with its cost.
struct Best {
    w1: i64,
    w2: i64,
    star: u32,
    cost: i64,
}

impl Best {
    fn offer(&mut self, cell: u32, (gain, cost): (i64, i64)) {
        if cell == self.star {
            return; // offered twice (a class and one of its members)
        }
        if (gain, Reverse(cell)) > (self.w1, Reverse(self.star)) {
            self.w2 = self.w2.max(self.w1);
            (self.w1, self.star, self.cost) = (gain, cell, cost);
        } else {
            self.w2 = self.w2.max(gain);
        }
    }
}

/// What a reverse bid did.
enum Outcome {
    /// Moved a cell, whose former tile now has a free slot with a price.
    Freed(usize),
    /// Moved a cell or lowered the price to 0; nothing more to do.
    Done,
    /// Could not tell the best cell: wait for a fresh search.
    Later,
}

/// The forward auction's queue of unassigned cells. A class of identical
/// cells that bids together is queued once, as its first cell, while its
/// unassigned members wait in `waiting`.
#[derive(Default)]
struct Queue {
    cells: VecDeque<u32>,
    waiting: HashMap<usize, Vec<u32>>,
    /// On the coarse graph (where fewer classes bid together).
    graph: bool,
}

impl Queue {
    fn push(&mut self, auction: &Auction<'_>, cell: u32) {
        let c = auction.class(cell as usize);
        let together = if self.graph {
            auction.bids_as_class_on_graph(c)
        } else {
            auction.bids_as_class(c)
        };
        if !together {
            self.cells.push_back(cell);
            return;
        }
        let members = self.waiting.entry(c).or_default();
        if members.is_empty() {
            self.cells.push_back(c as u32);
        }
        members.push(cell);
    }

    fn extend(&mut self, auction: &Auction<'_>, cell: Option<u32>) {
        if let Some(cell) = cell {
            self.push(auction, cell);
        }
    }
}

struct Auction<'a> {
    problem: Problem<'a>,
    /// The search entries, ranked by `K c + price`.
    priced: PricedTiles<'a>,
    /// The classes of identical cells as a searched set for the reverse
    /// auction, each ranked by `K c - pay` of its member paying most (the
    /// offsets follow every change of `pay`).
    paid: PricedTiles<'a>,
    /// A sample of the entries, to seed first searches (large libraries).
    sample: Option<Sample<'a>>,
    m: usize,
    n: usize,
    /// `K`, the factor of every cost.
    scale: i64,
    eps: i64,
    /// The ε the phase goes back to in a price war (`0`: none), and the
    /// bids made before the phase began.
    retreat: i64,
    phase_start: u64,
    /// `WAR_BIDS` (tests set their own).
    war_bids: u64,
    /// A bound of every cost.
    max_cost: i64,
    // Tiles: the slots that ever had a price or a holder (untouched slots are
    // free at price 0), the cheapest and second-cheapest slot price, and
    // whether the tile ever had a price (a "hot" tile).
    slots: Vec<Vec<Slot>>,
    p1: Vec<i64>,
    p2: Vec<i64>,
    hot: Vec<bool>,
    // Cells: tile and slot held (`NONE`: unassigned), the cost of that tile
    // and the value `K c + price` paid.
    tile_of: Vec<u32>,
    slot_of: Vec<u32>,
    cost_of: Vec<i64>,
    pay: Vec<i64>,
    // Per cell: the list bids read and its bound. Per class of identical
    // cells (indexed by its first cell, `classes.of`): the pool lists are
    // refilled from (keyed when `drops` was `keyed` and sorted by key up to
    // `sorted`, then the entries added since) and its bound.
    classes: &'a Classes,
    /// Per class representative whose class has other cells: its members by
    /// what they pay, `(pay, Reverse(cell))`.
    by_pay: Vec<BTreeSet<(i64, Reverse<u32>)>>,
    list_len: usize,
    lists: Vec<Vec<Entry>>,
    bound: Vec<i64>,
    pool_len: usize,
    pool: Vec<Vec<Entry>>,
    sorted: Vec<u32>,
    keyed: Vec<u64>,
    pool_bound: Vec<i64>,
    /// How many times a tile's price fell (which makes older keys stale).
    drops: u64,
    /// With a library much larger than the cells: each cell's nearest tiles.
    cold: Option<Cold>,
    /// Scratch marks of tiles: `marks[t] == stamp` marks `t` in this visit.
    marks: Vec<u64>,
    stamp: u64,
    last_report: Instant,
    progress: Progress,
    /// Whether the auction started from prices (then ε starts smaller).
    warm: bool,
}

/// Tiles kept per cell between refills of its list from its pool.
const LIST_LEN: usize = 24;
/// Entries kept in all the pools together (memory: 16 bytes each) ...
const POOL_BUDGET: usize = 4 << 20;
/// ... and at most per cell.
const MAX_POOL: usize = 512;
/// With fewer tiles than this many times the cells, the problem is nearly
/// square: every tile is wanted, and the auction's end game, where the last
/// cells must reach the last free tiles, dominates. The first phase then has
/// an ε as large as the costs (nearly a greedy start) and ε falls by
/// `SQUARE_RATIO`;
/// otherwise the first ε is `1 / LOOSE_START` of the cost range and falls by
/// `LOOSE_RATIO`, which measured 3x faster on photographs (benches/NOTES.md).
const SQUARE_SLACK: f64 = 1.25;
const SQUARE_RATIO: i64 = 8;
const LOOSE_START: i64 = 256;
const LOOSE_RATIO: i64 = 40;
/// Bids (forward and reverse) per cell in one exact phase past which the
/// phase is taken for a price war: its ε goes back to the previous phase's,
/// the phase ends at that ε, and then runs again at its own (once). ε-CS at
/// an ε implies it at any larger one, so the step back keeps every
/// invariant; at the larger ε each bid moves prices further. On real
/// photographs a first exact phase after the coarse ones sometimes starts
/// far from its prices: the high-key target of the quality benchmark (6,144
/// cells x 9,955 tiles, each once) spent 3.0 million bids and 7.8 million
/// reverse bids, 8 of the solve's 9.8 s, in its first exact phase (1,760 a
/// cell). Flat areas' reverse auctions, which lower a class's prices ε at a
/// time, take up to about 70 a cell in a phase and gain nothing from a step
/// back (the demo's problem with a fifth of its cells one colour: 0.66 ->
/// 0.80 s at 64); 128 spares them and catches both wars seen
/// (benches/NOTES.md, "Thirteenth round").
const WAR_BIDS: u64 = 128;

impl<'a> Auction<'a> {
    /// The auction at `start` prices (`None`: all 0), every cell re-priced;
    /// `sample` from [`SampleRows::new`] on `problem`'s tiles, `classes`
    /// from [`Classes::new`] on its cells.
    fn new(
        problem: Problem<'a>,
        n: usize,
        start: Option<&[i64]>,
        sample: Option<&'a SampleRows>,
        classes: &'a Classes,
    ) -> CoreResult<Auction<'a>> {
        let (dim, m) = (problem.dim, problem.cells.len() / problem.dim);
        let scale = m as i64 + 1;
        let max_abs = problem
            .cells
            .iter()
            .chain(problem.tiles)
            .map(|v| v.unsigned_abs())
            .max()
            .unwrap_or(0);
        // Every value the auction handles stays below a few times `K * max cost`.
        let max_cost = 4 * dim as u128 * u128::from(max_abs).pow(2);
        if (max_cost + 1) * scale as u128 * 16 > i64::MAX as u128 {
            return Err(CoreError::Argument(
                "too many cells for exact 64-bit costs with descriptor values this large".into(),
            ));
        }
        let simd = Simd::chosen()?;
        let mut by_pay = vec![BTreeSet::new(); m];
        for (i, &c) in classes.of.iter().enumerate() {
            if classes.size(i) > 1 {
                by_pay[c as usize].insert((0, Reverse(i as u32)));
            }
        }
        let paid = TileSet::new(simd, classes.rows(problem.cells), dim);
        let mut auction = Auction {
            problem,
            priced: PricedTiles::new(
                TileSet::oriented(simd, problem.tiles, dim, problem.orientations),
                scale,
            )?,
            paid: PricedTiles::new(paid, scale)?,
            sample: sample
                .map(|rows| Sample::new(rows, dim, problem.orientations))
                .transpose()?,
            m,
            n,
            scale,
            eps: 1,
            retreat: 0,
            phase_start: 0,
            war_bids: WAR_BIDS,
            max_cost: max_cost as i64,
            slots: vec![Vec::new(); n],
            p1: vec![0; n],
            p2: vec![if problem.capacity > 1 { 0 } else { INF }; n],
            hot: vec![false; n],
            tile_of: vec![NONE; m],
            slot_of: vec![NONE; m],
            cost_of: vec![0; m],
            pay: vec![0; m],
            classes,
            by_pay,
            list_len: LIST_LEN,
            lists: vec![Vec::new(); m],
            bound: vec![INF; m],
            pool_len: (POOL_BUDGET / classes.firsts.len()).clamp(2 * LIST_LEN, MAX_POOL),
            pool: vec![Vec::new(); m],
            sorted: vec![0; m],
            keyed: vec![0; m],
            pool_bound: vec![INF; m],
            drops: 0,
            cold: Cold::wanted(m, n, problem.orientations, max_cost).then(|| Cold::new(m)),
            marks: vec![0; n],
            stamp: 0,
            last_report: Instant::now(),
            progress: Progress::default(),
            warm: start.is_some(),
        };
        for (t, &price) in start.into_iter().flatten().enumerate() {
            if price > 0 {
                let free = Slot {
                    price,
                    holder: NONE,
                };
                auction.slots[t] = vec![free; problem.capacity];
                auction.hot[t] = true;
                auction.refresh(t);
            }
        }
        let all: Vec<u32> = (0..m as u32).collect();
        auction.reprice(&all)?;
        Ok(auction)
    }

    /// The class of cell `i`: the first cell identical to it.
    fn class(&self, i: usize) -> usize {
        self.classes.of[i] as usize
    }

    /// Whether other cells share the class `c` (by its first cell).
    fn shared(&self, c: usize) -> bool {
        self.classes.size(c) > 1
    }

    /// Whether the members of class `c` (by its first cell) bid together
    /// ([`Auction::class_bid`]): when other cells share it, and the pools
    /// come from exhaustive searches, which take a longer pool for a larger
    /// class (cold lists, for libraries much larger than the cells, do not).
    fn bids_as_class(&self, c: usize) -> bool {
        self.shared(c) && self.cold.is_none()
    }

    /// The length of class `c`'s pool: `pool_len`, and one more tile for
    /// each other cell of the class (its members hold that many tiles, and
    /// their bids look past them, [`Auction::class_bid`]).
    fn pool_len_of(&self, c: usize) -> usize {
        self.pool_len + self.classes.size(c) - 1
    }

    /// The ε-scaling schedule, largest first, ending at 1.
    fn schedule(&self) -> Vec<i64> {
        // The range of costs the first lists span.
        let top = self
            .lists
            .iter()
            .flat_map(|list| list.iter().map(|e| e.cost))
            .max()
            .unwrap_or(0);
        let (first, ratio) = if near_square(self.m, self.n, self.problem.capacity) {
            let skip = if self.warm { SQUARE_RATIO } else { 1 };
            (top * self.scale / skip, SQUARE_RATIO)
        } else {
            (top * self.scale / LOOSE_START, LOOSE_RATIO)
        };
        let mut eps = first.max(1);
        let mut all = vec![eps];
        while eps > 1 {
            eps = (eps / ratio).max(1);
            all.push(eps);
        }
        all
    }

    fn run(&mut self, observer: &mut dyn Observer) -> CoreResult<()> {
        let schedule = self.schedule();
        self.progress.stage = "auction";
        self.progress.phases = schedule.len();
        let mut coarse = self.coarse_phases(schedule.len());
        if coarse > 0 && !self.run_coarse(&schedule[..coarse], observer)? {
            coarse = 0; // given up: every phase runs exactly
        }
        for (phase, &eps) in schedule.iter().enumerate().skip(coarse) {
            self.progress.phase = phase;
            // Once more at its own ε after a retreat, which it cannot repeat.
            let mut retreat = if phase > 0 { schedule[phase - 1] } else { 0 };
            loop {
                self.eps = eps;
                self.retreat = retreat;
                self.phase_start = self.progress.bids + self.progress.reverse_bids;
                let queue = self.release_loose_cells()?;
                self.forward(queue, observer)?;
                self.reverse(observer)?;
                #[cfg(test)]
                self.check_invariants();
                self.report(observer, true)?;
                if self.eps == eps {
                    break;
                }
                retreat = 0;
            }
        }
        self.retreat = 0;
        self.progress.phase = schedule.len();
        Ok(())
    }

    /// Reports progress from inside a long run of bids (a phase can take
    /// minutes on large problems): the clock is read once every
    /// `BIDS_PER_CLOCK` bids, so the bids do not pay for it.
    fn report_now_and_then(&mut self, observer: &mut dyn Observer) -> CoreResult<()> {
        let bids = self.progress.bids + self.progress.reverse_bids;
        if bids.is_multiple_of(BIDS_PER_CLOCK) {
            self.report(observer, false)?;
        }
        Ok(())
    }

    /// Goes back to the retreat ε when this phase's bids pass `war_bids` per
    /// cell (between two bids: ε-CS holds at the phase's ε, so at the larger
    /// one too).
    fn retreat_in_a_war(&mut self) {
        if self.retreat > self.eps {
            let bids = self.progress.bids + self.progress.reverse_bids - self.phase_start;
            if bids > self.war_bids * self.m as u64 {
                self.eps = self.retreat;
                self.progress.retreats += 1;
            }
        }
    }

    /// Reports progress, at most every `REPORT_EVERY` unless `force`.
    fn report(&mut self, observer: &mut dyn Observer, force: bool) -> CoreResult<()> {
        if !force && self.last_report.elapsed() < REPORT_EVERY {
            return Ok(());
        }
        self.last_report = Instant::now();
        self.progress.unassigned = self.tile_of.iter().filter(|&&t| t == NONE).count();
        if observer.report(&self.progress) {
            Ok(())
        } else {
            Err(CoreError::Interrupted)
        }
    }

    /// Unassigns the cells that may break ε-CS at the new ε: those paying
    /// more than ε above a lower bound of their best value (releasing a cell
    /// that keeps ε-CS is allowed too); returns every unassigned cell, in order.
    fn release_loose_cells(&mut self) -> CoreResult<VecDeque<u32>> {
        let mut queue = VecDeque::new();
        for cell in 0..self.m as u32 {
            let i = cell as usize;
            if self.tile_of[i] == NONE {
                queue.push_back(cell);
            } else if self.pay[i] > self.best_floor(i) + self.eps {
                self.unassign(cell);
                queue.push_back(cell);
            }
        }
        Ok(queue)
    }

    /// A lower bound of a cell's least `K c + price`: its best listed value,
    /// or its list's bound if lower.
    fn best_floor(&self, i: usize) -> i64 {
        let listed = self.lists[i].iter().map(|e| self.value(e)).min();
        listed.unwrap_or(INF).min(self.bound[i])
    }

    /// The best and second-best listed values of a cell (`INF` if none),
    /// with the best tile and its cost; the tile's next slot competes too.
    fn scan_list(&self, i: usize) -> (i64, u32, i64, i64) {
        self.scan(self.lists[i].iter().map(|e| (e.tile, e.cost)))
    }

    /// [`Auction::scan_list`] of any `(tile, cost)` candidates: the best
    /// value `K c + price` (ties to the lower tile), its tile and cost, and
    /// the second-best value, counting the best tile's next slot.
    fn scan(&self, entries: impl Iterator<Item = (u32, i64)>) -> (i64, u32, i64, i64) {
        let (mut best, mut second) = ((INF, NONE, 0i64), INF);
        for (tile, cost) in entries {
            let value = self.scale * cost + self.p1[tile as usize];
            if (value, tile) < (best.0, best.1) {
                second = best.0;
                best = (value, tile, cost);
            } else if value < second {
                second = value;
            }
        }
        let (value, tile, cost) = best;
        if tile != NONE {
            second = second.min(self.scale * cost + self.p2[tile as usize]);
        }
        (value, tile, cost, second)
    }

    /// The bid of a cell, or `None` if even its pool cannot give one (then it
    /// needs an exhaustive search).
    ///
    /// ε-CS does not need the exact best tile: a listed tile worth at most
    /// `bound + ε/2` may be bid for with the bound as the second-best value
    /// (every unlisted tile is worth at least that). The cell then pays at
    /// most ε more than any other tile is worth to it, and the price rises by
    /// at least ε/2. In the coarse phases, where ε exceeds the spread of a
    /// list's values, lists thus last far longer.
    fn bid_of(&mut self, cell: u32) -> Option<Bid> {
        let i = cell as usize;
        let mut scan = self.scan_list(i);
        if scan.0 > self.bound[i] + self.eps / 2 && self.refill(i) {
            scan = self.scan_list(i);
        }
        self.bid_from(scan, self.bound[i])
    }

    /// The bid of a [`Auction::scan`] whose unscanned candidates all reach
    /// `bound`, by the rule of [`Auction::bid_of`]; `None` if it cannot tell.
    fn bid_from(&self, scan: (i64, u32, i64, i64), bound: i64) -> Option<Bid> {
        let (value, tile, cost, second) = scan;
        if tile == NONE || value > bound + self.eps / 2 {
            return None;
        }
        let second = match second.min(bound) {
            INF.. => value, // nothing else to compete with
            second => second,
        };
        Some(Bid {
            tile,
            cost,
            second,
            spare: NONE,
        })
    }

    /// Forward auction: unassigned cells bid until every cell holds a slot;
    /// cells whose pools cannot tell their best tile are re-priced together
    /// when no other cell can bid. The unassigned members of a class of
    /// identical cells wait together and bid together ([`Auction::class_bid`]).
    fn forward(&mut self, cells: VecDeque<u32>, observer: &mut dyn Observer) -> CoreResult<()> {
        let mut queue = Queue::default();
        for cell in cells {
            queue.push(self, cell);
        }
        let mut deferred = Vec::new();
        loop {
            while let Some(cell) = queue.cells.pop_front() {
                let c = self.class(cell as usize);
                if !self.bids_as_class(c) {
                    match self.bid_of(cell) {
                        None => deferred.push(cell),
                        Some(bid) => {
                            let out = self.place(cell, bid);
                            queue.extend(self, out);
                        }
                    }
                    self.report_now_and_then(observer)?;
                    self.retreat_in_a_war();
                    continue;
                }
                let members = queue.waiting.remove(&c).unwrap_or_default();
                let Some(bids) = self.class_bid(c, members.len()) else {
                    deferred.extend(members);
                    continue;
                };
                self.place_class_bids(&mut queue, &members, bids, observer)?;
                self.retreat_in_a_war();
            }
            if deferred.is_empty() {
                return Ok(());
            }
            self.reprice(&deferred)?;
            for cell in deferred.drain(..) {
                queue.push(self, cell);
            }
            self.report(observer, false)?;
        }
    }

    /// Places the `bids` of a class's waiting `members` (the first ones, one
    /// bid each), queues the cells they displace and the members left over.
    fn place_class_bids(
        &mut self,
        queue: &mut Queue,
        members: &[u32],
        bids: Vec<Bid>,
        observer: &mut dyn Observer,
    ) -> CoreResult<()> {
        let placed = bids.len();
        for (&member, bid) in members.iter().zip(bids) {
            let out = self.place(member, bid);
            queue.extend(self, out);
            self.report_now_and_then(observer)?;
        }
        for &member in &members[placed..] {
            queue.push(self, member);
        }
        Ok(())
    }

    /// The bids of `r` waiting members of class `c` (by its first cell),
    /// from the class's pool (`None` if it cannot tell the best tile):
    /// Bertsekas' bid for identical cells, all at one second-best value `w`.
    /// Each bid is for one of the class's best tiles by value `K c + price`
    /// of its cheapest slot not held by the class (at most `r` tiles), and
    /// `w` is the best value of every other such slot (the next tile's, the
    /// bound of the tiles off the pool, the next slot of a tile bid for), so
    /// each member pays `w + ε`; the class's members paying less than `w`
    /// are raised to `w` first (their slots' prices rise), so every member
    /// is then within ε of its best, and members never outbid one another.
    /// One by one, a member that lost its tile outbid another member by ε,
    /// who did the same, until the whole class had paid for one more tile
    /// (a third of the demo's cells one colour: 216,000 bids in one phase,
    /// all but a few hundred between members). A tile's price rises by at
    /// least ε/2, as in [`Auction::bid_of`] (a tile worth at most `w + ε/2`
    /// may be bid for).
    fn class_bid(&mut self, c: usize, r: usize) -> Option<Vec<Bid>> {
        // (value of the cheapest spare slot, tile, cost, value of the next one)
        let mut best: Vec<(i64, u32, i64, i64)> = self.pool[c]
            .iter()
            .filter_map(|e| {
                let (first, second) = self.spare_prices(e.tile as usize, c);
                let value = |price: i64| self.scale * e.cost + price.min(INF);
                (first < INF).then_some((value(first), e.tile, e.cost, value(second)))
            })
            .collect();
        let take = r.min(best.len());
        if take < best.len() {
            best.select_nth_unstable(take);
        }
        let next = best.get(take).map_or(INF, |b| b.0);
        best.truncate(take);
        best.sort_unstable();
        let mut w = next.min(self.pool_bound[c]);
        for &(.., second) in &best {
            w = w.min(second);
        }
        if w >= INF {
            w = best.last()?.0; // nothing else to compete with
        }
        let bids: Vec<Bid> = best
            .iter()
            .take_while(|b| b.0 <= w + self.eps / 2)
            .map(|&(_, tile, cost, _)| Bid {
                tile,
                cost,
                second: w,
                spare: c as u32,
            })
            .collect();
        if bids.is_empty() {
            return None;
        }
        let below: Vec<u32> = self.by_pay[c]
            .iter()
            .take_while(|&&(pay, _)| pay < w)
            .map(|&(_, Reverse(member))| member)
            .filter(|&member| self.tile_of[member as usize] != NONE)
            .collect();
        for member in below {
            let i = member as usize;
            let (t, s, cost) = (
                self.tile_of[i] as usize,
                self.slot_of[i] as usize,
                self.cost_of[i],
            );
            self.slots[t][s].price = w - self.scale * cost;
            self.set_pay(i, cost, w);
            self.refresh(t);
        }
        Some(bids)
    }

    /// The two lowest prices of tile `t`'s slots not held by a member of
    /// class `c` (an untouched slot is at 0; `INF` where there is none).
    fn spare_prices(&self, t: usize, c: usize) -> (i64, i64) {
        let slots = &self.slots[t];
        let (mut a, mut b) = (INF, INF);
        for _ in 0..(self.problem.capacity - slots.len()).min(2) {
            (a, b) = (0, a);
        }
        for slot in slots {
            if slot.holder != NONE && self.classes.of[slot.holder as usize] as usize == c {
                continue;
            }
            if slot.price < a {
                (a, b) = (slot.price, a);
            } else if slot.price < b {
                b = slot.price;
            }
        }
        (a, b)
    }

    /// Gives `cell` the cheapest slot of its bid's tile at the price that
    /// makes it pay its second-best value plus ε (Bertsekas' bid, which keeps
    /// ε-CS for every cell); returns the cell it displaced.
    fn place(&mut self, cell: u32, bid: Bid) -> Option<u32> {
        self.progress.bids += 1;
        let t = bid.tile as usize;
        let s = self.cheapest_slot(t, bid.spare);
        let pay = bid.second + self.eps;
        let slot = &mut self.slots[t][s];
        let out = slot.holder;
        slot.price = pay - self.scale * bid.cost;
        slot.holder = cell;
        self.hot[t] = true;
        let i = cell as usize;
        (self.tile_of[i], self.slot_of[i]) = (bid.tile, s as u32);
        self.set_pay(i, bid.cost, pay);
        self.refresh(t);
        if out == NONE {
            return None;
        }
        self.tile_of[out as usize] = NONE;
        self.slot_of[out as usize] = NONE;
        Some(out)
    }

    /// Index of a cheapest slot of tile `t` not held by a member of class
    /// `spare` (`NONE`: any slot; an untouched slot at price 0 is stored
    /// first if there is one).
    fn cheapest_slot(&mut self, t: usize, spare: u32) -> usize {
        let slots = &mut self.slots[t];
        if slots.len() < self.problem.capacity {
            slots.push(Slot {
                price: 0,
                holder: NONE,
            });
            return slots.len() - 1;
        }
        let of = &self.classes.of;
        let held = |slot: &Slot| slot.holder != NONE && of[slot.holder as usize] == spare;
        let mut at = None;
        for (s, slot) in slots.iter().enumerate() {
            if !held(slot) && at.is_none_or(|a: usize| slot.price < slots[a].price) {
                at = Some(s);
            }
        }
        at.expect("a slot the class does not hold")
    }

    /// Recomputes the two cheapest slot prices of tile `t`, and its offset
    /// in the priced search.
    fn refresh(&mut self, t: usize) {
        let slots = &self.slots[t];
        let untouched = self.problem.capacity - slots.len();
        let (mut a, mut b) = (INF, INF);
        for _ in 0..untouched.min(2) {
            (a, b) = (0, a);
        }
        for slot in slots {
            if slot.price < a {
                (a, b) = (slot.price, a);
            } else if slot.price < b {
                b = slot.price;
            }
        }
        if self.p1[t] != a {
            self.priced.set(t, a);
        }
        if a < self.p1[t] {
            self.drops += 1;
        }
        self.p1[t] = a;
        self.p2[t] = b;
    }

    /// Records what cell `i` now pays (`K c + price`) and its cost, and ranks
    /// its class by what its member paying most pays in the reverse
    /// auction's searches: the one place `pay` changes.
    fn set_pay(&mut self, i: usize, cost: i64, pay: i64) {
        let c = self.class(i);
        let top = if self.shared(c) {
            let members = &mut self.by_pay[c];
            members.remove(&(self.pay[i], Reverse(i as u32)));
            members.insert((pay, Reverse(i as u32)));
            members.last().map_or(pay, |&(top, _)| top)
        } else {
            pay
        };
        (self.cost_of[i], self.pay[i]) = (cost, pay);
        self.paid.set(self.classes.index[i] as usize, -top);
    }

    /// Frees the slot of an assigned cell (its price stays).
    fn unassign(&mut self, cell: u32) {
        let i = cell as usize;
        let (t, s) = (self.tile_of[i] as usize, self.slot_of[i] as usize);
        self.slots[t][s].holder = NONE;
        self.tile_of[i] = NONE;
        self.slot_of[i] = NONE;
        if self.slots[t][s].price == 0 {
            self.drop_slot(t, s);
        }
    }

    /// Drops a free slot at price 0 (it becomes an untouched one).
    fn drop_slot(&mut self, t: usize, s: usize) {
        self.slots[t].swap_remove(s);
        if let Some(moved) = self.slots[t].get(s) {
            if moved.holder != NONE {
                self.slot_of[moved.holder as usize] = s as u32;
            }
        }
        self.refresh(t);
    }

    /// Reverse auction: every free slot with a positive price bids for the
    /// cell that gains most by moving to it, or falls to price 0. A move
    /// frees the moved cell's slot, which bids in turn. One search, with the
    /// classes of cells as the searched set ranked by `K c - pay`, gives
    /// every tile that may bid (any tile holding a cell) its best cells; a
    /// tile whose best cells moved since is searched again with the others
    /// left. When a member of a class of identical cells first moves, the
    /// class's other tiles, which its members will leave one by one, join
    /// the next search.
    fn reverse(&mut self, observer: &mut dyn Observer) -> CoreResult<()> {
        let mut queue: VecDeque<u32> = (0..self.n as u32)
            .filter(|&t| self.priced_free_slot(t as usize).is_some())
            .collect();
        if queue.is_empty() {
            return Ok(());
        }
        // Many free slots: their moves will free most held tiles, so one
        // search gives every held tile its rivals. Few: the tiles they free
        // are searched as they come (a search of every held tile costs as
        // much as re-pricing every cell).
        let mut wanted: Vec<u32> = queue.iter().copied().collect();
        if wanted.len() * FEW_FREE > self.m {
            wanted.extend(self.tile_of.iter().copied().filter(|&t| t != NONE));
        }
        wanted.sort_unstable();
        wanted.dedup();
        let mut rivals: Vec<Option<Rivals>> = (0..self.n).map(|_| None).collect();
        let mut lowered = Vec::new();
        let mut stale = Vec::new();
        let mut fetched = HashSet::new();
        loop {
            for (&t, found) in wanted.iter().zip(self.rivals(&wanted)?) {
                rivals[t as usize] = Some(found);
            }
            while let Some(t) = queue.pop_front() {
                let t = t as usize;
                while let Some(s) = self.priced_free_slot(t) {
                    let Some(found) = rivals[t].as_ref() else {
                        stale.push(t as u32);
                        break;
                    };
                    let old = self.p1[t];
                    match self.reverse_bid(t, s, found) {
                        Outcome::Later => {
                            stale.push(t as u32);
                            break;
                        }
                        Outcome::Freed(t0) => {
                            queue.push_back(t0 as u32);
                            // A member of a class moved: the class's other
                            // tiles will come free in turn, searched at once.
                            let c = self.class(self.slots[t][s].holder as usize);
                            if self.shared(c) && fetched.insert(c) {
                                stale.extend(
                                    self.held_by(c).filter(|&t| rivals[t as usize].is_none()),
                                );
                            }
                        }
                        Outcome::Done => {}
                    }
                    if self.p1[t] < old {
                        lowered.push(t as u32);
                    }
                    self.report_now_and_then(observer)?;
                    self.retreat_in_a_war();
                }
            }
            if stale.is_empty() {
                break;
            }
            stale.sort_unstable();
            stale.dedup();
            queue.extend(stale.iter().copied());
            wanted = std::mem::take(&mut stale);
        }
        lowered.sort_unstable();
        lowered.dedup();
        self.relist(&lowered)
    }

    /// The tiles the members of class `c` (by its first cell) hold.
    fn held_by(&self, c: usize) -> impl Iterator<Item = u32> + '_ {
        self.by_pay[c]
            .iter()
            .map(|&(_, Reverse(member))| self.tile_of[member as usize])
            .filter(|&t| t != NONE)
    }

    fn priced_free_slot(&self, t: usize) -> Option<usize> {
        self.slots[t]
            .iter()
            .position(|s| s.holder == NONE && s.price > 0)
    }

    /// For each tile of `tiles`: the classes of largest gain `pay - K c` (what
    /// moving to the tile at price 0 would save their member paying most),
    /// each named by its first cell, and an upper bound of every other
    /// class's gain, by one search with the classes as the searched set and
    /// offsets `-pay`. A large class of identical cells would otherwise fill
    /// every tile's rivals, which then ran out after a few moves.
    fn rivals(&mut self, tiles: &[u32]) -> CoreResult<Vec<Rivals>> {
        self.progress.passes += 1;
        let (dim, n) = (self.problem.dim, self.n);
        let copies = self.problem.orientations;
        let rows: Vec<i16> = tiles
            .iter()
            .flat_map(|&t| (0..copies).map(move |c| t as usize + c * n))
            .flat_map(|e| self.problem.tiles[e * dim..(e + 1) * dim].iter().copied())
            .collect();
        let firsts = &self.classes.firsts;
        let k = RIVALS.min(firsts.len());
        let found = self.paid.search_unordered(&rows, k, None)?;
        let complete = k >= firsts.len();
        Ok(found
            .chunks(copies)
            .map(|rows| {
                let mut others = i64::MIN;
                let mut cells: Vec<(i64, u32)> = Vec::with_capacity(k * copies);
                for row in rows {
                    cells.extend(row.iter().map(|&(value, c)| (-value, firsts[c as usize])));
                    if !complete {
                        let kth = row.iter().map(|&(value, _)| value).max();
                        others = others.max(-kth.unwrap_or(i64::MAX));
                    }
                }
                // A cell listed in several orientations keeps its largest gain.
                cells.sort_unstable_by_key(|&(gain, cell)| (cell, Reverse(gain)));
                cells.dedup_by_key(|&mut (_, cell)| cell);
                cells.sort_unstable_by_key(|&(gain, cell)| (Reverse(gain), cell));
                Rivals { cells, others }
            })
            .collect())
    }

    /// The reverse bid of free slot `s` of tile `t` (price > 0) among its
    /// rivals (Bertsekas and Castañon 1992, with profit level 0): with
    /// `w1 >= w2` the two largest gains `pay_i - K c_it` over all cells, the
    /// best cell moves to the slot at price `max(0, w2 - ε)` if `w1 >= ε`,
    /// which lowers what it pays by at least ε; otherwise the price falls to
    /// 0. Either way ε-CS holds for every cell. Gains only fall during the
    /// reverse auction, so the gains the search found stay upper bounds:
    /// rivals are compared exactly, best bound first, only while their bound
    /// could change `w1` or `w2`, and the bound of the unlisted cells stands
    /// for them; when it could beat the best rival, the bid waits for a fresh
    /// search. A listed cell of a class of identical cells stands for the
    /// class: its two members paying most have its two largest gains (the
    /// same cost for `t`), whichever members moved since the search.
    fn reverse_bid(&mut self, t: usize, s: usize, rivals: &Rivals) -> Outcome {
        let mut best = Best {
            w1: i64::MIN,
            w2: rivals.others,
            star: NONE,
            cost: 0,
        };
        // Equal bounds are compared: right after a search they are the gains,
        // and a tie with the unlisted cells' bound must still find its cell.
        for &(bound, cell) in &rivals.cells {
            if bound < best.w2 {
                break;
            }
            let c = self.class(cell as usize);
            if !self.shared(c) {
                best.offer(cell, self.gain(cell, t));
                continue;
            }
            // The members paying most have the class's two largest gains.
            let cost = self.cost(c, t);
            for &(pay, Reverse(member)) in self.by_pay[c].iter().rev().take(2) {
                best.offer(member, (pay - self.scale * cost, cost));
            }
        }
        let Best {
            w1,
            w2,
            star,
            cost: star_cost,
        } = best;
        if w1 < rivals.others || (w1 < self.eps && rivals.others >= self.eps) {
            return Outcome::Later;
        }
        self.progress.reverse_bids += 1;
        if w1 < self.eps {
            self.slots[t][s].price = 0;
            self.drop_slot(t, s);
            return Outcome::Done;
        }
        let price = w2.saturating_sub(self.eps).max(0);
        let i = star as usize;
        let (t0, s0) = (self.tile_of[i] as usize, self.slot_of[i] as usize);
        self.slots[t0][s0].holder = NONE;
        self.slots[t][s] = Slot {
            price,
            holder: star,
        };
        (self.tile_of[i], self.slot_of[i]) = (t as u32, s as u32);
        self.set_pay(i, star_cost, self.scale * star_cost + price);
        self.refresh(t);
        if self.slots[t0][s0].price == 0 {
            self.drop_slot(t0, s0);
            return Outcome::Done;
        }
        self.refresh(t0);
        Outcome::Freed(t0)
    }

    /// What cell `cell` gains by moving to tile `t` at price 0, `pay - K c`,
    /// and its cost there.
    fn gain(&self, cell: u32, t: usize) -> (i64, i64) {
        let i = cell as usize;
        let cost = self.cost(i, t);
        (self.pay[i] - self.scale * cost, cost)
    }

    /// The cost of cell `i` for tile `t` (its nearest orientation).
    fn cost(&self, i: usize, t: usize) -> i64 {
        let dim = self.problem.dim;
        let (cells, tiles) = (self.problem.cells, self.problem.tiles);
        let cell = &cells[i * dim..(i + 1) * dim];
        // Values were checked within the search's range (`check`).
        (0..self.problem.orientations)
            .map(|o| {
                let e = t + o * self.n;
                distance_in_range(cell, &tiles[e * dim..(e + 1) * dim])
            })
            .min()
            .unwrap_or(INF)
    }

    /// Every invariant of the auction, by brute force (tests only).
    #[cfg(test)]
    fn check_invariants(&self) {
        for i in 0..self.m {
            let values: Vec<i64> = (0..self.n)
                .map(|t| self.scale * self.cost(i, t) + self.p1[t])
                .collect();
            let best = values.iter().copied().min().unwrap_or(INF);
            let t = self.tile_of[i] as usize;
            let slot = self.slots[t][self.slot_of[i] as usize];
            assert_eq!(slot.holder, i as u32);
            assert_eq!(self.cost_of[i], self.cost(i, t));
            assert_eq!(self.pay[i], self.scale * self.cost_of[i] + slot.price);
            assert!(self.pay[i] <= best + self.eps, "ε-CS of cell {i}");
            let (mut listed, mut pooled) = (vec![false; self.n], vec![false; self.n]);
            for e in &self.lists[i] {
                listed[e.tile as usize] = true;
                assert_eq!(e.cost, self.cost(i, e.tile as usize));
            }
            let c = self.class(i);
            for e in &self.pool[c] {
                pooled[e.tile as usize] = true;
                assert_eq!(e.cost, self.cost(i, e.tile as usize));
            }
            let sorted = &self.pool[c][..self.sorted[c] as usize];
            assert!(sorted.windows(2).all(|w| w[0].key <= w[1].key));
            if self.keyed[c] == self.drops {
                assert!(sorted.iter().all(|e| e.key <= self.value(e)), "pool keys");
            }
            for (t, &value) in values.iter().enumerate() {
                assert!(
                    listed[t] || value >= self.bound[i],
                    "list bound, cell {i} tile {t}"
                );
                assert!(
                    pooled[t] || value >= self.pool_bound[self.class(i)],
                    "pool bound, cell {i} tile {t}"
                );
            }
        }
        for slots in &self.slots {
            assert!(slots.iter().all(|s| s.holder != NONE || s.price == 0));
        }
    }
}
