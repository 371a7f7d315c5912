//! Compositing: painting a band of cell rows of a mosaic from the pixels of its
//! distinct tiles, with the colour blend and the overlay done in the same pass,
//! cell by cell.
//!
//! A band is `rows x cols` cells of `tile x tile` pixels, written into a
//! row-major `(rows * tile, cols * tile, 3)` buffer. Each cell copies its tile
//! in its orientation ([`orient`]: mirrored left to right, then turned); with
//! `blend > 0` the tile then moves toward the colour statistics of the target
//! pixels under the cell (given at
//! `under_side` pixels per cell side: the blend needs only their statistics),
//! exactly as [`crate::blend::blend_tiles_toward`] does for a stack of tiles (cells are then
//! painted grouped by tile, so that each distinct tile is converted to CIELAB
//! once per band, not once per cell); with `overlay > 0`
//! every pixel finally becomes `round_half_even(m + overlay * (t - m))` in
//! `f32`, as the NumPy overlay computes it. Cells (or, blended, the groups of
//! cells of each tile) are independent and run in parallel on the current
//! rayon pool; each cell's arithmetic is sequential, so the result does not
//! depend on the number of threads.

use std::cell::RefCell;

use rayon::prelude::*;

use crate::blend;
use crate::error::{CoreError, CoreResult};

/// A band of cells to paint.
pub struct Band<'a> {
    /// `(n, tile, tile, 3)` RGB bytes of the distinct tiles the band uses.
    pub tiles: &'a [u8],
    /// Side of a tile (and of a cell) in pixels.
    pub tile: usize,
    /// `(rows, cols)` row-major: which of `tiles` fills each cell.
    pub index: &'a [i64],
    /// Same layout: each cell's orientation (`None`: all upright), a code
    /// `0..8` as [`orient`] reads it.
    pub orientation: Option<&'a [u8]>,
    /// Cells across.
    pub cols: usize,
    /// `(rows * s, cols * s, 3)` target pixels under the band, `s =
    /// under_side` per cell side; needed when `blend` or `overlay` is above 0.
    /// The blend takes each cell's target statistics from its `s x s` pixels;
    /// the overlay needs the target at the output's size (`s == tile`).
    pub under: Option<&'a [u8]>,
    /// Pixels of `under` per cell side.
    pub under_side: usize,
    /// Strength of the colour blend toward the target, `0..=1`.
    pub blend: f32,
    /// Opacity of the target laid over the result, `0..=1`.
    pub overlay: f32,
}

impl Band<'_> {
    /// Checks every shape and value; returns the number of cell rows.
    fn check(&self, out_len: usize) -> CoreResult<usize> {
        blend::check_fraction("blend", self.blend)?;
        blend::check_fraction("overlay", self.overlay)?;
        let t = self.tile;
        if t == 0 || self.cols == 0 {
            return Err(CoreError::Shape(format!(
                "tile size and columns must be at least 1, got {t} and {}",
                self.cols
            )));
        }
        let tile_len = t * t * 3;
        if !self.tiles.len().is_multiple_of(tile_len) {
            return Err(CoreError::Shape(format!(
                "tiles must be whole {t}x{t}x3 tiles, got {} bytes",
                self.tiles.len()
            )));
        }
        let n = self.tiles.len() / tile_len;
        if !self.index.len().is_multiple_of(self.cols) {
            return Err(CoreError::Shape(format!(
                "the index has {} cells, not whole rows of {}",
                self.index.len(),
                self.cols
            )));
        }
        let rows = self.index.len() / self.cols;
        let expected = rows * t * self.cols * t * 3;
        if out_len != expected {
            return Err(CoreError::Shape(format!(
                "the output must be ({}, {}, 3) for {rows}x{} cells of {t} px, got {out_len} bytes",
                rows * t,
                self.cols * t,
                self.cols
            )));
        }
        if let Some(bad) = self.index.iter().find(|&&k| k < 0 || k as u64 >= n as u64) {
            return Err(CoreError::Argument(format!(
                "tile index {bad} is out of range for {n} tiles"
            )));
        }
        if let Some(orientation) = self.orientation {
            if orientation.len() != self.index.len() {
                return Err(CoreError::Shape(
                    "orientation must have the index's shape".into(),
                ));
            }
            if let Some(bad) = orientation.iter().find(|&&o| o >= ORIENTATIONS) {
                return Err(CoreError::Argument(format!(
                    "an orientation is {bad}, not 0 to {}",
                    ORIENTATIONS - 1
                )));
            }
        }
        if self.overlay > 0.0 && self.under_side != t {
            return Err(CoreError::Argument(format!(
                "the overlay needs the target at {t} px per cell, got {}",
                self.under_side
            )));
        }
        if self.blend > 0.0 || self.overlay > 0.0 {
            let s = self.under_side;
            let under_len = rows * s * self.cols * s * 3;
            match self.under {
                Some(under) if under.len() == under_len && s > 0 => {}
                Some(under) => {
                    return Err(CoreError::Shape(format!(
                        "the target band must be ({}, {}, 3) ({under_len} bytes) with {s} px per \
                         cell, got {} bytes",
                        rows * s,
                        self.cols * s,
                        under.len()
                    )))
                }
                None => {
                    return Err(CoreError::Argument(
                        "blend and overlay need the target pixels under the band".into(),
                    ))
                }
            }
        }
        Ok(rows)
    }
}

