use super::*;
use crate::search::distance_wide;
use crate::testdata::values;

/// Every pair's cost, row-major `(m, n)`.
fn dense(problem: &Problem<'_>) -> Vec<i64> {
    let dim = problem.dim;
    let orientations = problem.orientations;
    let n = problem.tiles.len() / dim / orientations;
    let row = |s: &[i16], e: usize| s[e * dim..(e + 1) * dim].to_vec();
    let mut costs = vec![];
    for cell in problem.cells.chunks(dim) {
        for t in 0..n {
            let nearest = (0..orientations)
                .map(|o| distance_wide(cell, &row(problem.tiles, t + o * n)))
                .min();
            costs.push(nearest.unwrap());
        }
    }
    costs
}

/// The least total by trying every assignment (a handful of cells only).
fn brute_force(costs: &[i64], m: usize, n: usize, capacity: usize) -> i64 {
    fn go(cell: usize, costs: &[i64], m: usize, n: usize, uses: &mut [usize], cap: usize) -> i64 {
        if cell == m {
            return 0;
        }
        let mut best = i64::MAX;
        for t in 0..n {
            if uses[t] < cap {
                uses[t] += 1;
                let rest = go(cell + 1, costs, m, n, uses, cap);
                best = best.min(costs[cell * n + t].saturating_add(rest));
                uses[t] -= 1;
            }
        }
        best
    }
    go(0, costs, m, n, &mut vec![0; n], capacity)
}

/// Checks the certificate over every pair: it proves the total optimal.
fn assert_certified(problem: &Problem<'_>, got: &Certified) {
    let costs = dense(problem);
    let m = problem.cells.len() / problem.dim;
    let n = costs.len() / m.max(1);
    let mut uses = vec![0; n];
    let dim = problem.dim;
    let row = |s: &[i16], e: usize| s[e * dim..(e + 1) * dim].to_vec();
    for (i, &t) in got.assignment.iter().enumerate() {
        let t = t as usize;
        uses[t] += 1;
        // The cell's orientation is its tile's first nearest.
        let cell = row(problem.cells, i);
        let laid = |o: usize| distance_wide(&cell, &row(problem.tiles, t + o * n));
        let o = usize::from(got.orientation[i]);
        assert_eq!(laid(o), costs[i * n + t]);
        assert!((0..o).all(|earlier| laid(earlier) > costs[i * n + t]));
        assert_eq!(got.costs[i], costs[i * n + t]);
        assert_eq!(got.cell_duals[i] + got.tile_duals[t], costs[i * n + t]);
        for (j, &v) in got.tile_duals.iter().enumerate() {
            assert!(
                costs[i * n + j] - got.cell_duals[i] - v >= 0,
                "cell {i} tile {j}"
            );
        }
    }
    for (t, &v) in got.tile_duals.iter().enumerate() {
        assert!(uses[t] <= problem.capacity);
        assert!(v <= 0 && (v == 0 || uses[t] == problem.capacity));
    }
    let dual: i64 = got.cell_duals.iter().sum::<i64>()
        + problem.capacity as i64 * got.tile_duals.iter().sum::<i64>();
    assert_eq!(dual, got.total_cost);
    assert_eq!(got.costs.iter().sum::<i64>(), got.total_cost);
}

fn solve_quietly(problem: Problem<'_>) -> CoreResult<Certified> {
    solve(problem, &mut |_: &Progress| true)
}

/// Solves and checks the certificate; returns the problem's costs and the result.
fn solve_certified(
    cells: &[i16],
    tiles: &[i16],
    dim: usize,
    orientations: usize,
    capacity: usize,
) -> (Vec<i64>, Certified) {
    let problem = Problem {
        cells,
        tiles,
        dim,
        orientations,
        capacity,
    };
    let got = solve_quietly(problem).unwrap();
    assert_certified(&problem, &got);
    (dense(&problem), got)
}

