//! The coarse phases of a warm auction (near-square or loose), on a fixed
//! graph of candidates.
//!
//! From the warm start's prices ([`super::warm_prices`]) a near-square
//! problem's coarse phases are a price war: the sample prices the tiles that
//! few cells want (far from the cells' colours) too high, by about one
//! coarse ε (on 10,000 x 10,000 photo crops the cheapest fifth of the tiles
//! by some 5e8 against 5e7 for the rest), and the forward auction can only
//! correct that by raising every other price, each step of the war spending
//! the pools it priced: there the coarse phases re-priced 130,000 cells by
//! exhaustive searches, 6.3 of the solve's 8.8 s, while from the optimal
//! prices the fine phases alone take about 1 s (benches/NOTES.md, "Ninth
//! round").
//!
//! Here the coarse phases bid on a graph instead, without any search: each
//! cell's pool (its best tiles at the warm prices) and, for every tile, the
//! cells that would gain most by taking it, so that every tile, however far,
//! has bidders. The graph's optimum is not the problem's, but its prices are
//! near the problem's optimal prices; the fine phases then run as before,
//! releasing every cell that breaks ε-complementary slackness over *all*
//! tiles, so the result stays exact and certified whatever the graph holds.
//! How near depends on the graph holding the edges the optimum uses: with 64
//! eager cells per tile a sample's 2,500 x 2,500 problem came out slower
//! than without the graph (a long fine price war), with 256 twice as fast.
//! A graph that cannot hold a complete assignment would raise prices for
//! ever: after `BIDS_PER_CELL` bids per cell in one phase it is given up, the
//! warm prices are restored and the whole schedule runs exactly, as it would
//! have without the graph.
//!
//! Problems with spare tiles have a second war: each phase releases the
//! cells that break the finer ε-CS, the tiles they leave keep their prices,
//! and the reverse auction must lower them, a step of about ε at a time
//! through a cluster of tiles many cells want nearly equally, each step
//! searching for the tile's rivals (the demo's 3,456 cells x 5,149 tiles:
//! 68,000 reverse bids in its second phase; those searches were two thirds
//! of the solve). So the coarse phases bid in reverse on the graph too: a
//! free tile's rivals are the cells it has edges to, by their gain
//! `pay - K c`, with no search; cells off the graph are ignored, which the
//! exact phases mend (the tiles whose price fell are relisted before the
//! first of them, which releases every cell that breaks ε-CS over all
//! tiles). A loose problem (fewer than `LOOSE_GRAPH` tile uses per cell,
//! more than near-square) runs its first `LOOSE_PHASES` phases so, with
//! `LOOSE_EAGER` eager cells per tile (its pools already reach most tiles).

use std::cmp::Reverse;
use std::collections::VecDeque;

use super::{near_square, Auction, Bid, Observer, Outcome, Queue, Rivals, Slot, INF, NONE};
use crate::error::CoreResult;
use crate::kernels::Simd;
use crate::search::{Offsets, TileSet};

/// Phases of the near-square schedule (ε falling 8-fold) run on the graph;
/// the next phase's ε is about `2^-18` of the largest first-list cost times
/// `K`. Measured on photo crops from 2,500 x 2,500 to 10,000 x 10,000:
/// four to six phases within a few per cent, three or fewer slower
/// (benches/NOTES.md, "Ninth round").
const COARSE_PHASES: usize = 5;
/// Candidates a cell bids from between two refills of its list.
const LIST: usize = 8;
/// Edges from tiles to their most eager cells, in all (memory: 16 bytes
/// each) and per tile (256 for up to 4,096 tiles, 104 for 10,000).
const EAGER_BUDGET: usize = 1 << 20;
const MOST_EAGER: usize = 256;
const LEAST_EAGER: usize = 8;
/// Bids per cell in one phase after which the graph is given up.
const BIDS_PER_CELL: u64 = 64;
/// Problems with fewer tile uses than this many times the cells (and more
/// than near-square) run their first `LOOSE_PHASES` phases on the graph,
/// with `LOOSE_EAGER` eager cells per tile: on photo crops, 3,456 x 5,149
/// (the demo) 1.75 -> 0.98 s, 6,144 x 10,000 2.84 -> 1.64 s, 4,000 x 8,000
/// 0.97 -> 0.69 s; 2,000 x 10,000 was slower (0.27 -> 0.34 s: little
/// competition, so the graph costs more than the war it avoids), 2,000 x
/// 8,000 the same; two or four phases, or 32 or 64 eager cells, were slower
/// on the demo and on 6,144 x 10,000 (benches/NOTES.md, "Tenth round").
const LOOSE_GRAPH: usize = 4;
const LOOSE_PHASES: usize = 3;
const LOOSE_EAGER: usize = 16;
/// Rivals a tile keeps in the graph's reverse auction between refills.
const GRAPH_RIVALS: usize = 32;