/// Orientations of a tile: 0 to 7.
pub const ORIENTATIONS: u8 = 8;

/// The pixel of a `t x t` tile that lands at `(y, x)` of the tile in
/// orientation `code`: the tile mirrored left to right if bit 0 is set, then
/// turned `code >> 1` quarter turns counter-clockwise (as `np.rot90(np.fliplr(a)
/// if code & 1 else a, code >> 1)`).
pub fn orient(code: u8, t: usize, y: usize, x: usize) -> (usize, usize) {
    let last = t - 1;
    let (y, x) = match code >> 1 & 3 {
        0 => (y, x),
        1 => (x, last - y),
        2 => (last - y, last - x),
        _ => (last - x, y),
    };
    if code & 1 == 1 {
        (y, last - x)
    } else {
        (y, x)
    }
}

/// Per-worker buffers for blending: those of `blend` and the Lab values of the
/// tile being painted in each orientation a cell wants.
#[derive(Default)]
struct Scratch {
    lab: blend::Scratch,
    oriented: [Vec<[f64; 3]>; ORIENTATIONS as usize],
}

thread_local! {
    /// One [`Scratch`] per worker thread, kept between tiles and calls so that
    /// its colour memos stay warm. Only `paint_tile` borrows it, and it does
    /// not re-enter the pool while it does.
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

/// A cell to paint: its number (row-major in the band) and its pixel rows in
/// the output.
type Cell<'a> = (usize, Vec<&'a mut [u8]>);

/// Copies a `t x t` tile (`t * t * 3` bytes) into a cell's pixel rows in
/// orientation `code`.
fn copy_tile(tile: &[u8], t: usize, code: u8, lines: &mut [&mut [u8]]) {
    let t3 = t * 3;
    for (y, line) in lines.iter_mut().enumerate() {
        match code {
            0 => line.copy_from_slice(&tile[y * t3..][..t3]),
            1 => {
                let src = tile[y * t3..][..t3].chunks_exact(3).rev();
                for (o, p) in line.chunks_exact_mut(3).zip(src) {
                    o.copy_from_slice(p);
                }
            }
            _ => {
                for (x, o) in line.chunks_exact_mut(3).enumerate() {
                    let (sy, sx) = orient(code, t, y, x);
                    o.copy_from_slice(&tile[sy * t3 + sx * 3..][..3]);
                }
            }
        }
    }
}

/// The overlay of one 8-bit value: `round_half_even(m + alpha * (t - m))`,
/// every operation in `f32` as NumPy evaluates it.
fn overlay(mosaic: u8, target: u8, alpha: f32) -> u8 {
    let lower = f32::from(mosaic);
    let mixed = lower + alpha * (f32::from(target) - lower);
    mixed.round_ties_even().clamp(0.0, 255.0) as u8
}

impl Band<'_> {
    /// Row `y` of the target pixels under `cell` (`under_side` of them).
    fn under_row(&self, cell: usize, y: usize) -> &[u8] {
        let (s, s3) = (self.under_side, self.under_side * 3);
        let (row, col) = (cell / self.cols, cell % self.cols);
        let under = self.under.unwrap_or_default();
        &under[(row * s + y) * self.cols * s3 + col * s3..][..s3]
    }

    fn orientation(&self, cell: usize) -> u8 {
        self.orientation.map_or(0, |o| o[cell])
    }

    /// Lays the target over a painted cell, if `overlay > 0`.
    fn overlay_cell(&self, cell: usize, lines: &mut [&mut [u8]]) {
        if self.overlay > 0.0 {
            for (y, line) in lines.iter_mut().enumerate() {
                for (o, &u) in line.iter_mut().zip(self.under_row(cell, y)) {
                    *o = overlay(*o, u, self.overlay);
                }
            }
        }
    }
}