#[test]
fn tiny_problems_match_brute_force() {
    for seed in 0..60u64 {
        let (m, dim) = (1 + seed as usize % 6, 1 + seed as usize % 4);
        let capacity = 1 + seed as usize % 3;
        let orientations = [1, 2, 4, 8][seed as usize % 4];
        let n = m.div_ceil(capacity) + (seed as usize / 7) % 3;
        let cells = values(m * dim, 4, seed);
        let tiles = values(n * dim * orientations, 4, seed + 1000);
        let (costs, got) = solve_certified(&cells, &tiles, dim, orientations, capacity);
        assert_eq!(got.total_cost, brute_force(&costs, m, n, capacity));
    }
}

#[test]
fn heavy_competition_and_near_square_are_certified() {
    // Few distinct colours among many cells: thousands of ties and long
    // price wars; tiles from 1x to 20x the cells, capacities 1 to 3, and
    // libraries large enough for the cold lists.
    for (m, n, capacity, orientations) in [
        (120, 120, 1, 1),
        (150, 51, 3, 1),
        (100, 104, 1, 2),
        (90, 400, 1, 1),
        (60, 1300, 2, 1),
        (70, 700, 1, 1),
        (100, 60, 2, 8),
        (120, 130, 1, 4),
    ] {
        let dim = 12;
        let cells: Vec<i16> = values(m * dim, 3, m as u64)
            .iter()
            .map(|v| v * 40)
            .collect();
        let tiles = values(n * dim * orientations, 60, n as u64);
        let (_, got) = solve_certified(&cells, &tiles, dim, orientations, capacity);
        assert_eq!(got.progress.improved, 0, "the auction alone was optimal");
    }
}

#[test]
fn cells_that_run_out_of_their_pools_are_repriced() {
    // Nearly one colour for every cell (all distinct) and more cells than a
    // pool holds tiles: the cells pass their whole pools before the prices
    // settle and are re-priced; the rivals of freed tiles are searched as
    // they come (few free slots with a price).
    let (m, n, dim) = (520, 800, 3);
    let cells: Vec<i16> = (0..m)
        .flat_map(|i| {
            [
                500 + (i % 8) as i16,
                500 + (i / 8 % 8) as i16,
                500 + (i / 64) as i16,
            ]
        })
        .collect();
    let tiles: Vec<i16> = values(n * dim, 400, 77).iter().map(|v| v + 300).collect();
    let (_, got) = solve_certified(&cells, &tiles, dim, 1, 1);
    assert!(got.progress.repriced > m as u64, "pools ran out");
}

#[test]
fn near_square_repricing_with_the_samples_seeds_misses_no_tile() {
    // A near-square problem with enough tiles for the sample (8,192 or
    // more), after its coarse phases on the graph: re-pricing cells seeds
    // their searches with the tighter of the old pool's k-th value and the
    // sample's estimate. Every tile a new pool leaves out must still reach
    // the pool's bound at today's prices, and every pooled key must be
    // today's value (a seed too tight would drop tiles below the bound).
    // The Python test of this problem no longer reaches these re-pricings:
    // since flat areas take the graph, its fine phases re-price no cell.
    let (m, n, dim) = (6600, 8200, 12);
    let centres = values(80 * dim, 100, 12);
    let pick = |count: usize, spread: i64, seed: u64| -> Vec<i16> {
        let which = values(count, 40, seed);
        let noise = values(count * dim, spread, seed + 1);
        (0..count * dim)
            .map(|v| {
                let c = (which[v / dim] + 40) as usize;
                128 + centres[c * dim + v % dim] + noise[v]
            })
            .collect()
    };
    let cells = pick(m, 12, 21);
    let tiles = pick(n, 30, 23);
    let mut held = Held::default();
    let (mut auction, coarse) = warm_auction(&cells, &tiles, dim, 1, 1, &mut held);
    assert!(auction.sample.is_some() && !auction.loose());
    assert!(auction
        .run_coarse(&coarse, &mut |_: &Progress| true)
        .unwrap());
    let picked: Vec<u32> = (0..m as u32)
        .step_by(29)
        .filter(|&i| !auction.shared(i as usize))
        .collect();
    auction.reprice(&picked).unwrap();
    for &i in &picked {
        let i = i as usize;
        let pool = &auction.pool[i];
        assert!(!pool.is_empty());
        let mut pooled = vec![false; n];
        for e in pool {
            let t = e.tile as usize;
            pooled[t] = true;
            assert_eq!(e.cost, auction.cost(i, t));
            assert_eq!(e.key, auction.scale * e.cost + auction.p1[t]);
        }
        for t in (0..n).filter(|&t| !pooled[t]) {
            let value = auction.scale * auction.cost(i, t) + auction.p1[t];
            assert!(value >= auction.pool_bound[i], "cell {i} tile {t}");
        }
    }
}

