//! Windowed SSIM between every cell and each of its candidate tiles: the mean
//! structural similarity of Wang et al. (2004) between two square luminance
//! patches, computed as `skimage.metrics.structural_similarity` does for 2-D
//! float images. Local means, variances and the covariance come from a uniform
//! or Gaussian window (`scipy.ndimage` filters, `mode='reflect'`), optionally
//! with the sample-covariance factor `NP / (NP - 1)`, and the SSIM map is
//! averaged after cropping `(win_size - 1) / 2` pixels from each border.
//!
//! The crop removes exactly the positions whose window reaches past the patch,
//! so the border mode never comes into play and the separable filter is only
//! evaluated at the kept `o x o` positions (`o = side - win_size + 1`).
//!
//! Cost: each cell's and each used tile's mean and variance maps are filtered
//! once; each `(cell, candidate)` pair then needs one product image
//! (`side^2` multiplies), one separable filter of it (running sums, about
//! `2 (side + o) o` adds, for a uniform window; `(side + o) o win_size`
//! multiply-adds for a Gaussian one) and `o^2` SSIM terms. Arithmetic is in
//! `f64`. Tile statistics are held for at most 128 MB of tiles at a time
//! (cells are batched accordingly). Cells run in parallel on the current rayon
//! pool; every pair is computed the same way whatever the thread count, so the
//! result is too.

use rayon::prelude::*;

use crate::error::{CoreError, CoreResult};

/// Smallest and largest supported patch side.
pub const SIDE_RANGE: (usize, usize) = (8, 64);
// The stabilising constants C1 = (K1 L)^2 and C2 = (K2 L)^2 of Wang et al.
// (2004), eq. 7 and 9, with the values of their section III-C.
const K1: f64 = 0.01;
const K2: f64 = 0.03;
// Gaussian windows are cut at 3.5 standard deviations: for sigma = 1.5 that is
// the 11-tap window of Wang et al. (2004), as skimage sets it.
const TRUNCATE: f64 = 3.5;
/// Bytes of tile statistics held at once: bounds memory when the candidates
/// name many distinct tiles (cells are then processed in batches).
const STATS_BUDGET: usize = 128 << 20;

/// The sliding window that weights the local statistics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Window {
    /// `size x size` box of equal weights (`scipy.ndimage.uniform_filter`).
    Uniform { size: usize },
    /// Normalised Gaussian of standard deviation `sigma`, truncated at 3.5
    /// sigma (`scipy.ndimage.gaussian_filter(..., truncate=3.5)`).
    Gaussian { sigma: f64 },
}

impl Window {
    /// Side of the window, skimage's `win_size`: it sets the crop and the
    /// sample-covariance factor. For a Gaussian, `2 * int(3.5 sigma + 0.5) + 1`.
    pub fn size(&self) -> usize {
        match *self {
            Window::Uniform { size } => size,
            Window::Gaussian { sigma } => 2 * (TRUNCATE * sigma + 0.5) as usize + 1,
        }
    }

    /// The 1-D weights of the separable window, as `scipy.ndimage` makes them.
    fn weights(&self) -> Vec<f64> {
        let size = self.size();
        match *self {
            Window::Uniform { .. } => vec![1.0 / size as f64; size],
            Window::Gaussian { sigma } => {
                let radius = (size / 2) as f64;
                let phi: Vec<f64> = (0..size)
                    .map(|i| {
                        let x = i as f64 - radius;
                        (-0.5 / (sigma * sigma) * x * x).exp()
                    })
                    .collect();
                let total: f64 = phi.iter().sum();
                phi.iter().map(|p| p / total).collect()
            }
        }
    }
}

/// Options of [`ssim_candidates`]; `K1 = 0.01` and `K2 = 0.03` are fixed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SsimParams {
    pub window: Window,
    /// Range of the luminance values (e.g. 255), `L` in Wang et al.
    pub data_range: f64,
    /// Normalise (co)variances by `NP - 1` instead of `NP`, `NP = win_size^2`.
    pub sample_covariance: bool,
}

