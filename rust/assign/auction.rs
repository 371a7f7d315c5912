//! An ε-scaling auction for [`super::optimal_assignment`] with tiles of one
//! use and integer costs (the matcher's re-ranked problem), exact, with the
//! duals recovered by shortest paths.
//!
//! The shortest augmenting paths spend most of a crowded problem's time on
//! its last cells, whose searches each explore thousands of cells; an
//! auction has no paths: a price rise moves one cell at a time, and ε-scaling
//! (Bertsekas 1988) keeps the price wars short. The problem has more tiles
//! than cells, so the auction runs on the symmetric problem with a **dummy
//! cell** for each listed tile beyond the cells, of cost 0 for every tile:
//! the dummies are alike, so they bid as one class (as the colour auction's
//! identical cells do): a free dummy takes the cheapest tile no dummy holds,
//! and every tile a dummy holds is priced at the class's level `λ` (the
//! highest price a dummy has paid), which keeps each dummy within ε of its
//! best. Costs are multiplied by `K` = the listed tiles + 1, so ε = 1 in the
//! last phase proves the assignment optimal (the symmetric problem's total
//! is then within `(K - 1) ε < K` of the optimum, a multiple of `K`).
//!
//! The duals: the largest tile duals `v <= 0` with `v_j <= v_a(i) + c_ij -
//! c_i,a(i)` over every candidate (Bellman's difference constraints, by
//! label correcting from 0), and `u_i = c_i,a(i) - v_a(i)`: dual feasible,
//! tight on the assignment, and 0 on every tile left free because the
//! assignment is optimal; the recovery checks the auction too: an assignment
//! that is not optimal has a negative path to a free tile, or a negative
//! cycle, and gives no duals. `None` (the caller falls back on the paths) when
//! the costs are not integers or too large, some cell lists no tile, the
//! listed tiles are fewer than the cells, the bids exceed their budget (a
//! problem without a complete assignment bids for ever), or the duals do not
//! come out (not expected).

use std::collections::{BTreeSet, VecDeque};

use super::{Candidates, Optimal, NONE};

/// ε falls this many times from phase to phase.
const STEP: i64 = 8;
/// Bids per listed tile in one phase after which the auction is given up.
const BIDS_PER_TILE: usize = 256;
/// Largest `K |c|` the auction takes (prices and sums stay far from overflow,
/// and the duals, sums of costs, exact in `f64`).
const LARGEST: f64 = (1u64 << 50) as f64;
/// A tile's holder: none, or a dummy.
const FREE: u32 = u32::MAX;
const DUMMY: u32 = u32::MAX - 1;
/// The highest price (prices saturate there).
const INF: i64 = i64::MAX / 4;

/// The auction's state over the listed tiles (local indices).
struct Auction {
    /// Row starts into `tiles` and `costs` (scaled) per cell.
    start: Vec<usize>,
    tiles: Vec<u32>,
    costs: Vec<i64>,
    price: Vec<i64>,
    holder: Vec<u32>,
    tile_of: Vec<u32>,
    /// Tiles no dummy holds, by price.
    open: BTreeSet<(i64, u32)>,
    /// The price of every tile a dummy holds.
    level: i64,
    eps: i64,
    /// The largest cost less the least.
    spread: i64,
}

impl Auction {
    /// The price a cell sees: a dummy's tile is at the class's level.
    fn price_of(&self, t: usize) -> i64 {
        if self.holder[t] == DUMMY {
            self.price[t].max(self.level)
        } else {
            self.price[t]
        }
    }

    fn set_price(&mut self, t: usize, price: i64) {
        if self.holder[t] != DUMMY {
            self.open.remove(&(self.price[t], t as u32));
        }
        self.price[t] = price;
    }

    /// Gives tile `t` to `who` (a cell or `DUMMY`) at `price`; returns the
    /// holder it displaced.
    fn give(&mut self, t: usize, who: u32, price: i64) -> u32 {
        let old = self.holder[t];
        self.set_price(t, price);
        self.holder[t] = who;
        if who != DUMMY {
            self.open.insert((price, t as u32));
            self.tile_of[who as usize] = t as u32;
        }
        if old != FREE && old != DUMMY {
            self.tile_of[old as usize] = FREE;
        }
        old
    }

    /// A cell's bid: its best tile, at the price that makes it as dear as its
    /// second best plus ε.
    fn bid(&mut self, cell: usize) -> u32 {
        let (mut best, mut first, mut second) = (self.start[cell], i64::MAX, i64::MAX);
        for e in self.start[cell]..self.start[cell + 1] {
            let t = self.tiles[e] as usize;
            let value = self.costs[e].saturating_add(self.price_of(t));
            if value < first {
                (best, first, second) = (e, value, first);
            } else if value < second {
                second = value;
            }
        }
        if second == i64::MAX {
            // One tile listed: any rise keeps the cell within ε of its best;
            // the costs' spread outbids any other cell's reason to want it.
            second = first.saturating_add(self.spread);
        }
        let t = self.tiles[best] as usize;
        let price = second
            .saturating_sub(self.costs[best])
            .saturating_add(self.eps)
            .min(INF);
        self.give(t, cell as u32, price)
    }

    /// A free dummy's bid: the cheapest tile no dummy holds, at the second
    /// cheapest's price plus ε, which becomes the class's level.
    fn dummy_bid(&mut self) -> u32 {
        let mut cheapest = self.open.iter();
        // A free dummy means the dummies hold fewer than `count - m` tiles and
        // the cells at most `m`: a tile is open.
        let &(_, t) = cheapest.next().expect("an open tile while a dummy is free");
        let second = cheapest.next().map_or(INF, |&(p, _)| p);
        let price = second.saturating_add(self.eps).min(INF);
        self.level = self.level.max(price);
        self.give(t as usize, DUMMY, price)
    }
}