#[test]
fn identical_cells_share_their_pricing() {
    // One colour for every cell, more cells than a pool holds tiles: the
    // cells form one class, searched as one (the pool still runs out), and
    // the certificate finds the pairs of every tile the class holds.
    let (m, n, dim) = (520, 800, 3);
    let cells = vec![500i16; m * dim];
    let tiles: Vec<i16> = values(n * dim, 400, 77).iter().map(|v| v + 300).collect();
    let (costs, got) = solve_certified(&cells, &tiles, dim, 1, 1);
    assert!(got.progress.repriced > 1, "the class's pool ran out");
    assert!(got.progress.repriced < m as u64 / 4, "one search per class");
    let mut best: Vec<i64> = costs[..n].to_vec();
    best.sort_unstable();
    let least: i64 = best[..m].iter().sum();
    assert_eq!(
        got.total_cost, least,
        "identical cells take the m cheapest tiles"
    );
}

#[test]
fn a_class_of_identical_cells_bids_as_one() {
    // A flat area: a third of the cells one colour, in loose problems whose
    // reverse auctions move the class's members from tile to tile. Each
    // tile's rivals list the class once (its members paying most stand for
    // it), so they last while members move, and the tiles the class holds
    // are searched together when one of its members first moves: a search
    // for every 1,000 reverse bids or more (one every two or three bids when
    // the members filled the rivals; one every 150 with the class's tiles
    // searched one by one as they came free). Forward, the class's waiting
    // members bid together for tiles it does not hold: a few bids per cell
    // (members bidding one at a time outbid one another, 50-80 bids per
    // cell). Certified over every pair, the same at 2 threads.
    for (m, n, orientations, capacity) in [(600, 1400, 1, 1), (450, 700, 2, 1), (500, 600, 1, 2)] {
        let dim = 12;
        let mut cells = clustered(m, dim, 12, 5);
        let flat = cells[..dim].to_vec();
        for row in cells.chunks_exact_mut(dim).take(m / 3) {
            row.copy_from_slice(&flat);
        }
        let tiles = clustered(n * orientations, dim, 30, 6);
        let problem = Problem {
            cells: &cells,
            tiles: &tiles,
            dim,
            orientations,
            capacity,
        };
        let (_, got) = solve_certified(&cells, &tiles, dim, orientations, capacity);
        let Progress {
            bids,
            reverse_bids,
            passes,
            ..
        } = got.progress;
        assert!(reverse_bids > 1000, "{reverse_bids} reverse bids");
        assert!(passes * 500 < reverse_bids, "{passes} searches");
        assert!(bids < 12 * m as u64, "{bids} bids");
        assert_same_at_two_threads(problem, &got);
    }
}

#[test]
fn same_result_for_any_thread_count() {
    let dim = 24;
    let cells = values(120 * dim, 300, 5);
    let tiles = values(1100 * dim, 300, 6);
    let problem = Problem {
        cells: &cells,
        tiles: &tiles,
        dim,
        orientations: 1,
        capacity: 2,
    };
    let run = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| solve_quietly(problem).unwrap())
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert_eq!(one, run(5));
    assert_certified(&problem, &one);
}

