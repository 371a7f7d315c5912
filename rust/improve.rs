//! Local improvement of an assignment made by [`crate::assign::penalised_greedy`]:
//! steps that lower the greedy's objective while keeping its rules.
//!
//! The objective is the one the greedy ranks by, summed: every cell's candidate
//! cost plus, per tile used `u` times, `penalty / w * u (u - 1) / 2` (the k-th use
//! of a tile of weight `w` costs `penalty * (k - 1) / w`). A step is
//!
//! - a **move**: a cell takes another of its candidates;
//! - a **swap**: two cells exchange their tiles, each a candidate of the other;
//! - a **chain**: a cell takes the tile of a second cell, which takes another of
//!   its candidates (its best allowed one at the start of the pass).
//!
//! A step is taken only if it lowers the total and keeps every rule of the greedy
//! ([`GreedyOptions`]): no tile of weight `w` over `w * max_uses` uses, none placed
//! where `w` copies already are within `min_distance` (Chebyshev) and none making
//! a neighbouring copy's own count reach `w`. The rules are checked in one place,
//! [`State::delta`], for the search and again when a step is applied.
//!
//! A pass proposes, for every cell in parallel, its best step against the state
//! at the start of the pass; the proposals are then applied one by one in a fixed
//! order (largest gain first, ties to the lower cell), each checked again against
//! the state as it is by then; one that an earlier step spoiled is replaced by
//! its cell's best step searched again on that state (without this, conflicting
//! proposals left most of a pass's gain for later passes). The result therefore
//! does not depend on the thread count. Passes stop when none applies a step, or after `max_passes`.
//! Cost per pass: `O(m * k * (h + r^2))` for `m` cells, `k` candidates, `h`
//! holders of a candidate tile looked at (at most [`MAX_HOLDERS`]) and radius `r`.

use rayon::prelude::*;

use crate::assign::{check_greedy_options, Candidates, GreedyOptions, NONE};
use crate::error::{CoreError, CoreResult};

/// Smallest decrease of the total a step must bring: float noise never cycles.
const MIN_GAIN: f64 = 1e-12;

/// Holders of a tile a cell looks at for a swap: all of a textured tile's at the
/// default limits (1% of the cells, 61 at 6,144 cells), the first of a flat tile's
/// (which can hold 20 times more); this bounds the cost of a pass.
const MAX_HOLDERS: usize = 64;

/// An improved assignment and what the improvement did.
#[derive(Debug, Clone, PartialEq)]
pub struct Improved {
    /// Tile of every cell.
    pub assignment: Vec<i64>,
    /// The objective before and after.
    pub total_before: f64,
    pub total_after: f64,
    /// Steps applied, by kind.
    pub moves: usize,
    pub swaps: usize,
    pub chains: usize,
    /// Passes run (the last one applied no step unless `max_passes` stopped it).
    pub passes: usize,
}

/// A cell listing a tile in its candidate row: the column and cost there.
#[derive(Debug, Clone, Copy)]
struct Listed {
    cell: u32,
    col: u32,
    cost: f64,
}

/// A cell and the candidate column it takes.
type Change = (usize, usize);

/// Two `(cost increase, cell)` holders of a tile that can give it up.
type Releases = [(f64, usize); 2];

/// One step: one change (a move) or two (a swap or a chain), and its gain.
#[derive(Debug, Clone, Copy)]
struct Step {
    delta: f64,
    first: Change,
    second: Option<Change>,
}

impl Step {
    fn changes(&self) -> ([Change; 2], usize) {
        match self.second {
            Some(second) => ([self.first, second], 2),
            None => ([self.first, self.first], 1),
        }
    }
}