/// The graph's edges by tile: tile `t`'s cells and their costs are
/// `cells[start[t]..start[t + 1]]` and `costs[..]` alike.
struct ByTile {
    start: Vec<usize>,
    cells: Vec<u32>,
    costs: Vec<i64>,
}

/// The candidate graph and each cell's list over it.
pub(super) struct Graph {
    /// Per cell: tiles that chose it among their most eager cells and are
    /// not in its pool, with its cost for them. (The rest of a cell's
    /// candidates is its class's pool.)
    eager: Vec<Vec<(u32, i64)>>,
    /// Per cell: its `LIST` best candidates at its last refill as
    /// `(tile, cost)`, how many, and a value every other candidate reaches
    /// (prices only rise between refills).
    lists: Vec<[(u32, i64); LIST]>,
    lens: Vec<u8>,
    bounds: Vec<i64>,
}

impl Auction<'_> {
    /// How many of the schedule's `phases` run on the graph, for a problem
    /// started from warm prices: the first `COARSE_PHASES` of a near-square
    /// one, the first `LOOSE_PHASES` of a loose one; none otherwise (cold
    /// lists, which need 8x more tiles than cells, never take the graph).
    /// Classes of identical cells of any size take it: their members bid
    /// together on it and stand as one in its reverse bids (until
    /// 2 December 2026 a class larger than a single cell's pool skipped it,
    /// its members outbidding one another ε at a time there; benches/NOTES.md,
    /// "Thirteenth round"). The last phase always runs exactly.
    pub(super) fn coarse_phases(&self, phases: usize) -> usize {
        let uses = self.n * self.problem.capacity;
        let coarse = if !self.warm {
            0
        } else if near_square(self.m, self.n, self.problem.capacity) {
            COARSE_PHASES
        } else if uses < LOOSE_GRAPH * self.m && self.cold.is_none() {
            LOOSE_PHASES
        } else {
            0
        };
        coarse.min(phases.saturating_sub(1))
    }

    /// Whether the members of class `c` (by its first cell) bid together on
    /// the graph: as in the exact phases, if the class is larger than a
    /// single cell's pool. Smaller classes bid one member at a time there,
    /// as all did before: together they changed the graph's prices on
    /// problems the graph already served, and the exact phases after it
    /// are sensitive to them (the quality benchmark's china, one class of
    /// two cells: its first exact phase 0.30 -> 0.56 s).
    pub(super) fn bids_as_class_on_graph(&self, c: usize) -> bool {
        self.bids_as_class(c) && self.classes.size(c) > self.pool_len
    }

    /// Whether the problem is loose (more than near-square): its graph takes
    /// `LOOSE_EAGER` eager cells per tile.
    pub(super) fn loose(&self) -> bool {
        !near_square(self.m, self.n, self.problem.capacity)
    }

    /// Runs the phases of `schedule` on the graph (forward bids from the
    /// graph's lists, then reverse bids among each tile's cells on the
    /// graph), then relists the tiles whose price fell and refills the exact
    /// lists at the prices reached; false if the graph was given up (then
    /// every cell is unassigned and the prices are those it started from).
    pub(super) fn run_coarse(
        &mut self,
        schedule: &[i64],
        observer: &mut dyn Observer,
    ) -> CoreResult<bool> {
        let mut graph = self.graph()?;
        let start = self.slots.clone();
        let mut by_tile = None;
        let start_prices = self.p1.clone();
        let mut done = true;
        for (phase, &eps) in schedule.iter().enumerate() {
            self.eps = eps;
            self.progress.phase = phase;
            let queue = self.release_on_graph(&graph);
            if !self.forward_on_graph(&mut graph, queue, observer)? {
                done = false;
                break;
            }
            let drops = self.drops;
            self.reverse_on_graph(&graph, &mut by_tile, observer)?;
            if self.drops != drops {
                // Prices fell: the lists' bounds no longer hold.
                for i in 0..self.m {
                    self.refill_on_graph(&mut graph, i);
                }
            }
            self.report(observer, true)?;
        }
        if !done {
            self.restore(start)?;
        } else {
            // The reverse bids lowered prices the pools' bounds count on.
            let lowered: Vec<u32> = (0..self.n as u32)
                .filter(|&t| self.p1[t as usize] < start_prices[t as usize])
                .collect();
            self.relist(&lowered)?;
        }
        for i in 0..self.m {
            self.refill(i);
        }
        Ok(done)
    }

    /// Back to the prices of `slots` with every cell unassigned (a war on a
    /// graph without a complete assignment leaves prices no exact phase
    /// should start from); the tiles whose price fell are relisted.
    fn restore(&mut self, slots: Vec<Vec<Slot>>) -> CoreResult<()> {
        self.tile_of.fill(NONE);
        self.slot_of.fill(NONE);
        self.slots = slots;
        let mut lowered = Vec::new();
        for t in 0..self.n {
            let old = self.p1[t];
            self.refresh(t);
            if self.p1[t] < old {
                lowered.push(t as u32);
            }
        }
        self.relist(&lowered)
    }

    /// The graph: pools as they are, plus each tile's most eager cells by
    /// `u_i - K c`, with `u_i` the cell's best pooled value (one exhaustive
    /// search of the tiles among the cells).
    fn graph(&mut self) -> CoreResult<Graph> {
        let (m, n, scale, dim) = (self.m, self.n, self.scale, self.problem.dim);
        let offsets: Vec<i64> = (0..m).map(|i| -self.best_floor(i).min(INF)).collect();
        let k = if self.loose() {
            LOOSE_EAGER
        } else {
            (EAGER_BUDGET / n).clamp(LEAST_EAGER, MOST_EAGER)
        }
        .min(m);
        let cells = TileSet::new(Simd::chosen()?, self.problem.cells, dim);
        let offsets = Offsets {
            values: &offsets,
            scale,
        };
        let found = cells.search(self.problem.tiles, k, Some(offsets), None)?;
        self.progress.passes += 1;
        let mut eager: Vec<Vec<(u32, i64)>> = vec![Vec::new(); m];
        for (e, row) in found.indices.chunks_exact(k).enumerate() {
            let t = e % n;
            for &i in row {
                eager[i as usize].push((t as u32, 0));
            }
        }
        for (i, list) in eager.iter_mut().enumerate() {
            let stamp = self.next_stamp();
            for e in &self.pool[self.class(i)] {
                self.marks[e.tile as usize] = stamp;
            }
            // Not pooled, once (a tile may come in several orientations).
            list.retain(|&(t, _)| std::mem::replace(&mut self.marks[t as usize], stamp) != stamp);
            for (t, cost) in list.iter_mut() {
                *cost = self.cost(i, *t as usize);
            }
        }
        let mut graph = Graph {
            eager,
            lists: vec![[(NONE, 0); LIST]; m],
            lens: vec![0; m],
            bounds: vec![INF; m],
        };
        for i in 0..m {
            self.refill_on_graph(&mut graph, i);
        }
        Ok(graph)
    }

    /// Each tile's cells on the graph (pooled or eager), with their cost; the
    /// pool of a class that bids together once (thousands of members listed
    /// for every tile of their pool made each tile's rivals a scan of them
    /// all).
    fn by_tile(&self, graph: &Graph) -> ByTile {
        // A class that bids together has its pool's edges once, at its
        // first cell, which stands for its members in a reverse bid.
        let edges = |i: usize| {
            let c = self.class(i);
            let once = self.bids_as_class_on_graph(c) && c != i;
            let pool = if once { &[][..] } else { &self.pool[c][..] };
            let pooled = pool.iter().map(|e| (e.tile, e.cost));
            pooled.chain(graph.eager[i].iter().copied())
        };
        let mut start = vec![0usize; self.n + 1];
        for i in 0..self.m {
            for (t, _) in edges(i) {
                start[t as usize + 1] += 1;
            }
        }
        for t in 0..self.n {
            start[t + 1] += start[t];
        }
        let mut next = start.clone();
        let mut cells = vec![0u32; start[self.n]];
        let mut costs = vec![0i64; start[self.n]];
        for i in 0..self.m {
            for (t, cost) in edges(i) {
                let at = &mut next[t as usize];
                (cells[*at], costs[*at]) = (i as u32, cost);
                *at += 1;
            }
        }
        ByTile {
            start,
            cells,
            costs,
        }
    }

    /// The `GRAPH_RIVALS` assigned cells of `edges` of largest gain
    /// `pay - K c`, best first (ties to the lower cell), and the next one's
    /// gain as the bound of the rest (the cells off the graph do not count).
    /// A cell of a class that bids together on the graph stands for its
    /// class, at the gain of its member paying most ([`Auction::reverse_bid`]
    /// offers the two paying most).
    fn graph_rivals(&self, by_tile: &ByTile, t: usize) -> Rivals {
        let edges = by_tile.start[t]..by_tile.start[t + 1];
        let mut cells: Vec<(i64, u32)> = by_tile.cells[edges.clone()]
            .iter()
            .zip(&by_tile.costs[edges])
            .filter_map(|(&i, &cost)| {
                let c = self.class(i as usize);
                let pay = if self.bids_as_class_on_graph(c) {
                    // The class's member paying most has its largest gain.
                    self.by_pay[c].last().map(|&(pay, _)| pay)?
                } else if self.tile_of[i as usize] != NONE {
                    self.pay[i as usize]
                } else {
                    return None;
                };
                Some((pay - self.scale * cost, i))
            })
            .collect();
        let order = |&(gain, cell): &(i64, u32)| (Reverse(gain), cell);
        let mut others = i64::MIN;
        if cells.len() > GRAPH_RIVALS {
            cells.select_nth_unstable_by_key(GRAPH_RIVALS, order);
            others = cells[GRAPH_RIVALS].0;
            cells.truncate(GRAPH_RIVALS);
        }
        cells.sort_unstable_by_key(order);
        Rivals { cells, others }
    }

    /// The reverse auction on the graph: [`Auction::reverse`]'s bids, with a
    /// tile's rivals taken from its edges instead of a search (again from
    /// them when the ones kept moved away). Gains only fall during the
    /// reverse auction, so the kept bounds hold; every bid lowers what the
    /// moved cell pays by at least ε, so it ends. The edges by tile are
    /// made the first time a free slot has a price (never in a square problem).
    fn reverse_on_graph(
        &mut self,
        graph: &Graph,
        by_tile: &mut Option<ByTile>,
        observer: &mut dyn Observer,
    ) -> CoreResult<()> {
        let mut queue: VecDeque<u32> = (0..self.n as u32)
            .filter(|&t| self.priced_free_slot(t as usize).is_some())
            .collect();
        if queue.is_empty() {
            return Ok(());
        }
        let by_tile = by_tile.get_or_insert_with(|| self.by_tile(graph));
        let mut rivals: Vec<Option<Rivals>> = (0..self.n).map(|_| None).collect();
        while let Some(t) = queue.pop_front() {
            let t = t as usize;
            while let Some(s) = self.priced_free_slot(t) {
                let fresh = rivals[t].is_none();
                let found = match rivals[t].take() {
                    Some(found) => found,
                    None => self.graph_rivals(by_tile, t),
                };
                match self.reverse_bid(t, s, &found) {
                    // Fresh rivals always decide (their bound is below the
                    // best gain); were it otherwise, the exact phases mend it.
                    Outcome::Later if fresh => break,
                    Outcome::Later => continue,
                    Outcome::Freed(t0) => queue.push_back(t0 as u32),
                    Outcome::Done => {}
                }
                rivals[t] = Some(found);
                self.report_now_and_then(observer)?;
            }
        }
        Ok(())
    }

    /// Refills cell `i`'s list with its `LIST` best candidates by current
    /// value; its bound is the next one's value (`INF` if none).
    fn refill_on_graph(&self, graph: &mut Graph, i: usize) {
        // The `LIST + 1` best (value, tile, cost) so far, sorted by (value, tile).
        let mut best = [(INF, NONE, 0i64); LIST + 1];
        let mut count = 0;
        let pooled = self.pool[self.class(i)].iter().map(|e| (e.tile, e.cost));
        for (tile, cost) in pooled.chain(graph.eager[i].iter().copied()) {
            let value = self.scale * cost + self.p1[tile as usize];
            if count == LIST + 1 && (value, tile) >= (best[LIST].0, best[LIST].1) {
                continue;
            }
            let mut at = count.min(LIST);
            while at > 0 && (best[at - 1].0, best[at - 1].1) > (value, tile) {
                best[at] = best[at - 1];
                at -= 1;
            }
            best[at] = (value, tile, cost);
            count = (count + 1).min(LIST + 1);
        }
        let kept = count.min(LIST);
        for (slot, &(_, tile, cost)) in graph.lists[i].iter_mut().zip(&best[..kept]) {
            *slot = (tile, cost);
        }
        graph.lens[i] = kept as u8;
        graph.bounds[i] = if count > LIST { best[LIST].0 } else { INF };
    }

    /// [`Auction::scan`] of cell `i`'s list on the graph.
    fn scan_graph(&self, graph: &Graph, i: usize) -> (i64, u32, i64, i64) {
        self.scan(graph.lists[i][..usize::from(graph.lens[i])].iter().copied())
    }

    /// The bid of a cell on the graph, by the rule of [`Auction::bid_of`],
    /// refilling its list when it cannot tell; `None` if the cell has no
    /// candidate.
    fn bid_on_graph(&self, graph: &mut Graph, cell: u32) -> Option<Bid> {
        let i = cell as usize;
        let scan = self.scan_graph(graph, i);
        self.bid_from(scan, graph.bounds[i]).or_else(|| {
            self.refill_on_graph(graph, i);
            self.bid_from(self.scan_graph(graph, i), graph.bounds[i])
        })
    }

    /// Unassigns the cells that may break ε-CS on the graph at the new ε;
    /// returns every unassigned cell, in order.
    fn release_on_graph(&mut self, graph: &Graph) -> VecDeque<u32> {
        let mut queue = VecDeque::new();
        for cell in 0..self.m as u32 {
            let i = cell as usize;
            if self.tile_of[i] == NONE {
                queue.push_back(cell);
                continue;
            }
            let (best, ..) = self.scan_graph(graph, i);
            if self.pay[i] > best.min(graph.bounds[i]) + self.eps {
                self.unassign(cell);
                queue.push_back(cell);
            }
        }
        queue
    }

    /// Forward auction on the graph until every cell holds a slot; false if
    /// it gave up (a cell without candidates, or `BIDS_PER_CELL` bids per
    /// cell), leaving some cells unassigned. The unassigned members of a
    /// class that bids together on the graph
    /// ([`Auction::bids_as_class_on_graph`]) do so from their class's pool,
    /// as in the exact phases ([`Auction::class_bid`]), or, when the pool
    /// cannot tell, one at a time on the graph.
    fn forward_on_graph(
        &mut self,
        graph: &mut Graph,
        queue: VecDeque<u32>,
        observer: &mut dyn Observer,
    ) -> CoreResult<bool> {
        let cap = self.progress.bids + BIDS_PER_CELL * self.m as u64;
        let mut waiting = Queue {
            graph: true,
            ..Queue::default()
        };
        for cell in queue {
            waiting.push(self, cell);
        }
        while let Some(cell) = waiting.cells.pop_front() {
            let c = self.class(cell as usize);
            if self.bids_as_class_on_graph(c) {
                let members = waiting.waiting.remove(&c).unwrap_or_default();
                if let Some(bids) = self.class_bid(c, members.len()) {
                    self.place_class_bids(&mut waiting, &members, bids, observer)?;
                } else {
                    // Cannot tell from the pool: one member at a time.
                    for &member in &members {
                        let Some(bid) = self.bid_on_graph(graph, member) else {
                            return Ok(false);
                        };
                        let out = self.place(member, bid);
                        waiting.extend(self, out);
                    }
                }
            } else {
                let Some(bid) = self.bid_on_graph(graph, cell) else {
                    return Ok(false);
                };
                let out = self.place(cell, bid);
                waiting.extend(self, out);
            }
            if self.progress.bids > cap {
                return Ok(false);
            }
            self.report_now_and_then(observer)?;
        }
        Ok(true)
    }
}