#[test]
fn refusals_and_interruption() {
    let tiles = values(3 * 2, 5, 1);
    let problem = |cells: &'static [i16], capacity, orientations| Problem {
        cells,
        tiles: &tiles,
        dim: 2,
        orientations,
        capacity,
    };
    let four: &'static [i16] = &[0, 0, 1, 1, 2, 2, 3, 3];
    assert!(matches!(
        solve_quietly(problem(four, 1, 1)),
        Err(CoreError::Argument(_))
    ));
    assert!(matches!(
        solve_quietly(problem(four, 0, 1)),
        Err(CoreError::Argument(_))
    ));
    assert!(matches!(
        solve_quietly(problem(four, 2, 2)),
        Err(CoreError::Shape(_))
    ));
    assert!(matches!(
        solve_quietly(problem(four, 1, 0)),
        Err(CoreError::Argument(_))
    ));
    let none = solve_quietly(problem(&[], 1, 1)).unwrap();
    assert_eq!((none.total_cost, none.tile_duals.len()), (0, 3));
    let stop = solve(problem(four, 2, 1), &mut |_: &Progress| false);
    assert!(matches!(stop, Err(CoreError::Interrupted)));
}

#[test]
fn long_runs_of_bids_report_progress() {
    // Identical cells bid against each other for a long time within a phase:
    // the reports (every one a chance to stop) come at most BIDS_PER_CLOCK
    // bids apart, not only between re-pricing rounds and phases.
    let (m, n, dim) = (300, 500, 3);
    let cells = vec![500i16; m * dim];
    let tiles: Vec<i16> = values(n * dim, 400, 78).iter().map(|v| v + 300).collect();
    let problem = Problem {
        cells: &cells,
        tiles: &tiles,
        dim,
        orientations: 1,
        capacity: 1,
    };
    let mut seen = Vec::new();
    let got = solve(problem, &mut |p: &Progress| {
        seen.push((p.stage, p.bids + p.reverse_bids));
        true
    })
    .unwrap();
    let bids = got.progress.bids + got.progress.reverse_bids;
    assert!(bids > 4 * BIDS_PER_CLOCK, "a long run of bids: {bids}");
    let auction: Vec<u64> = seen
        .iter()
        .filter(|(stage, _)| *stage == "auction")
        .map(|&(_, b)| b)
        .collect();
    let widest = auction.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    assert!(widest <= BIDS_PER_CLOCK, "{widest} bids without a report");
}

#[test]
fn near_square_problems_start_from_warm_prices() {
    // Enough cells for the warm start (prices from a quarter of the cells
    // and tiles), heavy competition, with mirror images or capacity 2: the
    // auction from those prices stays exact.
    for (m, n, capacity, orientations) in [(1100, 1100, 1, 2), (1030, 520, 2, 1)] {
        let dim = 12;
        let cells = clustered(m, dim, 4, 9);
        let tiles = values(n * dim * orientations, 60, n as u64);
        let problem = Problem {
            cells: &cells,
            tiles: &tiles,
            dim,
            orientations,
            capacity,
        };
        let start = warm_prices(problem, m, n, &mut |_: &Progress| true).unwrap();
        let start = start.expect("a near-square problem starts warm");
        assert_eq!(start.len(), n);
        assert!(start.iter().any(|&p| p > 0), "the start has prices");
        let (_, got) = solve_certified(&cells, &tiles, dim, orientations, capacity);
        assert_eq!(got.progress.improved, 0, "the auction alone was optimal");
    }
}

/// `m` cells in the few clusters of values `40 * (-3..3)`, spread by
/// `-spread..spread` (random with `seed`).
fn clustered(m: usize, dim: usize, spread: i64, seed: u64) -> Vec<i16> {
    values(m * dim, 3, m as u64)
        .iter()
        .zip(values(m * dim, spread, seed))
        .map(|(v, w)| v * 40 + w)
        .collect()
}