/// Improves `assignment` (a tile for every cell, each among its candidates) by
/// moves, swaps and chains that lower the objective under the rules of
/// `options`, for at most `max_passes` passes.
pub fn improve_assignment(
    cand: Candidates<'_>,
    assignment: &[i64],
    options: GreedyOptions<'_>,
    max_passes: usize,
) -> CoreResult<Improved> {
    let m = cand.check()?;
    check_greedy_options(&options, m, cand.n_tiles)?;
    let mut state = State::new(cand, options, assignment)?;
    let total_before = state.total();
    let (mut moves, mut swaps, mut chains, mut passes) = (0, 0, 0, 0);
    while passes < max_passes {
        passes += 1;
        let alternatives: Vec<Option<usize>> = (0..m)
            .into_par_iter()
            .map(|c| state.alternative(c))
            .collect();
        let releases = state.releases(&alternatives);
        let mut steps: Vec<Step> = (0..m)
            .into_par_iter()
            .filter_map(|c| state.best_step(c, &alternatives, &releases))
            .collect();
        steps.sort_by(|a, b| a.delta.total_cmp(&b.delta).then(a.first.0.cmp(&b.first.0)));
        let mut applied = 0;
        for proposed in steps {
            // A step an earlier one spoiled is searched again on the state as it is.
            let still = |step: &Step| state.delta(&step.changes().0[..step.changes().1], -MIN_GAIN);
            let step = match still(&proposed) {
                Some(_) => proposed,
                None => match state.best_step(proposed.first.0, &alternatives, &releases) {
                    Some(step) => step,
                    None => continue,
                },
            };
            let (changes, len) = step.changes();
            let changes = &changes[..len];
            match step.second {
                None => moves += 1,
                Some((c2, j2)) if state.tile_at(c2, j2) == state.tile[step.first.0] => swaps += 1,
                Some(_) => chains += 1,
            }
            state.apply(changes);
            applied += 1;
        }
        if applied == 0 {
            break;
        }
    }
    Ok(Improved {
        total_after: state.total(),
        assignment: state.tile.iter().map(|&t| t as i64).collect(),
        total_before,
        moves,
        swaps,
        chains,
        passes,
    })
}

/// Every tile's listings: the cells whose candidate rows list it, ascending, with
/// the column and cost there. A cell's swaps all look up its own tile in the rows
/// of other cells: here those look-ups go to one small array, which stays in
/// cache, instead of a row per partner (a cache miss each).
struct Listings {
    /// Tile `t`'s listings at `by_cell[starts[t]..starts[t + 1]]`.
    by_cell: Vec<Listed>,
    starts: Vec<usize>,
    /// For a tile listed by at least one cell in [`CELLS_PER_WORD`], its cells as
    /// bits with the listings before each word, `m / 64` words from
    /// `words[first_word[t]]` (`usize::MAX` for other tiles): a look-up in O(1)
    /// instead of a binary search, in no more memory than the listings' own.
    words: Vec<RankWord>,
    first_word: Vec<usize>,
}

/// Cells per listing a tile needs for its [`RankWord`]s.
const CELLS_PER_WORD: usize = 64;

/// 64 cells' bits (set where the cell lists the tile) and the listings of the
/// cells before them.
#[derive(Debug, Clone, Copy, Default)]
struct RankWord {
    bits: u64,
    before: u32,
}

/// One tile's listings, to look cells up in.
#[derive(Clone, Copy)]
struct TileListings<'s> {
    listed: &'s [Listed],
    words: Option<&'s [RankWord]>,
}