/// Paints every cell that shows tile `k`, blended: the tile's Lab values and
/// statistics are computed once (and once more in each other orientation the
/// cells use), then each cell blends them toward its own target pixels.
fn paint_tile(band: &Band<'_>, k: usize, cells: Vec<Cell<'_>>, s: &mut Scratch) {
    let t3 = band.tile * 3;
    let tile = &band.tiles[k * band.tile * t3..][..band.tile * t3];
    s.lab
        .tile_colours
        .fill(tile.chunks_exact(t3), &mut s.lab.tile);
    let t = band.tile;
    let mut stats = [None; ORIENTATIONS as usize];
    for (cell, mut lines) in cells {
        let code = band.orientation(cell);
        let slot = usize::from(code);
        if code != 0 && stats[slot].is_none() {
            let upright = &s.lab.tile;
            let oriented = &mut s.oriented[slot];
            oriented.clear();
            oriented.extend((0..t * t).map(|i| {
                let (y, x) = orient(code, t, i / t, i % t);
                upright[y * t + x]
            }));
        }
        let lab = if code == 0 {
            &s.lab.tile
        } else {
            &s.oriented[slot]
        };
        let tile_stats = *stats[slot].get_or_insert_with(|| blend::LabStats::of(lab));
        blend::blend_into(
            lab,
            tile_stats,
            (0..band.under_side).map(|y| band.under_row(cell, y)),
            f64::from(band.blend),
            &mut s.lab.target_colours,
            &mut s.lab.target,
            &mut lines,
        );
        band.overlay_cell(cell, &mut lines);
    }
}