/// An auction of `cells` against `tiles` as [`solve`] starts it, from warm
/// prices, and its coarse phases (asserted to be some).
fn warm_auction<'a>(
    cells: &'a [i16],
    tiles: &'a [i16],
    dim: usize,
    orientations: usize,
    capacity: usize,
    held: &'a mut Held,
) -> (Auction<'a>, Vec<i64>) {
    let (auction, schedule) = warm_schedule(cells, tiles, dim, orientations, capacity, held);
    let coarse = auction.coarse_phases(schedule.len());
    assert!(
        coarse > 0 && coarse < schedule.len(),
        "warm, with coarse phases"
    );
    (auction, schedule[..coarse].to_vec())
}

/// What an auction borrows besides its problem: the sample of tiles and the
/// classes of cells.
type Held = (Option<SampleRows>, Option<Classes>);

/// An auction as [`solve`] starts it, from warm prices, and its whole schedule.
fn warm_schedule<'a>(
    cells: &'a [i16],
    tiles: &'a [i16],
    dim: usize,
    orientations: usize,
    capacity: usize,
    held: &'a mut Held,
) -> (Auction<'a>, Vec<i64>) {
    let problem = Problem {
        cells,
        tiles,
        dim,
        orientations,
        capacity,
    };
    let (m, n) = (cells.len() / dim, tiles.len() / dim / orientations);
    let start = warm_prices(problem, m, n, &mut |_: &Progress| true).unwrap();
    *held = (
        SampleRows::new(tiles, dim, orientations),
        Some(Classes::new(cells, dim)),
    );
    let (sample, classes) = (held.0.as_ref(), held.1.as_ref().unwrap());
    let auction = Auction::new(problem, n, start.as_deref(), sample, classes).unwrap();
    let schedule = auction.schedule();
    (auction, schedule)
}

#[test]
fn a_graph_without_a_complete_assignment_is_given_up() {
    // 1,100 identical cells against 1,100 tiles: one class, larger than the
    // pools of single cells (512 tiles). Forced onto a graph with the
    // class's pool cut to 512 tiles: the graph is that pool and each tile's
    // most eager cells, all the same first few (ties go to the lower cell),
    // so the other cells cannot all be assigned on it. It is given up after
    // its bid cap, back at the prices it started from, and the exact phases
    // end at the certified optimum.
    let (m, n, dim) = (1100, 1100, 12);
    let cell = values(dim, 60, 1);
    let cells: Vec<i16> = cell.iter().copied().cycle().take(m * dim).collect();
    let tiles = values(n * dim, 60, 2);
    let mut held = Held::default();
    let (mut auction, schedule) = warm_schedule(&cells, &tiles, dim, 1, 1, &mut held);
    assert!(
        auction.pool_len < m,
        "the class outgrows a single cell's pool"
    );
    let pool = &mut auction.pool[0];
    pool.sort_unstable_by_key(|e| (e.key, e.tile));
    let cut = auction.pool_len;
    auction.pool_bound[0] = auction.pool_bound[0].min(pool[cut].key);
    pool.truncate(cut);
    auction.sorted[0] = cut as u32;
    assert_eq!(auction.keyed[0], auction.drops, "keys are today's values");
    let prices = auction.p1.clone();
    let done = auction
        .run_coarse(&schedule[..5], &mut |_: &Progress| true)
        .unwrap();
    assert!(!done, "the graph was given up");
    assert!(auction.tile_of.iter().all(|&t| t == NONE));
    assert_eq!(auction.p1, prices);
    let (costs, got) = solve_certified(&cells, &tiles, dim, 1, 1);
    // Identical cells: the optimum uses every tile once.
    assert_eq!(got.total_cost, costs[..n].iter().sum::<i64>());
}

#[test]
fn coarse_phases_on_the_graph_hand_over_to_exact_phases() {
    // Clustered cells against as many tiles and against 10% more (free tiles
    // must end at price 0): the coarse phases complete on the graph, leave
    // every cell assigned, and the certified result is the same at 1 and 2
    // threads.
    for (m, n) in [(1200, 1200), (1200, 1320)] {
        let dim = 12;
        let cells = clustered(m, dim, 8, 5);
        let tiles = values(n * dim, 90, n as u64 + 7);
        coarse_then_exact(&cells, &tiles, dim, 1, 1);
    }
}