impl Listings {
    /// Counts, then fills the listings cell by cell (so each tile's come out
    /// sorted by cell); `cand` is checked ([`Candidates::check`]: a tile at most
    /// once per row, so a cell at most once per tile).
    fn new(cand: Candidates<'_>) -> Self {
        let (k, n) = (cand.k, cand.n_tiles);
        let m = cand.tiles.len() / k;
        let mut starts = vec![0; n + 1];
        for &t in cand.tiles.iter().filter(|&&t| t != NONE) {
            starts[t as usize + 1] += 1;
        }
        for t in 0..n {
            starts[t + 1] += starts[t];
        }
        let mut next = starts[..n].to_vec();
        let unset = Listed {
            cell: 0,
            col: 0,
            cost: 0.0,
        };
        let mut by_cell = vec![unset; starts[n]];
        let rows = cand.tiles.chunks_exact(k).zip(cand.costs.chunks_exact(k));
        for (cell, (row, costs)) in rows.enumerate() {
            for (j, (&t, &cost)) in row.iter().zip(costs).enumerate() {
                if t != NONE {
                    let (cell, col) = (cell as u32, j as u32);
                    by_cell[next[t as usize]] = Listed { cell, col, cost };
                    next[t as usize] += 1;
                }
            }
        }
        let per_tile = m.div_ceil(64);
        let mut words = Vec::new();
        let mut first_word = vec![usize::MAX; n];
        for t in 0..n {
            let listed = &by_cell[starts[t]..starts[t + 1]];
            if listed.len() * CELLS_PER_WORD < m {
                continue;
            }
            first_word[t] = words.len();
            words.resize(words.len() + per_tile, RankWord::default());
            let own = &mut words[first_word[t]..];
            for (i, e) in listed.iter().enumerate() {
                let word = &mut own[e.cell as usize / 64];
                if word.bits == 0 {
                    word.before = i as u32;
                }
                word.bits |= 1 << (e.cell % 64);
            }
        }
        Listings {
            by_cell,
            starts,
            words,
            first_word,
        }
    }

    fn of(&self, tile: usize) -> TileListings<'_> {
        let listed = &self.by_cell[self.starts[tile]..self.starts[tile + 1]];
        let first = self.first_word[tile];
        let words = (first != usize::MAX).then(|| &self.words[first..]);
        TileListings { listed, words }
    }
}

impl TileListings<'_> {
    /// The listing of `cell`, if its row lists the tile.
    fn find(&self, cell: usize) -> Option<Listed> {
        let Some(words) = self.words else {
            let i = self.listed.binary_search_by_key(&cell, |e| e.cell as usize);
            return i.ok().map(|i| self.listed[i]);
        };
        let word = words[cell / 64];
        let bit = 1u64 << (cell % 64);
        if word.bits & bit == 0 {
            return None;
        }
        let i = word.before as usize + (word.bits & (bit - 1)).count_ones() as usize;
        Some(self.listed[i])
    }
}

/// The assignment being improved and what the steps need to look up.
struct State<'a> {
    cand: Candidates<'a>,
    options: GreedyOptions<'a>,
    /// Candidate column and tile of every cell.
    col: Vec<usize>,
    tile: Vec<usize>,
    uses: Vec<u64>,
    /// The cells holding each tile.
    holders: Vec<Vec<usize>>,
    /// Which cells list each tile, and where.
    listings: Listings,
    /// Every row's non-padding columns, row `c` at
    /// `filled[column_starts[c]..column_starts[c + 1]]`: the rows widened for
    /// the stuck cells are mostly padding elsewhere.
    filled: Vec<u32>,
    column_starts: Vec<usize>,
    /// Every cell's own cost: small enough to stay in cache while the swaps look
    /// at cells all over the grid.
    own: Vec<f64>,
}

impl<'a> State<'a> {
    fn new(
        cand: Candidates<'a>,
        options: GreedyOptions<'a>,
        assignment: &[i64],
    ) -> CoreResult<Self> {
        let (k, n) = (cand.k, cand.n_tiles);
        let m = cand.tiles.len() / k;
        if assignment.len() != m {
            return Err(CoreError::Shape(format!(
                "the assignment must have one tile per cell ({m}), got {}",
                assignment.len()
            )));
        }
        let narrow = |value: usize, what: &str| {
            u32::try_from(value).map_err(|_| {
                CoreError::Argument(format!("the improvement takes at most 2^32 {what}"))
            })
        };
        narrow(m, "cells")?;
        narrow(n, "tiles")?;
        narrow(k, "candidates per cell")?;
        let mut filled = Vec::new();
        let mut column_starts = Vec::with_capacity(m + 1);
        column_starts.push(0);
        for row in cand.tiles.chunks_exact(k) {
            let columns = row.iter().enumerate().filter(|&(_, &t)| t != NONE);
            filled.extend(columns.map(|(j, _)| j as u32));
            column_starts.push(filled.len());
        }
        let mut state = State {
            cand,
            options,
            own: vec![0.0; m],
            listings: Listings::new(cand),
            filled,
            column_starts,
            col: vec![0; m],
            tile: vec![0; m],
            uses: vec![0; n],
            holders: vec![Vec::new(); n],
        };
        for (cell, &t) in assignment.iter().enumerate() {
            let Some(j) = (t != NONE)
                .then(|| state.column(cell, t as usize))
                .flatten()
            else {
                return Err(CoreError::Argument(format!(
                    "cell {cell} holds tile {t}, which is not among its candidates"
                )));
            };
            state.col[cell] = j;
            state.own[cell] = state.cost(cell, j);
            state.tile[cell] = t as usize;
            state.uses[t as usize] += 1;
            state.holders[t as usize].push(cell);
        }
        Ok(state)
    }