/// Mean SSIM of every cell with each of its `k` candidate tiles.
///
/// `cells` is row-major `(m, side, side)`, `tiles` `(n, side, side)` and
/// `candidates` `(m, k)` tile indices; the result is `(m, k)`, row-major.
pub fn ssim_candidates(
    cells: &[f32],
    tiles: &[f32],
    side: usize,
    candidates: &[i64],
    k: usize,
    params: &SsimParams,
) -> CoreResult<Vec<f32>> {
    let (m, n) = check_inputs(cells, tiles, side, candidates, k, params)?;
    let mut out = vec![0f32; m * k];
    if out.is_empty() {
        return Ok(out);
    }
    let ssim = Ssim::new(side, params);
    let per_tile = 2 * ssim.kept * ssim.kept * size_of::<f64>();
    let max_tiles = (STATS_BUDGET / per_tile).max(k);
    let mut slot = vec![u32::MAX; n];
    let mut start = 0;
    while start < m {
        let (end, used) = next_batch(candidates, k, start, max_tiles, &mut slot);
        let stats = ssim.tile_stats(tiles, &used);
        let plane = 2 * ssim.kept * ssim.kept;
        out[start * k..end * k]
            .par_chunks_mut(k)
            .zip(cells[start * side * side..end * side * side].par_chunks(side * side))
            .zip(candidates[start * k..end * k].par_chunks(k))
            .for_each_init(
                || Scratch::new(side, ssim.kept),
                |scratch, ((row, cell), picks)| {
                    let x: Vec<f64> = cell.iter().map(|&v| f64::from(v)).collect();
                    let x_stats = ssim.stats(&x, scratch);
                    for (value, &tile) in row.iter_mut().zip(picks) {
                        let t = tile as usize;
                        let s = slot[t] as usize;
                        let y = &tiles[t * side * side..(t + 1) * side * side];
                        let y_stats = &stats[s * plane..(s + 1) * plane];
                        *value = ssim.pair(&x, &x_stats, y, y_stats, scratch) as f32;
                    }
                },
            );
        for &t in &used {
            slot[t] = u32::MAX;
        }
        start = end;
    }
    Ok(out)
}

/// Checks shapes, options and indices; returns `(m, n)`.
fn check_inputs(
    cells: &[f32],
    tiles: &[f32],
    side: usize,
    candidates: &[i64],
    k: usize,
    params: &SsimParams,
) -> CoreResult<(usize, usize)> {
    let (lo, hi) = SIDE_RANGE;
    if !(lo..=hi).contains(&side) {
        return Err(CoreError::Argument(format!(
            "patch side must be between {lo} and {hi}, got {side}"
        )));
    }
    let area = side * side;
    if !cells.len().is_multiple_of(area) || !tiles.len().is_multiple_of(area) {
        return Err(CoreError::Shape(format!(
            "cells and tiles must hold whole {side}x{side} patches"
        )));
    }
    let (m, n) = (cells.len() / area, tiles.len() / area);
    if candidates.len() != m * k {
        return Err(CoreError::Shape(format!(
            "candidates must have shape ({m}, {k}), got {} values",
            candidates.len()
        )));
    }
    let size = params.window.size();
    if let Window::Gaussian { sigma } = params.window {
        if !(sigma.is_finite() && sigma > 0.0) {
            return Err(CoreError::Argument(format!(
                "sigma must be a positive number, got {sigma}"
            )));
        }
        if !(3..=side).contains(&size) {
            return Err(CoreError::Argument(format!(
                "sigma {sigma} gives a {size}-pixel Gaussian window; it must be between 3 and \
                 the patch side ({side})"
            )));
        }
    }
    if size.is_multiple_of(2) || !(3..=side).contains(&size) {
        return Err(CoreError::Argument(format!(
            "win_size must be an odd integer between 3 and the patch side ({side}), got {size}"
        )));
    }
    let range = params.data_range;
    if !(range.is_finite() && range > 0.0) {
        return Err(CoreError::Argument(format!(
            "data_range must be a positive number, got {range}"
        )));
    }
    let bound = i64::try_from(n).unwrap_or(i64::MAX);
    if let Some(at) = candidates
        .par_iter()
        .position_first(|&c| !(0..bound).contains(&c))
    {
        return Err(CoreError::Argument(format!(
            "candidates[{}, {}] = {} is not a tile index (there are {n} tiles)",
            at / k,
            at % k,
            candidates[at]
        )));
    }
    Ok((m, n))
}