/// Paints `band` into `out`, a row-major `(rows * tile, cols * tile, 3)` buffer.
pub fn paint_band(band: &Band<'_>, out: &mut [u8]) -> CoreResult<()> {
    let rows = band.check(out.len())?;
    let t = band.tile;
    let t3 = t * 3;
    // Split the output into each cell's pixel rows.
    let mut cells: Vec<Vec<&mut [u8]>> = (0..rows * band.cols)
        .map(|_| Vec::with_capacity(t))
        .collect();
    for (y, line) in out.chunks_exact_mut(band.cols * t3).enumerate() {
        let first = y / t * band.cols;
        for (cell, part) in cells[first..].iter_mut().zip(line.chunks_exact_mut(t3)) {
            cell.push(part);
        }
    }
    if band.blend > 0.0 {
        // Cells grouped by tile, so that each tile is converted to Lab once.
        let mut by_tile: Vec<Vec<Cell<'_>>> = Vec::new();
        by_tile.resize_with(band.tiles.len() / (t * t3), Vec::new);
        for (cell, lines) in cells.into_iter().enumerate() {
            // `check` proved every index within `0..n`.
            by_tile[band.index[cell] as usize].push((cell, lines));
        }
        by_tile
            .into_par_iter()
            .enumerate()
            .filter(|(_, cells)| !cells.is_empty())
            .for_each(|(k, cells)| SCRATCH.with_borrow_mut(|s| paint_tile(band, k, cells, s)));
    } else {
        cells
            .into_par_iter()
            .enumerate()
            .for_each(|(cell, mut lines)| {
                let k = band.index[cell] as usize;
                let tile = &band.tiles[k * t * t3..][..t * t3];
                copy_tile(tile, t, band.orientation(cell), &mut lines);
                band.overlay_cell(cell, &mut lines);
            });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::noise;

    fn band<'a>(tiles: &'a [u8], index: &'a [i64], cols: usize, tile: usize) -> Band<'a> {
        Band {
            tiles,
            tile,
            index,
            orientation: None,
            cols,
            under: None,
            under_side: tile,
            blend: 0.0,
            overlay: 0.0,
        }
    }

    /// Cells gathered into a `(cells, t, t, 3)` stack, as `api._blend_cells` does.
    fn cells(image: &[u8], rows: usize, cols: usize, t: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(image.len());
        for r in 0..rows {
            for c in 0..cols {
                for y in 0..t {
                    let start = ((r * t + y) * cols * t + c * t) * 3;
                    out.extend_from_slice(&image[start..start + t * 3]);
                }
            }
        }
        out
    }

    /// `tile` (`t x t` pixels of 3 bytes) turned a quarter turn
    /// counter-clockwise, as `np.rot90` does: `out[i][j] = tile[j][t - 1 - i]`.
    fn quarter_turn(tile: &[u8], t: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(tile.len());
        for i in 0..t {
            for j in 0..t {
                out.extend_from_slice(&tile[(j * t + t - 1 - i) * 3..][..3]);
            }
        }
        out
    }

    /// Every orientation of `tile` by whole-tile steps: mirrored (code bit 0),
    /// then turned `code >> 1` times.
    fn oriented_tiles(tile: &[u8], t: usize) -> Vec<Vec<u8>> {
        let mirrored: Vec<u8> = tile
            .chunks_exact(t * 3)
            .flat_map(|row| row.chunks_exact(3).rev().flatten().copied())
            .collect();
        (0..ORIENTATIONS)
            .map(|code| {
                let mut out = if code & 1 == 1 {
                    mirrored.clone()
                } else {
                    tile.to_vec()
                };
                for _ in 0..code >> 1 {
                    out = quarter_turn(&out, t);
                }
                out
            })
            .collect()
    }

    #[test]
    fn cells_get_their_tiles_in_their_orientation() {
        let t = 3;
        let tiles = noise(2 * t * t * 3, 1);
        let len = t * t * 3;
        let index: Vec<i64> = (0..16).map(|i| i / 8).collect();
        let orientation: Vec<u8> = (0..16).map(|i| i % 8).collect();
        let mut out = vec![0; 2 * t * 8 * t * 3];
        let job = Band {
            orientation: Some(&orientation),
            ..band(&tiles, &index, 8, t)
        };
        paint_band(&job, &mut out).unwrap();
        let stack = cells(&out, 2, 8, t);
        for (cell, got) in stack.chunks_exact(len).enumerate() {
            let tile = &tiles[cell / 8 * len..][..len];
            assert_eq!(got, oriented_tiles(tile, t)[cell % 8], "cell {cell}");
        }
        // Mirrored, then a quarter turn: the tile's transpose.
        let turned = &stack[3 * len..4 * len];
        for y in 0..t {
            for x in 0..t {
                assert_eq!(
                    &turned[(y * t + x) * 3..][..3],
                    &tiles[(x * t + y) * 3..][..3]
                );
            }
        }
    }

    #[test]
    fn blended_cells_blend_their_tile_in_its_orientation() {
        // Painting tile k in orientation o equals painting the stack of every
        // orientation of k, upright: the blend sees the oriented pixels.
        let (t, s) = (4, 2);
        let tiles = noise(2 * t * t * 3, 9);
        let len = t * t * 3;
        let index: Vec<i64> = (0..16).map(|i| i / 8).collect();
        let orientation: Vec<u8> = (0..16).map(|i| (i * 3 % 8) as u8).collect();
        let under = noise(2 * s * 8 * s * 3, 10);
        let oriented: Vec<u8> = (0..2)
            .flat_map(|k| oriented_tiles(&tiles[k * len..][..len], t))
            .flatten()
            .collect();
        let upright_index: Vec<i64> = index
            .iter()
            .zip(&orientation)
            .map(|(&k, &o)| k * 8 + i64::from(o))
            .collect();
        let paint = |job: Band<'_>| {
            let mut out = vec![0; 2 * t * 8 * t * 3];
            paint_band(&job, &mut out).unwrap();
            out
        };
        let turned = paint(Band {
            orientation: Some(&orientation),
            under: Some(&under),
            under_side: s,
            blend: 0.7,
            ..band(&tiles, &index, 8, t)
        });
        let upright = paint(Band {
            under: Some(&under),
            under_side: s,
            blend: 0.7,
            ..band(&oriented, &upright_index, 8, t)
        });
        assert_eq!(turned, upright);
    }

    /// Paints 2 x 3 cells of `t`-px tiles blended by `alpha` toward a target of
    /// `s` px per cell, and checks them against `blend_tiles_toward` on the cells.
    fn check_blend_against_blend_tiles(t: usize, s: usize, alpha: f32) {
        let (rows, cols) = (2, 3);
        let tiles = noise(4 * t * t * 3, 2);
        let index = [3, 1, 2, 0, 3, 1];
        let under = noise(rows * s * cols * s * 3, 3);
        let mut plain = vec![0; rows * t * cols * t * 3];
        paint_band(&band(&tiles, &index, cols, t), &mut plain).unwrap();
        let mut blended = vec![0; plain.len()];
        let job = Band {
            under: Some(&under),
            under_side: s,
            blend: alpha,
            ..band(&tiles, &index, cols, t)
        };
        paint_band(&job, &mut blended).unwrap();
        let want = blend::blend_tiles_toward(
            &cells(&plain, rows, cols, t),
            &cells(&under, rows, cols, s),
            [rows * cols, t, t],
            [s, s],
            alpha,
        )
        .unwrap();
        assert_eq!(cells(&blended, rows, cols, t), want);
    }

    #[test]
    fn the_blend_matches_blend_tiles_on_the_cells() {
        check_blend_against_blend_tiles(4, 4, 0.6);
    }

    #[test]
    fn the_blend_takes_the_statistics_of_a_smaller_target() {
        check_blend_against_blend_tiles(6, 2, 0.7);
        let tiles = noise(2 * 2 * 3, 4);
        let under = noise(3, 5);
        let job = Band {
            under: Some(&under),
            under_side: 1,
            overlay: 0.5,
            ..band(&tiles, &[0], 1, 2)
        };
        assert!(matches!(
            paint_band(&job, &mut [0; 12]),
            Err(CoreError::Argument(_))
        ));
    }

    #[test]
    fn overlay_rounds_half_to_even_and_one_gives_the_target() {
        assert_eq!(overlay(10, 11, 0.5), 10);
        assert_eq!(overlay(11, 12, 0.5), 12);
        assert_eq!(overlay(0, 255, 1.0), 255);
        let tiles = noise(2 * 2 * 3, 4);
        let under = noise(2 * 2 * 3, 5);
        let mut out = vec![0; 12];
        let job = Band {
            under: Some(&under),
            overlay: 1.0,
            ..band(&tiles, &[0], 1, 2)
        };
        paint_band(&job, &mut out).unwrap();
        assert_eq!(out, under);
    }

    #[test]
    fn results_do_not_depend_on_the_thread_count() {
        let (t, rows, cols) = (5, 4, 7);
        let tiles = noise(9 * t * t * 3, 6);
        let index: Vec<i64> = (0..rows * cols).map(|i| (i * 5 % 9) as i64).collect();
        let orientation: Vec<u8> = (0..rows * cols).map(|i| (i % 8) as u8).collect();
        let under = noise(rows * t * cols * t * 3, 7);
        let run = |threads| {
            let job = Band {
                orientation: Some(&orientation),
                under: Some(&under),
                blend: 0.5,
                overlay: 0.3,
                ..band(&tiles, &index, cols, t)
            };
            let mut out = vec![0; under.len()];
            crate::pool::thread_pool(Some(threads))
                .unwrap()
                .install(|| paint_band(&job, &mut out))
                .unwrap();
            out
        };
        assert_eq!(run(1), run(3));
    }

    #[test]
    fn bad_arguments_are_errors_not_panics() {
        let tiles = noise(2 * 2 * 2 * 3, 8);
        let mut out = vec![0; 2 * 4 * 3];
        let ok = band(&tiles, &[0, 1], 2, 2);
        assert!(paint_band(&ok, &mut out).is_ok());
        let cases = [
            band(&tiles, &[0, 2], 2, 2),
            band(&tiles, &[0, -1], 2, 2),
            Band {
                blend: 0.5,
                ..band(&tiles, &[0, 1], 2, 2)
            },
            Band {
                overlay: f32::NAN,
                ..band(&tiles, &[0, 1], 2, 2)
            },
            Band {
                orientation: Some(&[0, ORIENTATIONS]),
                ..band(&tiles, &[0, 1], 2, 2)
            },
        ];
        for job in &cases {
            assert!(matches!(
                paint_band(job, &mut out),
                Err(CoreError::Argument(_))
            ));
        }
        for (job, len) in [
            (band(&tiles, &[0, 1], 2, 2), 5),
            (band(&tiles, &[0, 1, 0], 2, 2), 24),
            (band(&tiles[1..], &[0, 1], 2, 2), 24),
            (band(&tiles, &[0, 1], 2, 0), 0),
        ] {
            let mut out = vec![0; len];
            assert!(matches!(
                paint_band(&job, &mut out),
                Err(CoreError::Shape(_))
            ));
        }
        assert!(paint_band(&band(&tiles, &[], 2, 2), &mut []).is_ok());
    }
}