    fn cost(&self, cell: usize, j: usize) -> f64 {
        self.cand.costs[cell * self.cand.k + j]
    }

    fn tile_at(&self, cell: usize, j: usize) -> usize {
        self.cand.tiles[cell * self.cand.k + j] as usize
    }

    /// The column of `tile` in the candidate row of `cell`, if listed.
    fn column(&self, cell: usize, tile: usize) -> Option<usize> {
        self.listings.of(tile).find(cell).map(|e| e.col as usize)
    }

    fn weight(&self, tile: usize) -> u64 {
        u64::from(self.options.weights.get(tile).copied().unwrap_or(1))
    }

    fn limit(&self, tile: usize) -> u64 {
        self.options
            .max_uses
            .map_or(u64::MAX, |u| (u as u64).saturating_mul(self.weight(tile)))
    }

    /// The penalty a tile's uses cost in total: `penalty / w * u (u - 1) / 2`.
    fn use_cost(&self, tile: usize, uses: u64) -> f64 {
        if self.options.penalty == 0.0 || uses < 2 {
            return 0.0;
        }
        let pairs = (uses * (uses - 1) / 2) as f64;
        self.options.penalty * pairs / self.weight(tile) as f64
    }

    /// The objective: every cell's cost plus every tile's use cost.
    fn total(&self) -> f64 {
        let costs: f64 = self.own.iter().sum();
        let uses: f64 = (0..self.uses.len())
            .map(|t| self.use_cost(t, self.uses[t]))
            .sum();
        costs + uses
    }

    /// The tile of `cell` once `changes` are made.
    fn tile_after(&self, cell: usize, changes: &[Change]) -> usize {
        changes
            .iter()
            .find(|&&(c, _)| c == cell)
            .map_or(self.tile[cell], |&(c, j)| self.tile_at(c, j))
    }

    /// The change of the objective if `changes` are made (distinct cells, each
    /// taking a tile other than its own), or `None` if a rule forbids them or the
    /// change is not below `bound`. Every rule is checked here.
    fn delta(&self, changes: &[Change], bound: f64) -> Option<f64> {
        if changes
            .iter()
            .any(|&(c, j)| self.tile_at(c, j) == self.tile[c])
            || (changes.len() == 2 && changes[0].0 == changes[1].0)
        {
            return None;
        }
        let mut delta: f64 = changes
            .iter()
            .map(|&(c, j)| self.cost(c, j) - self.own[c])
            .sum();
        // Net uses per tile: at most four tiles change.
        let mut net: [(usize, i64); 4] = [(usize::MAX, 0); 4];
        let mut count = |tile: usize, by: i64| {
            let slot = net
                .iter()
                .position(|&(t, _)| t == tile || t == usize::MAX)
                .unwrap_or(0);
            net[slot] = (tile, net[slot].1 + by);
        };
        for &(c, j) in changes {
            count(self.tile[c], -1);
            count(self.tile_at(c, j), 1);
        }
        for &(tile, by) in net.iter().filter(|&&(t, by)| t != usize::MAX && by != 0) {
            let before = self.uses[tile];
            let after = before.checked_add_signed(by)?;
            if by > 0 && after > self.limit(tile) {
                return None;
            }
            delta += self.use_cost(tile, after) - self.use_cost(tile, before);
        }
        if delta >= bound {
            return None;
        }
        let spaced = changes
            .iter()
            .all(|&(c, j)| self.spaced(c, self.tile_at(c, j), changes));
        spaced.then_some(delta)
    }