/// Cells `start..end` whose candidates name at most `max_tiles` distinct tiles
/// (at least one cell), and those tiles in first-use order; `slot[t]` is set to
/// the position of tile `t` in that list.
fn next_batch(
    candidates: &[i64],
    k: usize,
    start: usize,
    max_tiles: usize,
    slot: &mut [u32],
) -> (usize, Vec<usize>) {
    let mut used = Vec::new();
    let mut end = start;
    for picks in candidates[start * k..].chunks_exact(k) {
        let new = picks
            .iter()
            .filter(|&&t| slot[t as usize] == u32::MAX)
            .count();
        if end > start && used.len() + new > max_tiles {
            break;
        }
        for &t in picks {
            let t = t as usize;
            if slot[t] == u32::MAX {
                slot[t] = used.len() as u32;
                used.push(t);
            }
        }
        end += 1;
    }
    (end, used)
}

/// Per-worker buffers of one pair's computation.
struct Scratch {
    image: Vec<f64>,
    rows: Vec<f64>,
    filtered: Vec<f64>,
}

impl Scratch {
    fn new(side: usize, kept: usize) -> Scratch {
        Scratch {
            image: vec![0.0; side * side],
            rows: vec![0.0; kept * side],
            filtered: vec![0.0; kept * kept],
        }
    }
}

/// The window, constants and sizes of one SSIM computation.
struct Ssim {
    window: Window,
    weights: Vec<f64>,
    side: usize,
    kept: usize,
    cov_norm: f64,
    c1: f64,
    c2: f64,
}

impl Ssim {
    fn new(side: usize, params: &SsimParams) -> Ssim {
        let size = params.window.size();
        let np = (size * size) as f64;
        Ssim {
            window: params.window,
            weights: params.window.weights(),
            side,
            kept: side - size + 1,
            cov_norm: if params.sample_covariance {
                np / (np - 1.0)
            } else {
                1.0
            },
            c1: (K1 * params.data_range).powi(2),
            c2: (K2 * params.data_range).powi(2),
        }
    }

    /// The window-weighted mean of `image` at the kept positions, into
    /// `scratch.filtered`: a vertical then a horizontal pass.
    fn filter(&self, image: &[f64], scratch: &mut Scratch) {
        match self.window {
            Window::Uniform { size } => self.box_filter(size, image, scratch),
            Window::Gaussian { .. } => self.weighted_filter(image, scratch),
        }
    }

    /// Uniform window by running sums, as `scipy.ndimage.uniform_filter1d`
    /// computes it: each step adds the value entering the window and removes
    /// the one leaving it, whatever the window size.
    fn box_filter(&self, size: usize, image: &[f64], scratch: &mut Scratch) {
        let (side, kept) = (self.side, self.kept);
        let rows = &mut scratch.rows;
        rows[..side].fill(0.0);
        for src in image[..size * side].chunks_exact(side) {
            for (acc, &v) in rows[..side].iter_mut().zip(src) {
                *acc += v;
            }
        }
        for r in 1..kept {
            let (done, next) = rows.split_at_mut(r * side);
            let prev = &done[(r - 1) * side..];
            let entering = &image[(r + size - 1) * side..(r + size) * side];
            let leaving = &image[(r - 1) * side..r * side];
            for (((acc, &p), &add), &sub) in
                next[..side].iter_mut().zip(prev).zip(entering).zip(leaving)
            {
                *acc = p + add - sub;
            }
        }
        let scale = 1.0 / (size * size) as f64;
        let rows = scratch.rows.chunks_exact(side);
        for (out, row) in scratch.filtered.chunks_exact_mut(kept).zip(rows) {
            let mut acc: f64 = row[..size].iter().sum();
            out[0] = acc * scale;
            for ((o, &add), &sub) in out[1..].iter_mut().zip(&row[size..]).zip(row) {
                acc += add - sub;
                *o = acc * scale;
            }
        }
    }

