//! The certificate of the auction's assignment: integer duals `(u, v)` with
//! `c_ij - u_i - v_j >= 0` over every pair, checked by the exhaustive search.
//!
//! Given the assignment `a`, the tile duals must satisfy the difference
//! constraints `v_j <= 0` and `v_j <= v_a(i) + c_ij - c_i,a(i)` for every cell
//! `i` and tile `j`, with `v_j = 0` on tiles that have a free use; then
//! `u_i = c_i,a(i) - v_a(i)`. The largest solution is the shortest-path
//! distance from a source joined to every tile at length 0 (Bellman's
//! difference constraints); it is 0 on every tile with a free use exactly
//! when no cheaper assignment exists. The paths are computed over the pairs
//! of the cells' pools, label-correcting, in the order of the auction's
//! prices (which make almost every reduced arc length non-negative, so few
//! labels are corrected twice), then one exhaustive search with offsets `-v`
//! finds any pair outside the pools that breaks a constraint; those pairs
//! join the pools and the duals are computed again. The next check searches
//! only the cells whose pairs could have changed side: those whose dual `u`
//! rose and those whose search was cut off with every pair it returned
//! breaking a constraint; every other pair was checked at duals no lower
//! than the new ones, and the pooled pairs hold by construction (unless a
//! tile dual rose, which the difference constraints make rare: then every
//! cell is searched again). A negative path or cycle
//! would lower the total (the auction is exact, so it is not expected): the
//! assignment is then improved along it and the certificate starts over.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use super::{Auction, Certified, Entry, Observer, Slot, NONE};
use crate::error::{CoreError, CoreResult};
use crate::search::{distance_wide, Offsets};

/// Pairs the checking search returns per cell.
const CHECK_PAIRS: usize = 4;
/// Rounds of the certificate before giving up (each adds the pairs it found).
const MAX_CHECKS: usize = 50;

/// Cell moves `(cell, new tile)` that lower the total cost.
type Moves = Vec<(u32, u32)>;