    /// Whether `tile` may sit at `cell` once `changes` are made: fewer than its
    /// weight `w` copies within the min distance, and no neighbouring copy with
    /// `w` copies of its own around it then.
    fn spaced(&self, cell: usize, tile: usize, changes: &[Change]) -> bool {
        let w = self.weight(tile);
        let mut near = 0;
        let mut ok = true;
        self.around(cell, |other| {
            if ok && self.tile_after(other, changes) == tile {
                near += 1;
                ok = near < w && (w == 1 || self.copies_around(other, tile, changes) < w);
            }
        });
        ok
    }

    /// Copies of `tile` within the min distance of `cell` (itself excluded) once
    /// `changes` are made.
    fn copies_around(&self, cell: usize, tile: usize, changes: &[Change]) -> u64 {
        let mut near = 0;
        self.around(cell, |other| {
            if self.tile_after(other, changes) == tile {
                near += 1;
            }
        });
        near
    }

    /// Calls `visit` with every cell within the min distance of `cell` (or among its
    /// given neighbours, for cells of several sizes), itself excluded.
    fn around(&self, cell: usize, mut visit: impl FnMut(usize)) {
        if let Some(neighbours) = self.options.neighbours {
            neighbours.of(cell).for_each(visit);
            return;
        }
        let r = self.options.min_distance;
        if r == 0 {
            return;
        }
        let (rows, cols) = self.options.grid;
        let (row, col) = (cell / cols, cell % cols);
        for y in row.saturating_sub(r)..(row + r + 1).min(rows) {
            for x in col.saturating_sub(r)..(col + r + 1).min(cols) {
                let other = y * cols + x;
                if other != cell {
                    visit(other);
                }
            }
        }
    }

    /// The column of the best move of `cell` on its own, gain or not: what it can
    /// take when a chain gives its tile to another cell.
    fn alternative(&self, cell: usize) -> Option<usize> {
        let mut best: Option<(f64, usize)> = None;
        for j in self.columns(cell) {
            let tile = self.tile_at(cell, j);
            if tile == self.tile[cell] || self.uses[tile] >= self.limit(tile) {
                continue;
            }
            let score = self.cost(cell, j) + self.penalty_per_use(tile);
            if best.is_none_or(|(s, _)| score < s) && self.spaced(cell, tile, &[(cell, j)]) {
                best = Some((score, j));
            }
        }
        best.map(|(_, j)| j)
    }

    /// What one more use of `tile` adds to the objective.
    fn penalty_per_use(&self, tile: usize) -> f64 {
        self.use_cost(tile, self.uses[tile] + 1) - self.use_cost(tile, self.uses[tile])
    }