    /// Any separable window by its weights, each pass written as runs of
    /// multiply-adds over contiguous rows.
    fn weighted_filter(&self, image: &[f64], scratch: &mut Scratch) {
        let (side, kept) = (self.side, self.kept);
        scratch.rows.fill(0.0);
        for (r, row) in scratch.rows.chunks_exact_mut(side).enumerate() {
            for (t, &w) in self.weights.iter().enumerate() {
                let src = &image[(r + t) * side..(r + t + 1) * side];
                for (acc, &v) in row.iter_mut().zip(src) {
                    *acc += w * v;
                }
            }
        }
        scratch.filtered.fill(0.0);
        let rows = scratch.rows.chunks_exact(side);
        for (out, row) in scratch.filtered.chunks_exact_mut(kept).zip(rows) {
            for (t, &w) in self.weights.iter().enumerate() {
                for (acc, &v) in out.iter_mut().zip(&row[t..t + kept]) {
                    *acc += w * v;
                }
            }
        }
    }

    /// Local means then (co)variance-normalised variances of one patch at the
    /// kept positions, `2 * kept^2` values.
    fn stats(&self, x: &[f64], scratch: &mut Scratch) -> Vec<f64> {
        let plane = self.kept * self.kept;
        let mut out = vec![0.0; 2 * plane];
        self.stats_into(x, scratch, &mut out);
        out
    }

    fn stats_into(&self, x: &[f64], scratch: &mut Scratch, out: &mut [f64]) {
        let (means, vars) = out.split_at_mut(self.kept * self.kept);
        self.filter(x, scratch);
        means.copy_from_slice(&scratch.filtered);
        for (sq, &v) in scratch.image.iter_mut().zip(x) {
            *sq = v * v;
        }
        let squares = std::mem::take(&mut scratch.image);
        self.filter(&squares, scratch);
        scratch.image = squares;
        for ((var, &mean), &mean_sq) in vars.iter_mut().zip(&*means).zip(&scratch.filtered) {
            *var = self.cov_norm * (mean_sq - mean * mean);
        }
    }

    /// Statistics of the tiles `used`, one `2 * kept^2` block each, in order.
    fn tile_stats(&self, tiles: &[f32], used: &[usize]) -> Vec<f64> {
        let area = self.side * self.side;
        let plane = 2 * self.kept * self.kept;
        let mut stats = vec![0.0; used.len() * plane];
        stats
            .par_chunks_mut(plane)
            .zip(used.par_iter())
            .for_each_init(
                || (Scratch::new(self.side, self.kept), vec![0.0; area]),
                |(scratch, y), (out, &t)| {
                    for (dst, &v) in y.iter_mut().zip(&tiles[t * area..(t + 1) * area]) {
                        *dst = f64::from(v);
                    }
                    self.stats_into(y, scratch, out);
                },
            );
        stats
    }