impl Auction<'_> {
    /// Exact integer duals and the certificate over all pairs; improves the
    /// assignment if they show it is not optimal.
    pub(super) fn certify(mut self, observer: &mut dyn Observer) -> CoreResult<Certified> {
        self.progress.stage = "certificate";
        // The duals of the last check and the classes it left open.
        let mut last: Option<(Vec<i64>, Vec<bool>)> = None;
        for _ in 0..MAX_CHECKS {
            self.report(observer, true)?;
            let found = match self.tile_duals(true) {
                Ok(None) => self.tile_duals(false),
                found => found,
            };
            match found {
                Err(moves) => {
                    self.improve(&moves);
                    last = None;
                }
                // From 0 the duals always decide.
                Ok(None) => {}
                Ok(Some(v)) => {
                    let wanted = self.classes_to_check(&v, last.as_ref());
                    let (added, open) = self.add_violations(&v, &wanted)?;
                    if added == 0 {
                        return Ok(self.finish(v));
                    }
                    last = Some((v, open));
                }
            }
        }
        Err(CoreError::Argument(format!(
            "no certificate of optimality after {MAX_CHECKS} rounds (internal error)"
        )))
    }

    /// The tiles' duals `v` in cost units: the largest solution of the
    /// difference constraints over the pools' pairs below `v_j = 0` (or,
    /// `from_prices`, below `-ceil(p1_j / K)`, which the auction's ε-CS makes
    /// nearly a solution already, so few labels change). `Ok(None)`: started
    /// from prices, a tile with a free use fell below 0, which proves nothing;
    /// `Err`: moves along a negative cycle, or (from 0) a negative path to a
    /// tile with a free use.
    fn tile_duals(&self, from_prices: bool) -> Result<Option<Vec<i64>>, Moves> {
        let (n, scale) = (self.n, self.scale);
        let holders = self.holders();
        let held = holders.iter().filter(|h| !h.is_empty()).count();
        // label = K * v + p1: arcs then have reduced lengths >= -1 (ε-CS).
        let mut label: Vec<i64> = if from_prices {
            self.p1
                .iter()
                .map(|&p| p - scale * (p + scale - 1).div_euclid(scale))
                .collect()
        } else {
            self.p1.clone()
        };
        let mut pred = vec![NONE; n];
        let mut hops = vec![0usize; n];
        let mut heap: BinaryHeap<Reverse<(i64, u32)>> = (0..n)
            .filter(|&t| !holders[t].is_empty())
            .map(|t| Reverse((label[t], t as u32)))
            .collect();
        while let Some(Reverse((at, a))) = heap.pop() {
            let a = a as usize;
            if at != label[a] {
                continue;
            }
            for &cell in &holders[a] {
                let i = cell as usize;
                for e in &self.pool[self.class(i)] {
                    let j = e.tile as usize;
                    let via = at + scale * (e.cost - self.cost_of[i]) + self.p1[j] - self.p1[a];
                    if j == a || via >= label[j] {
                        continue;
                    }
                    label[j] = via;
                    pred[j] = cell;
                    hops[j] = hops[a] + 1;
                    if hops[j] > held {
                        // Labels only fall along negative cycles this long.
                        return Err(self.cycle_moves(j, &pred));
                    }
                    if !holders[j].is_empty() {
                        heap.push(Reverse((via, j as u32)));
                    }
                }
            }
        }
        let v: Vec<i64> = label
            .iter()
            .zip(&self.p1)
            .map(|(&l, &p)| (l - p) / scale)
            .collect();
        let free = (0..n).find(|&t| v[t] < 0 && holders[t].len() < self.problem.capacity);
        match free {
            None => Ok(Some(v)),
            Some(_) if from_prices => Ok(None),
            Some(t) => Err(self.path_moves(t, &pred)),
        }
    }

    /// The cells held by each tile.
    fn holders(&self) -> Vec<Vec<u32>> {
        let mut holders = vec![Vec::new(); self.n];
        for (cell, &t) in self.tile_of.iter().enumerate() {
            holders[t as usize].push(cell as u32);
        }
        holders
    }

    /// The moves of the shortest path ending at tile `t`.
    fn path_moves(&self, t: usize, pred: &[u32]) -> Moves {
        let mut moves = Vec::new();
        let mut at = t;
        while pred[at] != NONE && moves.len() <= self.m {
            let cell = pred[at];
            moves.push((cell, at as u32));
            at = self.tile_of[cell as usize] as usize;
        }
        moves
    }

    /// The moves of the negative cycle through the predecessors of tile `t`.
    fn cycle_moves(&self, t: usize, pred: &[u32]) -> Moves {
        let step = |at: usize| self.tile_of[pred[at] as usize] as usize;
        let mut at = t;
        for _ in 0..self.n {
            at = step(at); // now surely on the cycle
        }
        let start = at;
        let mut moves = Vec::new();
        loop {
            moves.push((pred[at], at as u32));
            at = step(at);
            if at == start {
                return moves;
            }
        }
    }

    /// Applies cell moves (all at once) and rebuilds the slots from them.
    fn improve(&mut self, moves: &[(u32, u32)]) {
        self.progress.improved += 1;
        for &(cell, tile) in moves {
            let i = cell as usize;
            self.tile_of[i] = tile;
            self.cost_of[i] = self.cost(i, tile as usize);
        }
        for slots in &mut self.slots {
            slots.clear();
        }
        for (cell, &t) in self.tile_of.iter().enumerate() {
            let t = t as usize;
            self.slot_of[cell] = self.slots[t].len() as u32;
            self.slots[t].push(Slot {
                price: self.p1[t],
                holder: cell as u32,
            });
        }
        for t in 0..self.n {
            self.refresh(t);
        }
    }

    /// The classes (by representative) whose pairs the check at duals `v`
    /// must search: all of them after no check, or when a tile dual rose
    /// since the `last` one; otherwise those it left open and those with a
    /// cell whose tile's dual fell (its `u` rose).
    fn classes_to_check(&self, v: &[i64], last: Option<&(Vec<i64>, Vec<bool>)>) -> Vec<bool> {
        let Some((old, open)) = last.filter(|(old, _)| v.iter().zip(old).all(|(a, b)| a <= b))
        else {
            return vec![true; self.m];
        };
        let mut wanted = open.clone();
        for (i, &t) in self.tile_of.iter().enumerate() {
            let t = t as usize;
            if v[t] < old[t] {
                wanted[self.class(i)] = true;
            }
        }
        wanted
    }

    /// One exhaustive search with offsets `-v` for the classes `wanted` (by
    /// representative): adds every pair found with a negative reduced cost to
    /// its cell's pool; returns how many, and the classes left open (every
    /// pair returned broke a constraint: more may). A class of `M` identical
    /// cells is searched once, for `CHECK_PAIRS` pairs times `M` (rounded up
    /// to a power of two): its cells hold `M` tiles, whose pairs the duals
    /// all need.
    fn add_violations(&mut self, v: &[i64], wanted: &[bool]) -> CoreResult<(usize, Vec<bool>)> {
        self.progress.checks += 1;
        let offsets: Vec<i64> = v.iter().map(|&x| -x).collect();
        // Per class: its size and its cells' largest dual `u`.
        let mut size = vec![0usize; self.m];
        let mut top = vec![i64::MIN; self.m];
        for i in 0..self.m {
            let c = self.class(i);
            size[c] += 1;
            top[c] = top[c].max(self.cost_of[i] - v[self.tile_of[i] as usize]);
        }
        let mut groups: BTreeMap<usize, Vec<u32>> = BTreeMap::new();
        for c in (0..self.m).filter(|&c| size[c] > 0 && wanted[c]) {
            groups
                .entry(size[c].next_power_of_two())
                .or_default()
                .push(c as u32);
        }
        let offsets_arg = Offsets {
            values: &offsets,
            scale: 1,
        };
        let total = self.priced.tiles().len();
        let mut added = 0;
        let mut open = vec![false; self.m];
        for (depth, classes) in groups {
            let k = (CHECK_PAIRS * depth).min(total);
            let rows = self.rows_of(&classes);
            let found = self
                .priced
                .tiles()
                .search(&rows, k, Some(offsets_arg), None)?;
            self.progress.passes += 1;
            for (q, &c) in classes.iter().enumerate() {
                let c = c as usize;
                let stamp = self.next_stamp();
                for e in &self.pool[c] {
                    self.marks[e.tile as usize] = stamp;
                }
                // Every pair returned breaks a constraint: the class stays open.
                open[c] = k < total && found.distances[(q + 1) * k - 1] < top[c];
                for r in q * k..(q + 1) * k {
                    let (e, value) = (found.indices[r] as usize, found.distances[r]);
                    if value >= top[c] {
                        break;
                    }
                    let tile = e as u32;
                    if self.marks[tile as usize] == stamp {
                        continue;
                    }
                    self.marks[tile as usize] = stamp;
                    let cost = value - offsets[e];
                    self.pool[c].push(Entry {
                        tile,
                        cost,
                        key: self.scale * cost + self.p1[e],
                    });
                    added += 1;
                }
            }
        }
        self.progress.pairs_added += added as u64;
        Ok((added, open))
    }

    fn finish(self, v: Vec<i64>) -> Certified {
        let (dim, n) = (self.problem.dim, self.n);
        let tiles = self.problem.tiles;
        let orientation = (0..self.m)
            .map(|i| {
                let t = self.tile_of[i] as usize;
                let cell = &self.problem.cells[i * dim..(i + 1) * dim];
                let row = |e: usize| &tiles[e * dim..(e + 1) * dim];
                // The nearest orientation, the first of equals (`check` keeps
                // the count within `u8`).
                (0..self.problem.orientations)
                    .min_by_key(|&o| distance_wide(cell, row(t + o * n)))
                    .map_or(0, |o| o as u8)
            })
            .collect();
        let cell_duals = (0..self.m)
            .map(|i| self.cost_of[i] - v[self.tile_of[i] as usize])
            .collect();
        Certified {
            assignment: self.tile_of.iter().map(|&t| i64::from(t)).collect(),
            orientation,
            total_cost: self.cost_of.iter().sum(),
            costs: self.cost_of,
            cell_duals,
            tile_duals: v,
            progress: self.progress,
        }
    }
}