/// Runs the coarse phases of `cells` against `tiles` and asserts that they
/// complete with every cell assigned, then that the whole solve is certified
/// over every pair and the same at 1 and 2 threads; returns the coarse
/// phases' progress and whether the problem was loose.
fn coarse_then_exact(
    cells: &[i16],
    tiles: &[i16],
    dim: usize,
    orientations: usize,
    capacity: usize,
) -> (Progress, bool) {
    let mut held = Held::default();
    let (mut auction, coarse) = warm_auction(cells, tiles, dim, orientations, capacity, &mut held);
    let problem = auction.problem;
    let before = auction.progress.passes;
    assert!(auction
        .run_coarse(&coarse, &mut |_: &Progress| true)
        .unwrap());
    assert!(!auction.tile_of.contains(&NONE), "every cell assigned");
    let mut progress = auction.progress.clone();
    progress.passes -= before;
    let loose = auction.loose();
    let (_, one) = solve_certified(cells, tiles, dim, orientations, capacity);
    assert_same_at_two_threads(problem, &one);
    (progress, loose)
}

/// The same assignment as `one` when `problem` is solved on two threads.
fn assert_same_at_two_threads(problem: Problem<'_>, one: &Certified) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let two = pool.install(|| solve_quietly(problem).unwrap());
    assert_eq!(one.assignment, two.assignment);
    assert_eq!(one.orientation, two.orientation);
}

#[test]
fn a_phase_in_a_price_war_goes_back_to_the_previous_eps_once() {
    // With a war declared after one bid per cell, every exact phase after
    // the first steps back to the previous phase's ε and then runs again at
    // its own: at most one retreat per phase, and the auction still ends at
    // the certified optimum (checked over every pair, invariants after every
    // phase), the total of the solve without retreats.
    for (m, n, orientations) in [(1200, 1320, 1), (1100, 1500, 2), (600, 2400, 8)] {
        let dim = 12;
        let cells = clustered(m, dim, 8, 11);
        let tiles = values(n * dim * orientations, 90, n as u64 + 11);
        let mut held = Held::default();
        let (mut auction, schedule) =
            warm_schedule(&cells, &tiles, dim, orientations, 1, &mut held);
        let problem = auction.problem;
        auction.war_bids = 1;
        let quiet = &mut |_: &Progress| true;
        auction.run(quiet).unwrap();
        let got = auction.certify(quiet).unwrap();
        assert_certified(&problem, &got);
        let retreats = got.progress.retreats;
        assert!(retreats > 0, "some phase went back");
        assert!(retreats < schedule.len() as u64, "{retreats} retreats");
        let plain = solve_quietly(problem).unwrap();
        assert_eq!(plain.progress.retreats, 0, "no war at 128 bids a cell");
        assert_eq!(got.total_cost, plain.total_cost);
    }
}

#[test]
fn classes_larger_than_a_pool_bid_together_on_the_graph() {
    // Half or a third of the cells one colour (classes of 600 and 533
    // cells, past the pools of single cells, at most `MAX_POOL` tiles),
    // near-square and loose, with mirror images and quarter turns: the
    // coarse phases run on the graph, complete there with every cell
    // assigned, and the certified result is the same at 1 and 2 threads.
    for (m, n, orientations, share) in [
        (1200, 1250, 1, 2),
        (1200, 1250, 2, 2),
        (1600, 2400, 1, 3),
        (1200, 1800, 8, 2),
    ] {
        let dim = 12;
        let mut cells = clustered(m, dim, 8, 13);
        let flat = cells[..dim].to_vec();
        for row in cells.chunks_exact_mut(dim).take(m / share) {
            row.copy_from_slice(&flat);
        }
        let tiles = values(n * dim * orientations, 90, n as u64 + 13);
        let classes = Classes::new(&cells, dim);
        assert_eq!(classes.size(0), m / share);
        assert!(m / share > MAX_POOL);
        let (coarse, _) = coarse_then_exact(&cells, &tiles, dim, orientations, 1);
        assert!(coarse.bids > 0, "bids on the graph");
    }
}