    /// The non-padding columns of `cell`, in order.
    fn columns(&self, cell: usize) -> impl Iterator<Item = usize> + '_ {
        let span = self.column_starts[cell]..self.column_starts[cell + 1];
        self.filled[span].iter().map(|&j| j as usize)
    }

    /// The best step starting at `cell`: a move; for every candidate better than
    /// its own, a swap with a cell holding that candidate and listing its tile,
    /// or a chain through one of the two holders that give it up most cheaply
    /// (`releases`).
    fn best_step(
        &self,
        cell: usize,
        alternatives: &[Option<usize>],
        releases: &[Releases],
    ) -> Option<Step> {
        let mut best: Option<Step> = None;
        let consider = |first: Change, second: Option<Change>, best: &mut Option<Step>| {
            let bound = best.map_or(-MIN_GAIN, |s| s.delta);
            let (changes, len) = Step {
                delta: 0.0,
                first,
                second,
            }
            .changes();
            if let Some(delta) = self.delta(&changes[..len], bound) {
                *best = Some(Step {
                    delta,
                    first,
                    second,
                });
            }
        };
        let bound = |best: &Option<Step>| best.map_or(-MIN_GAIN, |s| s.delta);
        let (mine, own) = (self.tile[cell], self.own[cell]);
        let mine_listed = self.listings.of(mine);
        for j in self.columns(cell) {
            consider((cell, j), None, &mut best);
        }
        for j in self.columns(cell) {
            let (tile, gain) = (self.tile_at(cell, j), own - self.cost(cell, j));
            if gain <= 0.0 || tile == mine {
                continue;
            }
            for &other in self.holders[tile].iter().take(MAX_HOLDERS) {
                let Some(back) = mine_listed.find(other) else {
                    continue;
                };
                let swap = back.cost - self.own[other] - gain;
                if swap < bound(&best) {
                    consider((cell, j), Some((other, back.col as usize)), &mut best);
                }
            }
            for &(release, other) in &releases[tile] {
                let Some(alt) = alternatives.get(other).copied().flatten() else {
                    continue;
                };
                if other != cell
                    && self.tile_at(other, alt) != mine
                    && release - gain < bound(&best)
                {
                    consider((cell, j), Some((other, alt)), &mut best);
                }
            }
        }
        best
    }

    /// Per tile, the two holders whose move to their alternative costs least
    /// (`(cost increase, cell)`, ties to the lower cell; `usize::MAX` for none).
    fn releases(&self, alternatives: &[Option<usize>]) -> Vec<Releases> {
        let mut out = vec![[(f64::INFINITY, usize::MAX); 2]; self.uses.len()];
        for (cell, alt) in alternatives.iter().enumerate() {
            let Some(j) = *alt else { continue };
            let entry = (self.cost(cell, j) - self.own[cell], cell);
            let slots = &mut out[self.tile[cell]];
            let before =
                |a: (f64, usize), b: (f64, usize)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).is_lt();
            if before(entry, slots[0]) {
                slots[1] = slots[0];
                slots[0] = entry;
            } else if before(entry, slots[1]) {
                slots[1] = entry;
            }
        }
        out
    }

    fn apply(&mut self, changes: &[Change]) {
        for &(cell, j) in changes {
            let (old, new) = (self.tile[cell], self.tile_at(cell, j));
            self.uses[old] -= 1;
            self.uses[new] += 1;
            let list = &mut self.holders[old];
            if let Some(i) = list.iter().position(|&c| c == cell) {
                list.swap_remove(i);
            }
            self.holders[new].push(cell);
            self.col[cell] = j;
            self.own[cell] = self.cost(cell, j);
            self.tile[cell] = new;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assign::penalised_greedy;

    fn options(max_uses: Option<usize>, r: usize, grid: (usize, usize)) -> GreedyOptions<'static> {
        GreedyOptions {
            penalty: 0.0,
            max_uses,
            min_distance: r,
            grid,
            weights: &[],
            neighbours: None,
        }
    }

    fn run(
        tiles: &[i64],
        costs: &[f64],
        k: usize,
        n: usize,
        start: &[i64],
        o: GreedyOptions<'_>,
    ) -> Improved {
        let cand = Candidates {
            tiles,
            costs,
            k,
            n_tiles: n,
        };
        improve_assignment(cand, start, o, 10).unwrap()
    }

    #[test]
    fn two_cells_swap_their_tiles() {
        // Cell 0 took tile 0 first; both are better off exchanging.
        let got = run(
            &[0, 1, 0, 1],
            &[0.1, 0.2, 0.1, 0.9],
            2,
            2,
            &[0, 1],
            options(Some(1), 0, (1, 2)),
        );
        assert_eq!(got.assignment, vec![1, 0]);
        assert_eq!((got.moves, got.swaps, got.chains), (0, 1, 0));
        assert!((got.total_before - 1.0).abs() < 1e-12 && (got.total_after - 0.3).abs() < 1e-12);
    }

    #[test]
    fn padding_anywhere_in_a_row_changes_nothing() {
        // The swap and the chain above, their rows padded before, between and after.
        let o = options(Some(1), 0, (1, 2));
        let got = run(
            &[NONE, 0, NONE, 1, 0, 1, NONE, NONE],
            &[0.0, 0.1, 0.0, 0.2, 0.1, 0.9, 0.0, 0.0],
            4,
            2,
            &[0, 1],
            o,
        );
        assert_eq!(got.assignment, vec![1, 0]);
        assert_eq!((got.moves, got.swaps, got.chains), (0, 1, 0));
        let got = run(
            &[0, NONE, NONE, 1, NONE, 0, 2, NONE],
            &[0.1, 0.0, 0.0, 0.12, 0.0, 0.1, 0.5, 0.0],
            4,
            3,
            &[0, 2],
            o,
        );
        assert_eq!(got.assignment, vec![1, 0]);
        assert_eq!((got.moves, got.swaps, got.chains), (0, 0, 1));
    }

    #[test]
    fn a_cell_passes_its_tile_on_and_takes_a_free_one() {
        // Cell 1 wants tile 0 of cell 0, which can take the unused tile 1.
        let got = run(
            &[0, 1, 0, 2],
            &[0.1, 0.12, 0.1, 0.5],
            2,
            3,
            &[0, 2],
            options(Some(1), 0, (1, 2)),
        );
        assert_eq!(got.assignment, vec![1, 0]);
        assert_eq!((got.moves, got.swaps, got.chains), (0, 0, 1));
    }

    #[test]
    fn steps_keep_the_distance_and_the_use_limit() {
        // Both cells prefer tile 0, side by side at radius 1: only one may hold it,
        // the one that gains most (cell 1: 0.6).
        let (tiles, costs) = ([0, 1, 0, 2], [0.0, 0.5, 0.0, 0.6]);
        let got = run(&tiles, &costs, 2, 3, &[1, 2], options(None, 1, (1, 2)));
        assert_eq!((got.assignment, got.moves), (vec![1, 0], 1));
        let got = run(&tiles, &costs, 2, 3, &[1, 2], options(Some(1), 0, (1, 2)));
        assert_eq!(got.assignment, vec![1, 0]);
        // Neither rule: both take it.
        let got = run(&tiles, &costs, 2, 3, &[1, 2], options(None, 0, (1, 2)));
        assert_eq!((got.assignment, got.moves), (vec![0, 0], 2));
    }

    #[test]
    fn a_penalty_spreads_uses() {
        // Four cells on tile 0; each further use costs 0.3, a move to its own tile 0.2.
        let tiles: Vec<i64> = (0..4).flat_map(|c| [0, c + 1]).collect();
        let costs: Vec<f64> = (0..4).flat_map(|_| [0.0, 0.2]).collect();
        let o = GreedyOptions {
            penalty: 0.3,
            ..options(None, 0, (1, 4))
        };
        let got = run(&tiles, &costs, 2, 5, &[0; 4], o);
        assert_eq!(got.assignment.iter().filter(|&&t| t == 0).count(), 1);
        assert!((got.total_before - 6.0 * 0.3).abs() < 1e-12);
        assert!((got.total_after - 3.0 * 0.2).abs() < 1e-12);
    }

    #[test]
    fn a_cell_off_its_candidates_is_an_error() {
        let cand = Candidates {
            tiles: &[0, 1],
            costs: &[0.0, 0.0],
            k: 1,
            n_tiles: 2,
        };
        let bad = improve_assignment(cand, &[1, 1], options(None, 0, (1, 2)), 1);
        assert!(matches!(bad, Err(CoreError::Argument(_))));
        let short = improve_assignment(cand, &[0], options(None, 0, (1, 2)), 1);
        assert!(matches!(short, Err(CoreError::Shape(_))));
    }

    #[test]
    fn listings_find_every_listed_cell_by_bits_or_by_search() {
        // 300 cells: tile 0 in every row (looked up by its bits), the others in a
        // few rows (binary search), padding between.
        let (m, k, n) = (300, 4, 200);
        let mut tiles = Vec::with_capacity(m * k);
        for cell in 0..m {
            let other = 1 + (cell * 7) % (n - 1);
            tiles.extend([NONE, other as i64, 0, NONE]);
        }
        let costs: Vec<f64> = (0..m * k).map(|i| i as f64 / 8.0).collect();
        let cand = Candidates {
            tiles: &tiles,
            costs: &costs,
            k,
            n_tiles: n,
        };
        cand.check().unwrap();
        let listings = Listings::new(cand);
        assert!(listings.of(0).words.is_some() && listings.of(1).words.is_none());
        for tile in 0..n {
            for cell in 0..m {
                let row = &tiles[cell * k..(cell + 1) * k];
                let col = row.iter().position(|&t| t == tile as i64);
                let found = listings.of(tile).find(cell);
                assert_eq!(
                    found.map(|e| e.col as usize),
                    col,
                    "tile {tile} cell {cell}"
                );
                if let (Some(e), Some(j)) = (found, col) {
                    assert_eq!((e.cell as usize, e.cost), (cell, costs[cell * k + j]));
                }
            }
        }
    }

    /// Other copies of the tile of `cell` within the min distance.
    fn near_copies(assignment: &[i64], cell: usize, o: &GreedyOptions<'_>) -> usize {
        let (rows, cols) = o.grid;
        let r = o.min_distance;
        let (y, x) = (cell / cols, cell % cols);
        let mut near = 0;
        for yy in y.saturating_sub(r)..(y + r + 1).min(rows) {
            for xx in x.saturating_sub(r)..(x + r + 1).min(cols) {
                let other = yy * cols + xx;
                near += usize::from(other != cell && assignment[other] == assignment[cell]);
            }
        }
        near
    }

    /// Cells with as many copies of their tile nearby as its weight, or more.
    fn crowded(assignment: &[i64], o: &GreedyOptions<'_>) -> usize {
        (0..assignment.len())
            .filter(|&cell| {
                let weight = o.weights[assignment[cell] as usize] as usize;
                near_copies(assignment, cell, o) >= weight
            })
            .count()
    }

    #[test]
    fn random_greedy_results_only_get_better_within_the_rules() {
        let (rows, cols, n, k) = (12, 14, 60, 8);
        let m = rows * cols;
        let mut tested = 0;
        for seed in 0..12u64 {
            let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            let mut next = || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state
            };
            let mut tiles = Vec::with_capacity(m * k);
            let mut costs = Vec::with_capacity(m * k);
            for _ in 0..m {
                let first = next() as usize % n;
                for j in 0..k {
                    tiles.push(((first + j * 7) % n) as i64);
                    costs.push((next() % 1000) as f64 / 1000.0);
                }
            }
            let weights: Vec<u32> = (0..n).map(|t| if t % 9 == 0 { 3 } else { 1 }).collect();
            let o = GreedyOptions {
                penalty: [0.0, 0.01][seed as usize % 2],
                max_uses: Some(6),
                min_distance: 1 + seed as usize % 2,
                grid: (rows, cols),
                weights: &weights,
                neighbours: None,
            };
            let cand = Candidates {
                tiles: &tiles,
                costs: &costs,
                k,
                n_tiles: n,
            };
            let order: Vec<i64> = (0..m as i64).collect();
            let greedy = penalised_greedy(cand, &order, &vec![NONE; m], o).unwrap();
            if greedy.assignment.contains(&NONE) {
                continue;
            }
            let got = improve_assignment(cand, &greedy.assignment, o, 20).unwrap();
            assert!(got.total_after < got.total_before, "seed {seed}");
            tested += 1;
            let mut uses = vec![0usize; n];
            for &t in &got.assignment {
                uses[t as usize] += 1;
            }
            assert!((0..n).all(|t| uses[t] <= 6 * weights[t] as usize));
            assert!(crowded(&got.assignment, &o) <= crowded(&greedy.assignment, &o));
            for (cell, &t) in got.assignment.iter().enumerate() {
                assert!(tiles[cell * k..(cell + 1) * k].contains(&t));
                if weights[t as usize] == 1 {
                    assert_eq!(near_copies(&got.assignment, cell, &o), 0, "seed {seed}");
                }
            }
        }
        assert!(tested >= 8, "only {tested} greedy results were complete");
    }
}