/// The exact optimum of `cand` with tiles of one use by the auction, or
/// `None` where it does not apply (see the module documentation).
pub(super) fn solve(cand: Candidates<'_>, m: usize) -> Option<Optimal> {
    let n = cand.n_tiles;
    let mut local = vec![u32::MAX; n];
    let mut listed: Vec<usize> = Vec::new();
    for &t in cand.tiles.iter().filter(|&&t| t != NONE) {
        if local[t as usize] == u32::MAX {
            local[t as usize] = listed.len() as u32;
            listed.push(t as usize);
        }
    }
    let count = listed.len();
    let scale = count as f64 + 1.0;
    let integral = cand
        .costs
        .iter()
        .all(|&c| c == c.trunc() && c.abs() * scale <= LARGEST);
    if count < m || count >= DUMMY as usize || !integral {
        return None;
    }
    let mut start = vec![0];
    let (mut tiles, mut costs) = (Vec::new(), Vec::new());
    let rows = cand
        .tiles
        .chunks_exact(cand.k)
        .zip(cand.costs.chunks_exact(cand.k));
    for (row, values) in rows {
        for (&t, &c) in row.iter().zip(values) {
            if t != NONE {
                tiles.push(local[t as usize]);
                costs.push((c * scale) as i64);
            }
        }
        if start.last() == Some(&tiles.len()) {
            return None; // a cell without candidates: the paths count it
        }
        start.push(tiles.len());
    }
    let spread = costs.iter().max()? - costs.iter().min()?;
    let mut auction = Auction {
        start,
        tiles,
        costs,
        price: vec![0; count],
        holder: vec![FREE; count],
        tile_of: vec![FREE; m],
        open: (0..count as u32).map(|t| (0, t)).collect(),
        level: i64::MIN,
        eps: (spread / STEP).max(1),
        spread,
    };
    let budget = BIDS_PER_TILE * count;
    loop {
        if !run_phase(&mut auction, m, count - m, budget) {
            return None;
        }
        if auction.eps == 1 {
            break;
        }
        auction.eps = (auction.eps / STEP).max(1);
    }
    let assignment: Vec<usize> = auction
        .tile_of
        .iter()
        .map(|&t| listed[t as usize])
        .collect();
    duals(cand, &assignment)
}

/// One phase at the auction's ε, from every cell and dummy free (prices
/// kept); false when the bids exceed `budget`.
fn run_phase(auction: &mut Auction, m: usize, dummies: usize, budget: usize) -> bool {
    for t in 0..auction.price.len() {
        if auction.holder[t] == DUMMY {
            auction.price[t] = auction.price[t].max(auction.level);
            auction.open.insert((auction.price[t], t as u32));
        }
        auction.holder[t] = FREE;
    }
    auction.tile_of.fill(FREE);
    auction.level = i64::MIN;
    let mut queue: VecDeque<u32> = (0..m as u32).collect();
    let mut free_dummies = dummies;
    let mut bids = 0;
    loop {
        let displaced = if let Some(cell) = queue.pop_front() {
            auction.bid(cell as usize)
        } else if free_dummies > 0 {
            free_dummies -= 1;
            auction.dummy_bid()
        } else {
            return true;
        };
        match displaced {
            FREE => {}
            DUMMY => free_dummies += 1,
            cell => queue.push_back(cell),
        }
        bids += 1;
        if bids > budget {
            return false;
        }
    }
}

/// The assignment's exact duals (module documentation); `None` if a tile
/// left free cannot keep dual 0 or the labels do not settle.
fn duals(cand: Candidates<'_>, assignment: &[usize]) -> Option<Optimal> {
    let (n, k, m) = (cand.n_tiles, cand.k, assignment.len());
    let mut holder = vec![usize::MAX; n];
    let mut cost_of = vec![0.0; m];
    for (cell, &t) in assignment.iter().enumerate() {
        holder[t] = cell;
        let row = &cand.tiles[cell * k..(cell + 1) * k];
        let at = row.iter().position(|&x| x == t as i64)?;
        cost_of[cell] = cand.costs[cell * k + at];
    }
    let mut v = vec![0.0f64; n];
    let mut queued = vec![false; n];
    let mut queue: VecDeque<usize> = assignment.to_vec().into();
    for &t in assignment {
        queued[t] = true;
    }
    // Labels fall only along paths of held tiles, so `m` rounds over the held
    // tiles settle them unless a cycle is negative; past 65 rounds (the demo's
    // problem takes 11) the paths are left to decide.
    let mut steps = 0usize;
    let limit = m.saturating_mul(m.min(64) + 1);
    while let Some(a) = queue.pop_front() {
        queued[a] = false;
        let cell = holder[a];
        for e in cell * k..(cell + 1) * k {
            let t = cand.tiles[e];
            if t == NONE || t as usize == a {
                continue;
            }
            let t = t as usize;
            let via = v[a] + cand.costs[e] - cost_of[cell];
            if via < v[t] {
                if holder[t] == usize::MAX {
                    return None; // a cheaper assignment exists: not expected
                }
                v[t] = via;
                if !queued[t] {
                    queued[t] = true;
                    queue.push_back(t);
                }
            }
        }
        steps += 1;
        if steps > limit {
            return None;
        }
    }
    let cell_duals = (0..m).map(|i| cost_of[i] - v[assignment[i]]).collect();
    Some(Optimal {
        assignment: assignment.iter().map(|&t| t as i64).collect(),
        total_cost: cost_of.iter().sum(),
        cell_duals,
        tile_duals: v,
        unmatched: 0,
    })
}
