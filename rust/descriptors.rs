//! Colour-grid descriptors, exactly as defined in `docs/descriptors.md`: an
//! image region is cut into `g x g` blocks, each block's mean colour is taken in
//! linear light and converted to CIELAB (D65), and quantised to `int16` in
//! quarter Lab units.
//!
//! Cost: one table look-up and one integer add per pixel channel, plus one Lab
//! conversion per block. Tiles (and cells) are independent and run in parallel
//! on the current rayon pool.

use std::sync::LazyLock;

use rayon::prelude::*;

use crate::error::{CoreError, CoreResult};

/// Largest supported match resolution `g`.
pub const MAX_GRID: usize = 16;
/// Descriptor units per CIELAB unit.
const LAB_SCALE: f64 = 4.0;
/// D65 reference white (2 degree observer), as used by the sRGB standard.
pub(crate) const WHITE: [f64; 3] = [0.95047, 1.0, 1.08883];

/// 8-bit sRGB value to 16-bit linear light: `floor(65535 * lin(v / 255) + 0.5)`.
static LIN16: LazyLock<[u32; 256]> = LazyLock::new(|| {
    let mut table = [0u32; 256];
    for (v, entry) in table.iter_mut().enumerate() {
        *entry = (65535.0 * srgb_to_linear(v as f64 / 255.0) + 0.5).floor() as u32;
    }
    table
});

/// Inverse sRGB transfer function (IEC 61966-2-1).
pub(crate) fn srgb_to_linear(u: f64) -> f64 {
    if u <= 0.04045 {
        u / 12.92
    } else {
        ((u + 0.055) / 1.055).powf(2.4)
    }
}

/// CIELAB companding function. Powers use `powf` so that the reference's `**`
/// (C `pow`) gives bit-identical results.
fn lab_f(t: f64) -> f64 {
    let delta = 6.0 / 29.0;
    if t > f64::powf(delta, 3.0) {
        t.powf(1.0 / 3.0)
    } else {
        t / (3.0 * f64::powf(delta, 2.0)) + 4.0 / 29.0
    }
}

/// Linear sRGB (0..1) to CIELAB, D65.
pub fn linear_rgb_to_lab(r: f64, g: f64, b: f64) -> [f64; 3] {
    let x = 0.4124564 * r + 0.3575761 * g + 0.1804375 * b;
    let y = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b;
    let z = 0.0193339 * r + 0.1191920 * g + 0.9503041 * b;
    let fx = lab_f(x / WHITE[0]);
    let fy = lab_f(y / WHITE[1]);
    let fz = lab_f(z / WHITE[2]);
    [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
}

fn quantise(v: f64) -> i16 {
    (LAB_SCALE * v + 0.5).floor() as i16
}

/// Block boundaries `floor(i * len / parts)` for `i = 0..=parts`.
fn boundaries(len: usize, parts: usize) -> Vec<usize> {
    (0..=parts).map(|i| i * len / parts).collect()
}

/// A row-major RGB image borrowed as a flat slice.
#[derive(Clone, Copy)]
struct Rgb<'a> {
    pixels: &'a [u8],
    width: usize,
}

impl Rgb<'_> {
    /// Integer sums of `LIN16` over the rectangle, per channel.
    fn linear_sums(&self, rows: (usize, usize), cols: (usize, usize)) -> [u64; 3] {
        let lin = &*LIN16;
        let mut sums = [0u64; 3];
        for y in rows.0..rows.1 {
            let start = (y * self.width + cols.0) * 3;
            let end = (y * self.width + cols.1) * 3;
            for px in self.pixels[start..end].chunks_exact(3) {
                sums[0] += u64::from(lin[usize::from(px[0])]);
                sums[1] += u64::from(lin[usize::from(px[1])]);
                sums[2] += u64::from(lin[usize::from(px[2])]);
            }
        }
        sums
    }

    /// The descriptor of the blocks between consecutive `rows` and `cols`
    /// boundaries, written into `out` (3 values per block, row-major).
    fn describe(&self, rows: &[usize], cols: &[usize], out: &mut [i16]) {
        let blocks = rows
            .windows(2)
            .flat_map(|r| cols.windows(2).map(move |c| ((r[0], r[1]), (c[0], c[1]))));
        for (((r0, r1), (c0, c1)), lab_out) in blocks.zip(out.chunks_exact_mut(3)) {
            let sums = self.linear_sums((r0, r1), (c0, c1));
            let count = ((r1 - r0) * (c1 - c0)) as f64;
            let mean = sums.map(|s| s as f64 / count / 65535.0);
            let lab = linear_rgb_to_lab(mean[0], mean[1], mean[2]);
            for (q, v) in lab_out.iter_mut().zip(lab) {
                *q = quantise(v);
            }
        }
    }
}

fn check_grid(grid: usize) -> CoreResult<()> {
    if (1..=MAX_GRID).contains(&grid) {
        Ok(())
    } else {
        Err(CoreError::Argument(format!(
            "grid must be between 1 and {MAX_GRID}, got {grid}"
        )))
    }
}

/// Descriptors of `n` tiles stored row-major as `(n, height, width, 3)` bytes.
/// Returns `n * 3 * grid * grid` values, one descriptor per tile.
pub fn tile_descriptors(tiles: &[u8], shape: [usize; 3], grid: usize) -> CoreResult<Vec<i16>> {
    check_grid(grid)?;
    let [n, height, width] = shape;
    if height < grid || width < grid {
        return Err(CoreError::Shape(format!(
            "tiles of {height}x{width} pixels are smaller than the {grid}x{grid} grid"
        )));
    }
    let tile_len = height * width * 3;
    if tiles.len() != n * tile_len {
        return Err(CoreError::Shape(format!(
            "expected {n} tiles of {height}x{width}x3 bytes, got {} bytes",
            tiles.len()
        )));
    }
    let dim = 3 * grid * grid;
    let rows = boundaries(height, grid);
    let cols = boundaries(width, grid);
    let mut out = vec![0i16; n * dim];
    out.par_chunks_mut(dim)
        .zip(tiles.par_chunks(tile_len))
        .for_each(|(descriptor, pixels)| {
            Rgb { pixels, width }.describe(&rows, &cols, descriptor);
        });
    Ok(out)
}