#[test]
fn loose_problems_bid_both_ways_on_the_graph() {
    // Spare tiles (twice as many, a third more with mirror images, capacity
    // 2 over fewer tiles than cells): the coarse phases bid forward and in
    // reverse on the graph, searching only to build it and to relist the
    // tiles whose price fell; every cell is assigned after them, and the
    // exact phases end at a certified optimum (checked over every pair), the
    // same at 1 and 2 threads.
    for (m, n, capacity, orientations) in [
        (1200, 2400, 1, 1),
        (1100, 1500, 1, 2),
        (1100, 1500, 1, 8),
        (1100, 800, 2, 1),
    ] {
        let dim = 12;
        let cells = clustered(m, dim, 8, 3);
        let tiles = values(n * dim * orientations, 90, n as u64 + 3);
        let (coarse, loose) = coarse_then_exact(&cells, &tiles, dim, orientations, capacity);
        assert!(loose);
        assert!(coarse.reverse_bids > 0, "reverse bids on the graph");
        assert!(coarse.passes <= 2, "two searches at most");
    }
}

#[test]
fn later_checks_search_only_the_cells_that_may_have_changed() {
    // The auction's pools emptied before the certificate: the first check
    // finds many pairs outside them (more than it returns for some cells),
    // and the later checks search only the cells whose dual rose or whose
    // search was cut off. The certificate still holds over every pair, at
    // the auction's total.
    for (m, n, orientations) in [(300, 420, 1), (260, 300, 2)] {
        let dim = 12;
        let cells = clustered(m, dim, 8, 11);
        let tiles = values(n * dim * orientations, 90, n as u64 + 11);
        let problem = Problem {
            cells: &cells,
            tiles: &tiles,
            dim,
            orientations,
            capacity: 1,
        };
        let sample = SampleRows::new(problem.tiles, dim, problem.orientations);
        let classes = Classes::new(problem.cells, dim);
        let mut auction = Auction::new(problem, n, None, sample.as_ref(), &classes).unwrap();
        auction.run(&mut |_: &Progress| true).unwrap();
        let total: i64 = auction.cost_of.iter().sum();
        for pool in &mut auction.pool {
            pool.clear();
        }
        let got = auction.certify(&mut |_: &Progress| true).unwrap();
        assert!(got.progress.checks >= 3, "{} checks", got.progress.checks);
        assert_eq!(got.total_cost, total);
        assert_certified(&problem, &got);
    }
}

#[test]
fn pools_are_keyed_again_after_prices_fall() {
    // Loose problems whose reverse auctions lower prices: a pool keyed before
    // a fall is keyed again before its next refill (the invariants, checked
    // after every phase, include every key of a pool keyed since the last
    // fall being at most its entry's value, and ε-CS by brute force).
    for (m, n, capacity) in [(90, 400, 1), (150, 160, 2)] {
        let dim = 12;
        let cells: Vec<i16> = values(m * dim, 3, m as u64)
            .iter()
            .map(|v| v * 40)
            .collect();
        let tiles = values(n * dim, 60, n as u64);
        let problem = Problem {
            cells: &cells,
            tiles: &tiles,
            dim,
            orientations: 1,
            capacity,
        };
        let sample = SampleRows::new(problem.tiles, dim, problem.orientations);
        let classes = Classes::new(problem.cells, dim);
        let mut auction = Auction::new(problem, n, None, sample.as_ref(), &classes).unwrap();
        auction.run(&mut |_: &Progress| true).unwrap();
        assert!(auction.drops > 0, "prices fell");
        let got = auction.certify(&mut |_: &Progress| true).unwrap();
        assert_certified(&problem, &got);
    }
}