    /// Mean SSIM of patch `x` and tile `y` given their statistics.
    fn pair(
        &self,
        x: &[f64],
        x_stats: &[f64],
        y: &[f32],
        y_stats: &[f64],
        scratch: &mut Scratch,
    ) -> f64 {
        let plane = self.kept * self.kept;
        for ((p, &a), &b) in scratch.image.iter_mut().zip(x).zip(y) {
            *p = a * f64::from(b);
        }
        let product = std::mem::take(&mut scratch.image);
        self.filter(&product, scratch);
        scratch.image = product;
        let (ux, vx) = x_stats.split_at(plane);
        let (uy, vy) = y_stats.split_at(plane);
        let terms = scratch.filtered.iter().zip(ux.iter().zip(vx));
        let mut total = 0.0;
        for ((&uxy, (&ux, &vx)), (&uy, &vy)) in terms.zip(uy.iter().zip(vy)) {
            let vxy = self.cov_norm * (uxy - ux * uy);
            let a1 = 2.0 * ux * uy + self.c1;
            let a2 = 2.0 * vxy + self.c2;
            let b1 = ux * ux + uy * uy + self.c1;
            let b2 = vx + vy + self.c2;
            total += (a1 * a2) / (b1 * b2);
        }
        total / plane as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `scipy.ndimage`'s `mode='reflect'`: d c b a | a b c d | d c b a.
    fn reflect(i: isize, n: usize) -> usize {
        let period = 2 * n as isize;
        let j = i.rem_euclid(period) as usize;
        if j < n {
            j
        } else {
            2 * n - 1 - j
        }
    }

    /// The whole-image SSIM map, window by window with reflected borders,
    /// then cropped and averaged: skimage's computation, written plainly.
    fn naive(x: &[f32], y: &[f32], side: usize, params: &SsimParams) -> f64 {
        let w = params.window.weights();
        let r = (w.len() / 2) as isize;
        let at = |img: &[f32], i: isize, j: isize| {
            f64::from(img[reflect(i, side) * side + reflect(j, side)])
        };
        let size = params.window.size();
        let np = (size * size) as f64;
        let norm = if params.sample_covariance {
            np / (np - 1.0)
        } else {
            1.0
        };
        let (c1, c2) = (
            (K1 * params.data_range).powi(2),
            (K2 * params.data_range).powi(2),
        );
        let pad = (size - 1) / 2;
        let mut total = 0.0;
        for i in pad..side - pad {
            for j in pad..side - pad {
                let [mut ux, mut uy, mut uxx, mut uyy, mut uxy] = [0.0; 5];
                for (a, wa) in w.iter().enumerate() {
                    for (b, wb) in w.iter().enumerate() {
                        let (p, q) = (i as isize + a as isize - r, j as isize + b as isize - r);
                        let (xv, yv, wt) = (at(x, p, q), at(y, p, q), wa * wb);
                        ux += wt * xv;
                        uy += wt * yv;
                        uxx += wt * xv * xv;
                        uyy += wt * yv * yv;
                        uxy += wt * xv * yv;
                    }
                }
                let (vx, vy, vxy) = (
                    norm * (uxx - ux * ux),
                    norm * (uyy - uy * uy),
                    norm * (uxy - ux * uy),
                );
                total += ((2.0 * ux * uy + c1) * (2.0 * vxy + c2))
                    / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
            }
        }
        total / ((side - 2 * pad) * (side - 2 * pad)) as f64
    }

    /// Deterministic pseudo-random luminance in `[0, 255)`, smoothed by
    /// `smooth` so that patches range from noise to gentle gradients.
    fn patches(count: usize, side: usize, seed: u64, smooth: bool) -> Vec<f32> {
        let mut state = seed.wrapping_mul(6364136223846793005) | 1;
        let mut values: Vec<f32> = (0..count * side * side)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 33) % 25500) as f32 / 100.0
            })
            .collect();
        if smooth {
            for (i, v) in values.iter_mut().enumerate() {
                let (row, col) = ((i / side) % side, i % side);
                *v = 0.2 * *v + 8.0 * (row + col) as f32 / side as f32 * 10.0;
            }
        }
        values
    }

    fn params(window: Window, data_range: f64, sample_covariance: bool) -> SsimParams {
        SsimParams {
            window,
            data_range,
            sample_covariance,
        }
    }

    fn check_against_naive(side: usize, p: &SsimParams, smooth: bool) {
        let (m, n, k) = (5, 9, 4);
        let cells = patches(m, side, 1 + side as u64, smooth);
        let tiles = patches(n, side, 2 + side as u64, smooth);
        let candidates: Vec<i64> = (0..m * k).map(|i| ((i * 7 + 3) % n) as i64).collect();
        let got = ssim_candidates(&cells, &tiles, side, &candidates, k, p).unwrap();
        let area = side * side;
        for (i, (&value, &t)) in got.iter().zip(&candidates).enumerate() {
            let (cell, t) = (i / k, t as usize);
            let expected = naive(
                &cells[cell * area..(cell + 1) * area],
                &tiles[t * area..(t + 1) * area],
                side,
                p,
            );
            assert!(
                (f64::from(value) - expected).abs() < 1e-6,
                "{p:?} side {side}: {value} vs {expected}"
            );
        }
    }

    #[test]
    fn matches_the_plain_computation() {
        for side in [8, 16, 33] {
            for smooth in [false, true] {
                for covariance in [true, false] {
                    for window in [
                        Window::Uniform { size: 3 },
                        Window::Uniform { size: 7 },
                        Window::Gaussian { sigma: 0.8 },
                    ] {
                        check_against_naive(side, &params(window, 255.0, covariance), smooth);
                    }
                }
            }
        }
        let gaussian = params(Window::Gaussian { sigma: 1.5 }, 100.0, true);
        check_against_naive(16, &gaussian, true);
    }

    #[test]
    fn gaussian_window_has_skimage_size_and_unit_sum() {
        assert_eq!(Window::Gaussian { sigma: 1.5 }.size(), 11);
        assert_eq!(Window::Gaussian { sigma: 1.0 }.size(), 9);
        let weights = Window::Gaussian { sigma: 1.5 }.weights();
        assert!((weights.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        assert_eq!(weights[0], weights[10]);
    }

    #[test]
    fn identical_and_constant_patches() {
        let side = 16;
        let p = params(Window::Uniform { size: 7 }, 255.0, true);
        let mut tiles = patches(1, side, 3, false);
        tiles.extend(vec![40.0; side * side]);
        let cells = tiles.clone();
        let got = ssim_candidates(&cells, &tiles, side, &[0, 1, 1, 1], 2, &p).unwrap();
        assert!((got[0] - 1.0).abs() < 1e-7);
        assert!((got[2] - 1.0).abs() < 1e-7 && (got[3] - 1.0).abs() < 1e-7);
        assert!(got[1] < 0.5);
    }

    #[test]
    fn same_result_for_any_thread_count_and_batching() {
        let side = 16;
        let (m, n, k) = (300, 500, 8);
        let cells = patches(m, side, 4, false);
        let tiles = patches(n, side, 5, true);
        let candidates: Vec<i64> = (0..m * k).map(|i| ((i * 37) % n) as i64).collect();
        let p = params(Window::Gaussian { sigma: 1.5 }, 255.0, false);
        let run = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| ssim_candidates(&cells, &tiles, side, &candidates, k, &p).unwrap())
        };
        let one = run(1);
        assert_eq!(one, run(2));
        assert_eq!(one, run(5));
        // Batches of at most 20 distinct tiles give the same values.
        let mut slot = vec![u32::MAX; n];
        let mut start = 0;
        while start < m {
            let (end, used) = next_batch(&candidates, k, start, 20, &mut slot);
            assert!(end > start && used.len() <= 20);
            for &t in &used {
                slot[t] = u32::MAX;
            }
            let area = side * side;
            let part = ssim_candidates(
                &cells[start * area..end * area],
                &tiles,
                side,
                &candidates[start * k..end * k],
                k,
                &p,
            )
            .unwrap();
            assert_eq!(part, one[start * k..end * k]);
            start = end;
        }
    }

    #[test]
    fn bad_arguments_are_errors() {
        let side = 8;
        let patch = vec![0f32; side * side];
        let ok = params(Window::Uniform { size: 7 }, 255.0, true);
        let run = |cells: &[f32], side, candidates: &[i64], k, p: &SsimParams| {
            ssim_candidates(cells, &patch, side, candidates, k, p)
        };
        assert!(run(&patch, side, &[0], 1, &ok).is_ok());
        assert!(run(&patch, side, &[], 0, &ok).unwrap().is_empty());
        let argument = |r: CoreResult<Vec<f32>>| matches!(r, Err(CoreError::Argument(_)));
        let shape = |r: CoreResult<Vec<f32>>| matches!(r, Err(CoreError::Shape(_)));
        assert!(shape(run(&patch[1..], side, &[0], 1, &ok)));
        assert!(shape(run(&patch, side, &[0, 0], 1, &ok)));
        let err = run(&patch, side, &[1], 1, &ok).unwrap_err();
        assert_eq!(
            err.to_string(),
            "candidates[0, 0] = 1 is not a tile index (there are 1 tiles)"
        );
        assert!(argument(run(&patch, side, &[-1], 1, &ok)));
        assert!(argument(run(&patch[..49], 7, &[0], 1, &ok)));
        for window in [
            Window::Uniform { size: 4 },
            Window::Uniform { size: 9 },
            Window::Uniform { size: 1 },
            Window::Gaussian { sigma: 1.5 },
            Window::Gaussian { sigma: 0.1 },
            Window::Gaussian { sigma: f64::NAN },
            Window::Gaussian { sigma: -1.0 },
        ] {
            assert!(argument(run(
                &patch,
                side,
                &[0],
                1,
                &params(window, 255.0, true)
            )));
        }
        for range in [0.0, -1.0, f64::INFINITY, f64::NAN] {
            let p = params(Window::Uniform { size: 3 }, range, true);
            assert!(argument(run(&patch, side, &[0], 1, &p)));
        }
    }
}