/// Descriptors of the `rows x cols` cells of an image stored row-major as
/// `(height, width, 3)` bytes, cells listed row-major.
pub fn cell_descriptors(
    image: &[u8],
    shape: [usize; 2],
    cells: [usize; 2],
    grid: usize,
) -> CoreResult<Vec<i16>> {
    check_grid(grid)?;
    let [height, width] = shape;
    let [rows, cols] = cells;
    if rows == 0 || cols == 0 {
        return Err(CoreError::Argument(format!(
            "the cell grid must have at least one row and column, got {rows}x{cols}"
        )));
    }
    if height < rows * grid || width < cols * grid {
        return Err(CoreError::Shape(format!(
            "an image of {height}x{width} pixels is too small for {rows}x{cols} cells \
             of {grid}x{grid} blocks: it needs at least {}x{} pixels",
            rows * grid,
            cols * grid
        )));
    }
    if image.len() != height * width * 3 {
        return Err(CoreError::Shape(format!(
            "expected {height}x{width}x3 bytes, got {}",
            image.len()
        )));
    }
    let dim = 3 * grid * grid;
    let row_bounds = boundaries(height, rows * grid);
    let col_bounds = boundaries(width, cols * grid);
    let rgb = Rgb {
        pixels: image,
        width,
    };
    let mut out = vec![0i16; rows * cols * dim];
    out.par_chunks_mut(dim)
        .enumerate()
        .for_each(|(cell, descriptor)| {
            let (r, c) = (cell / cols, cell % cols);
            rgb.describe(
                &row_bounds[r * grid..=(r + 1) * grid],
                &col_bounds[c * grid..=(c + 1) * grid],
                descriptor,
            );
        });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::solid;

    #[test]
    fn lin16_endpoints_and_midpoint() {
        assert_eq!(LIN16[0], 0);
        assert_eq!(LIN16[255], 65535);
        // lin(128/255) = ((128/255 + 0.055) / 1.055)^2.4 = 0.2158605...
        assert_eq!(LIN16[128], 14146);
    }

    #[test]
    fn black_white_and_red_have_known_lab() {
        let d = tile_descriptors(&solid(1, 4, [0, 0, 0]), [1, 4, 4], 1).unwrap();
        assert_eq!(d, vec![0, 0, 0]);
        let d = tile_descriptors(&solid(1, 4, [255, 255, 255]), [1, 4, 4], 1).unwrap();
        assert_eq!(d, vec![400, 0, 0]);
        // sRGB red is L*a*b* (53.24, 80.09, 67.20).
        let d = tile_descriptors(&solid(1, 4, [255, 0, 0]), [1, 4, 4], 1).unwrap();
        assert_eq!(d, vec![213, 320, 269]);
    }

    #[test]
    fn boundaries_follow_the_floor_rule() {
        assert_eq!(boundaries(7, 3), vec![0, 2, 4, 7]);
        assert_eq!(boundaries(6, 3), vec![0, 2, 4, 6]);
    }

    #[test]
    fn quadrants_are_listed_row_major() {
        // A 2x2 tile: black, white / white, black.
        let px = [0, 0, 0, 255, 255, 255, 255, 255, 255, 0, 0, 0];
        let d = tile_descriptors(&px, [1, 2, 2], 2).unwrap();
        assert_eq!(d, vec![0, 0, 0, 400, 0, 0, 400, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn cells_of_a_tiled_image_match_their_tiles() {
        let (size, grid) = (6, 3);
        let colours = [[10, 200, 30], [250, 120, 0], [0, 0, 255], [90, 90, 90]];
        let tiles: Vec<u8> = colours.iter().flat_map(|&c| solid(1, size, c)).collect();
        // Place the four tiles as a 2x2 image.
        let mut image = vec![0u8; 2 * size * 2 * size * 3];
        for (t, c) in colours.iter().enumerate() {
            let (tr, tc) = (t / 2, t % 2);
            for y in 0..size {
                for x in 0..size {
                    let at = ((tr * size + y) * 2 * size + tc * size + x) * 3;
                    image[at..at + 3].copy_from_slice(c);
                }
            }
        }
        let expected = tile_descriptors(&tiles, [4, size, size], grid).unwrap();
        let got = cell_descriptors(&image, [2 * size, 2 * size], [2, 2], grid).unwrap();
        assert_eq!(got, expected);
    }

    #[test]
    fn bad_arguments_are_errors_not_panics() {
        let px = solid(1, 4, [1, 2, 3]);
        assert!(matches!(
            tile_descriptors(&px, [1, 4, 4], 0),
            Err(CoreError::Argument(_))
        ));
        assert!(matches!(
            tile_descriptors(&px, [1, 4, 4], 5),
            Err(CoreError::Shape(_))
        ));
        assert!(matches!(
            tile_descriptors(&px, [2, 4, 4], 2),
            Err(CoreError::Shape(_))
        ));
        assert!(matches!(
            cell_descriptors(&px, [4, 4], [3, 3], 2),
            Err(CoreError::Shape(_))
        ));
        assert!(matches!(
            cell_descriptors(&px, [4, 4], [0, 1], 1),
            Err(CoreError::Argument(_))
        ));
    }
}
