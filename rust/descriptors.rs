//! Descriptors, exactly as defined in `docs/descriptors.md`, in two spaces
//! ([`Space`]). `lab`: an image region is cut into `g x g` blocks, each block's
//! mean colour is taken in linear light and converted to CIELAB (D65), and
//! quantised to `int16` in quarter Lab units. `ylab` (the default): the Rec. 601
//! luma of each of `g x g` sRGB block means, then the CIELAB a*, b* of the sRGB
//! means of `g/2 x g/2` blocks, weighted so that the squared distance is
//! `16 g^2 (mean dY'^2 + 0.49 mean (da*^2 + db*^2))`: what the fidelity measure
//! compares (SSIM on luma, CIEDE2000 on colour), found best by `benches/quality`.
//!
//! Cost: one table look-up (or one add) and one integer add per pixel channel,
//! plus one colour conversion per block. Tiles (and cells) are independent and
//! run in parallel on the current rayon pool.

use std::sync::LazyLock;

use rayon::prelude::*;

use crate::error::{CoreError, CoreResult};

/// Largest supported match resolution `g`.
pub const MAX_GRID: usize = 16;
/// Descriptor units per CIELAB unit.
const LAB_SCALE: f64 = 4.0;
/// `ylab` descriptor units per unit of 8-bit luma: quarter units of luma on 0-100.
const LUMA_SCALE: f64 = 400.0 / 255.0;
/// `ylab` descriptor units per CIELAB a* or b* unit: `LAB_SCALE * 2 * 0.7`, so a*b*
/// weigh 0.7 against luma per unit of mean squared difference (a colour block
/// covers four luma blocks).
const CHROMA_SCALE: f64 = 5.6;

/// The descriptor space and its match resolution `g`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Space {
    /// `g x g` quantised CIELAB block means taken in linear light: `3 g^2` values.
    Lab(usize),
    /// `g x g` luma block means, then `g/2 x g/2` a*b* pairs: `3 g^2 / 2` values.
    Ylab(usize),
}

impl Space {
    /// The space called `name` (`"lab"` or `"ylab"`) at resolution `grid`, checked.
    pub fn new(name: &str, grid: usize) -> CoreResult<Space> {
        check_grid(grid)?;
        match name {
            "lab" => Ok(Space::Lab(grid)),
            "ylab" if grid.is_multiple_of(2) => Ok(Space::Ylab(grid)),
            "ylab" => Err(CoreError::Argument(format!(
                "the ylab descriptor needs an even grid, got {grid}"
            ))),
            _ => Err(CoreError::Argument(format!(
                "descriptor space must be lab or ylab, got {name:?}"
            ))),
        }
    }

    /// Blocks along each side of a region.
    pub fn grid(self) -> usize {
        match self {
            Space::Lab(g) | Space::Ylab(g) => g,
        }
    }

    /// Values in one descriptor.
    pub fn dim(self) -> usize {
        match self {
            Space::Lab(g) => 3 * g * g,
            Space::Ylab(g) => 3 * g * g / 2,
        }
    }
}
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

fn quantise(scale: f64, v: f64) -> i16 {
    (scale * v + 0.5).floor() as i16
}

/// Block boundaries `floor(i * len / parts)` for `i = 0..=parts`.
fn boundaries(len: usize, parts: usize) -> Vec<usize> {
    (0..=parts).map(|i| i * len / parts).collect()
}

/// Integer sums over rectangles of an image's samples.
trait BlockSums: Sync {
    /// Integer sums of `map(v)` over the 8-bit values `v` of the samples in rows
    /// `rows.0..rows.1` and columns `cols.0..cols.1`, per channel.
    fn sums(&self, rows: (usize, usize), cols: (usize, usize), map: impl Fn(u8) -> u64)
        -> [u64; 3];
}

/// A row-major RGB image borrowed as a flat slice.
#[derive(Clone, Copy)]
struct Rgb<'a> {
    pixels: &'a [u8],
    width: usize,
}

impl Rgb<'_> {
    fn pixel(&self, y: usize, x: usize) -> &[u8] {
        &self.pixels[(y * self.width + x) * 3..][..3]
    }
}

impl BlockSums for Rgb<'_> {
    fn sums(
        &self,
        rows: (usize, usize),
        cols: (usize, usize),
        map: impl Fn(u8) -> u64,
    ) -> [u64; 3] {
        let mut sums = [0u64; 3];
        for y in rows.0..rows.1 {
            let start = (y * self.width + cols.0) * 3;
            let end = (y * self.width + cols.1) * 3;
            for px in self.pixels[start..end].chunks_exact(3) {
                sums[0] += map(px[0]);
                sums[1] += map(px[1]);
                sums[2] += map(px[2]);
            }
        }
        sums
    }
}

/// An image enlarged by repeating its pixels: sample `(y, x)` is pixel `(ys[y], xs[x])`
/// of `image`. A rectangle's sums weigh each pixel by how often it is repeated there,
/// so they cost the pixels covered, not the samples.
struct Repeated<'a> {
    image: Rgb<'a>,
    ys: &'a [usize],
    xs: &'a [usize],
}

/// `(value, count)` of each run of equal values of `values`, in order.
fn runs(values: &[usize]) -> impl Iterator<Item = (usize, u64)> + '_ {
    values
        .chunk_by(|a, b| a == b)
        .map(|run| (run[0], run.len() as u64))
}

impl BlockSums for Repeated<'_> {
    fn sums(
        &self,
        rows: (usize, usize),
        cols: (usize, usize),
        map: impl Fn(u8) -> u64,
    ) -> [u64; 3] {
        let mut sums = [0u64; 3];
        for (y, ny) in runs(&self.ys[rows.0..rows.1]) {
            for (x, nx) in runs(&self.xs[cols.0..cols.1]) {
                let px = self.image.pixel(y, x);
                for (s, &v) in sums.iter_mut().zip(px) {
                    *s += ny * nx * map(v);
                }
            }
        }
        sums
    }
}

/// The descriptor of the blocks between consecutive `rows` and `cols` boundaries of
/// `image`'s samples, written into `out` (3 values per block, row-major).
fn describe(image: &impl BlockSums, rows: &[usize], cols: &[usize], out: &mut [i16]) {
    let blocks = rows
        .windows(2)
        .flat_map(|r| cols.windows(2).map(move |c| ((r[0], r[1]), (c[0], c[1]))));
    for (((r0, r1), (c0, c1)), lab_out) in blocks.zip(out.chunks_exact_mut(3)) {
        let lin = &*LIN16;
        let sums = image.sums((r0, r1), (c0, c1), |v| u64::from(lin[usize::from(v)]));
        let count = ((r1 - r0) * (c1 - c0)) as f64;
        let mean = sums.map(|s| s as f64 / count / 65535.0);
        let lab = linear_rgb_to_lab(mean[0], mean[1], mean[2]);
        for (q, v) in lab_out.iter_mut().zip(lab) {
            *q = quantise(LAB_SCALE, v);
        }
    }
}

/// The `ylab` descriptor of the `g x g` blocks between consecutive `rows` and
/// `cols` boundaries of `image`'s samples: `g^2` luma values, then an a*b* pair for
/// each of the `g/2 x g/2` blocks made of 2 x 2 of those blocks (row-major both).
fn describe_ylab(image: &impl BlockSums, rows: &[usize], cols: &[usize], out: &mut [i16]) {
    let g = rows.len() - 1;
    let (luma, chroma) = out.split_at_mut(g * g);
    let mut sums = vec![([0u64; 3], 0u64); g * g];
    for (r, rb) in rows.windows(2).enumerate() {
        for (c, cb) in cols.windows(2).enumerate() {
            let block = image.sums((rb[0], rb[1]), (cb[0], cb[1]), u64::from);
            let count = ((rb[1] - rb[0]) * (cb[1] - cb[0])) as u64;
            let mean = block.map(|s| s as f64 / count as f64);
            let y = LUMA[0] * mean[0] + LUMA[1] * mean[1] + LUMA[2] * mean[2];
            luma[r * g + c] = quantise(LUMA_SCALE, y);
            sums[r * g + c] = (block, count);
        }
    }
    let half = g / 2;
    for (j, pair) in chroma.chunks_exact_mut(2).enumerate() {
        let (r, c) = (2 * (j / half), 2 * (j % half));
        let (mut total, mut count) = ([0u64; 3], 0u64);
        for (block, n) in
            [(r, c), (r, c + 1), (r + 1, c), (r + 1, c + 1)].map(|(y, x)| sums[y * g + x])
        {
            for (t, s) in total.iter_mut().zip(block) {
                *t += s;
            }
            count += n;
        }
        let mean = total.map(|s| srgb_to_linear(s as f64 / count as f64 / 255.0));
        let lab = linear_rgb_to_lab(mean[0], mean[1], mean[2]);
        pair[0] = quantise(CHROMA_SCALE, lab[1]);
        pair[1] = quantise(CHROMA_SCALE, lab[2]);
    }
}

/// The descriptor in `space` of the blocks between consecutive boundaries.
fn describe_in(
    image: &impl BlockSums,
    space: Space,
    rows: &[usize],
    cols: &[usize],
    out: &mut [i16],
) {
    match space {
        Space::Lab(_) => describe(image, rows, cols, out),
        Space::Ylab(_) => describe_ylab(image, rows, cols, out),
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
/// Returns `n * space.dim()` values, one descriptor per tile.
pub fn tile_descriptors(tiles: &[u8], shape: [usize; 3], space: Space) -> CoreResult<Vec<i16>> {
    let grid = space.grid();
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
    let dim = space.dim();
    let rows = boundaries(height, grid);
    let cols = boundaries(width, grid);
    let mut out = vec![0i16; n * dim];
    out.par_chunks_mut(dim)
        .zip(tiles.par_chunks(tile_len))
        .for_each(|(descriptor, pixels)| {
            describe_in(&Rgb { pixels, width }, space, &rows, &cols, descriptor);
        });
    Ok(out)
}

/// Descriptors of the `rows x cols` cells of an image stored row-major as
/// `(height, width, 3)` bytes, cells listed row-major.
pub fn cell_descriptors(
    image: &[u8],
    shape: [usize; 2],
    cells: [usize; 2],
    space: Space,
) -> CoreResult<Vec<i16>> {
    let [height, width] = shape;
    check_image(image, shape)?;
    let rgb = Rgb {
        pixels: image,
        width,
    };
    describe_cells(&rgb, [height, width], cells, space)
}

/// [`cell_descriptors`] of the image `(height, width, 3)` enlarged by repeating its
/// pixels: sample `(y, x)` is pixel `(ys[y], xs[x])`, with `ys` and `xs` (the
/// enlargement's sources, [`crate::resample::repeated_inputs`]) listing rows and
/// columns of the image. Bit for bit the descriptors of the enlarged image, which is
/// never made: each block's sums weigh the few pixels it covers by their repeats.
pub fn enlarged_cell_descriptors(
    image: &[u8],
    shape: [usize; 2],
    [ys, xs]: [&[usize]; 2],
    cells: [usize; 2],
    space: Space,
) -> CoreResult<Vec<i16>> {
    let [height, width] = shape;
    check_image(image, shape)?;
    if ys.iter().any(|&y| y >= height) || xs.iter().any(|&x| x >= width) {
        return Err(CoreError::Argument(format!(
            "the enlargement's sources must lie within the {height}x{width} image"
        )));
    }
    let repeated = Repeated {
        image: Rgb {
            pixels: image,
            width,
        },
        ys,
        xs,
    };
    describe_cells(&repeated, [ys.len(), xs.len()], cells, space)
}

fn check_image(image: &[u8], [height, width]: [usize; 2]) -> CoreResult<()> {
    if image.len() != height * width * 3 {
        return Err(CoreError::Shape(format!(
            "expected {height}x{width}x3 bytes, got {}",
            image.len()
        )));
    }
    Ok(())
}

/// The descriptors of the `rows x cols` cells of `image`'s `(height, width)` samples.
fn describe_cells(
    image: &impl BlockSums,
    shape: [usize; 2],
    cells: [usize; 2],
    space: Space,
) -> CoreResult<Vec<i16>> {
    let grid = space.grid();
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
    let dim = space.dim();
    let row_bounds = boundaries(height, rows * grid);
    let col_bounds = boundaries(width, cols * grid);
    let mut out = vec![0i16; rows * cols * dim];
    out.par_chunks_mut(dim)
        .enumerate()
        .for_each(|(cell, descriptor)| {
            let (r, c) = (cell / cols, cell % cols);
            describe_in(
                image,
                space,
                &row_bounds[r * grid..=(r + 1) * grid],
                &col_bounds[c * grid..=(c + 1) * grid],
                descriptor,
            );
        });
    Ok(out)
}

/// Rec. 601 luma weights of R, G and B in thousandths: integer luma sums stay exact.
const LUMA_MILLI: [u64; 3] = [299, 587, 114];
/// The same weights as fractions (each the double nearest its thousandths), for the
/// `ylab` luma grid and the perceptual hash.
pub(crate) const LUMA: [f64; 3] = [
    LUMA_MILLI[0] as f64 / 1000.0,
    LUMA_MILLI[1] as f64 / 1000.0,
    LUMA_MILLI[2] as f64 / 1000.0,
];
/// Most pixels a tile may have for [`luma_spread`]'s sum of squared luma (at most
/// `255,000^2` a pixel) to fit in a `u64`: about 280 million.
const MAX_SPREAD_AREA: u64 = u64::MAX / (255_000 * 255_000);

/// The standard deviation of the Rec. 601 luma (0-255) over every pixel of each of
/// `n` tiles stored row-major as `(n, height, width, 3)` bytes: how flat each tile
/// is (`matching.flat_tiles`). The sums are taken in integers (luma in thousandths,
/// in `u64` for tiles of up to [`MAX_SPREAD_AREA`] pixels) and the variance
/// `(n S2 - S1^2) / n^2` in `u128`, so the figure is exact up to the final square
/// root.
pub fn luma_spread(tiles: &[u8], shape: [usize; 3]) -> CoreResult<Vec<f32>> {
    let [n, height, width] = shape;
    let area = height * width;
    if area == 0 || area as u64 > MAX_SPREAD_AREA {
        return Err(CoreError::Shape(format!(
            "tiles of {height}x{width} pixels: expected 1 to {MAX_SPREAD_AREA} pixels"
        )));
    }
    if tiles.len() != n * area * 3 {
        return Err(CoreError::Shape(format!(
            "expected {n} tiles of {height}x{width}x3 bytes, got {} bytes",
            tiles.len()
        )));
    }
    Ok(tiles
        .par_chunks(area * 3)
        .map(|pixels| {
            let (mut sum, mut squares) = (0u64, 0u64);
            for p in pixels.chunks_exact(3) {
                let y = LUMA_MILLI[0] * u64::from(p[0])
                    + LUMA_MILLI[1] * u64::from(p[1])
                    + LUMA_MILLI[2] * u64::from(p[2]);
                sum += y;
                squares += y * y;
            }
            let count = area as u128;
            let spread = count * u128::from(squares) - u128::from(sum) * u128::from(sum);
            ((spread as f64).sqrt() / (count as f64) / 1000.0) as f32
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::solid;

    #[test]
    fn the_luma_weights_are_rec_601s() {
        assert_eq!(LUMA, [0.299, 0.587, 0.114]);
    }

    #[test]
    fn luma_spread_is_the_standard_deviation_of_every_pixels_luma() {
        // A solid tile does not vary; black and white halves vary by half the range
        // of luma; one odd pixel out of four by sqrt(3)/4 of its difference.
        assert_eq!(
            luma_spread(&solid(2, 4, [90, 140, 30]), [2, 4, 4]).unwrap(),
            [0.0, 0.0]
        );
        let mut halves = solid(1, 4, [0, 0, 0]);
        halves[24..].fill(255);
        assert_eq!(luma_spread(&halves, [1, 4, 4]).unwrap(), [127.5]);
        let mut odd = solid(1, 2, [10, 10, 10]);
        odd[..3].copy_from_slice(&[255, 0, 0]); // luma 0.299 * 255 = 76.245
        let expected = (76.245f64 - 10.0) * 3f64.sqrt() / 4.0;
        let got = f64::from(luma_spread(&odd, [1, 2, 2]).unwrap()[0]);
        assert!((got - expected).abs() < 1e-4, "{got} against {expected}");
        // Wrong sizes are refused.
        assert!(luma_spread(&odd, [2, 2, 2]).is_err());
        assert!(luma_spread(&[], [0, 0, 4]).is_err());
    }

    #[test]
    fn lin16_endpoints_and_midpoint() {
        assert_eq!(LIN16[0], 0);
        assert_eq!(LIN16[255], 65535);
        // lin(128/255) = ((128/255 + 0.055) / 1.055)^2.4 = 0.2158605...
        assert_eq!(LIN16[128], 14146);
    }

    #[test]
    fn black_white_and_red_have_known_lab() {
        let d = tile_descriptors(&solid(1, 4, [0, 0, 0]), [1, 4, 4], Space::Lab(1)).unwrap();
        assert_eq!(d, vec![0, 0, 0]);
        let d = tile_descriptors(&solid(1, 4, [255, 255, 255]), [1, 4, 4], Space::Lab(1)).unwrap();
        assert_eq!(d, vec![400, 0, 0]);
        // sRGB red is L*a*b* (53.24, 80.09, 67.20).
        let d = tile_descriptors(&solid(1, 4, [255, 0, 0]), [1, 4, 4], Space::Lab(1)).unwrap();
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
        let d = tile_descriptors(&px, [1, 2, 2], Space::Lab(2)).unwrap();
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
        for space in [Space::Lab(grid), Space::Ylab(2), Space::Ylab(6)] {
            let expected = tile_descriptors(&tiles, [4, size, size], space).unwrap();
            let got = cell_descriptors(&image, [2 * size, 2 * size], [2, 2], space).unwrap();
            assert_eq!(got, expected);
        }
    }

    #[test]
    fn enlarged_cells_are_those_of_the_resized_image() {
        use crate::resample::{repeated_inputs, resize, Filter, PassOrder};
        use crate::testdata::noise;
        let (h, w) = (13, 19);
        let px = noise(h * w * 3, 5);
        // Enlargements by whole and fractional factors, one axis unchanged, and cells
        // whose blocks cover a part of a pixel or several.
        for (oh, ow, rows, cols, grid) in [
            (52, 76, 2, 2, 4),
            (64, 96, 2, 3, 8),
            (13, 60, 1, 5, 2),
            (40, 19, 5, 1, 2),
            (100, 70, 3, 2, 6),
        ] {
            let ys = repeated_inputs(h, oh, Filter::Box).unwrap();
            let xs = repeated_inputs(w, ow, Filter::Box).unwrap();
            let resized = resize(
                &px,
                [1, h, w],
                [oh, ow],
                0..oh,
                PassOrder::Pillow13,
                Filter::Box,
            )
            .unwrap();
            for space in [Space::Lab(grid), Space::Ylab(grid)] {
                let expected = cell_descriptors(&resized, [oh, ow], [rows, cols], space).unwrap();
                let got = enlarged_cell_descriptors(&px, [h, w], [&ys, &xs], [rows, cols], space)
                    .unwrap();
                assert_eq!(got, expected, "{oh}x{ow} {space:?}");
            }
        }
        assert!(repeated_inputs(h, 10, Filter::Box).is_none());
        assert!(repeated_inputs(h, 40, Filter::Lanczos).is_none());
        let outside = [0, h];
        assert!(matches!(
            enlarged_cell_descriptors(&px, [h, w], [&outside, &[0, 1]], [1, 1], Space::Lab(1)),
            Err(CoreError::Argument(_))
        ));
    }

    #[test]
    fn bad_arguments_are_errors_not_panics() {
        let px = solid(1, 4, [1, 2, 3]);
        assert!(matches!(Space::new("lab", 0), Err(CoreError::Argument(_))));
        assert!(matches!(Space::new("ylab", 5), Err(CoreError::Argument(_))));
        assert!(matches!(Space::new("rgb", 4), Err(CoreError::Argument(_))));
        assert!(matches!(
            tile_descriptors(&px, [1, 4, 4], Space::Lab(5)),
            Err(CoreError::Shape(_))
        ));
        assert!(matches!(
            tile_descriptors(&px, [2, 4, 4], Space::Lab(2)),
            Err(CoreError::Shape(_))
        ));
        assert!(matches!(
            cell_descriptors(&px, [4, 4], [3, 3], Space::Lab(2)),
            Err(CoreError::Shape(_))
        ));
        assert!(matches!(
            cell_descriptors(&px, [4, 4], [0, 1], Space::Lab(1)),
            Err(CoreError::Argument(_))
        ));
    }

    #[test]
    fn ylab_of_solid_colours_is_known() {
        // White: luma 100 (400 quarter units), a* = b* = 0.
        let d = tile_descriptors(&solid(1, 4, [255, 255, 255]), [1, 4, 4], Space::Ylab(2)).unwrap();
        assert_eq!(d, vec![400, 400, 400, 400, 0, 0]);
        // Red: luma 0.299 * 255 (119.6 units), a* = 80.09, b* = 67.20 (x 5.6).
        let d = tile_descriptors(&solid(1, 4, [255, 0, 0]), [1, 4, 4], Space::Ylab(2)).unwrap();
        assert_eq!(d, vec![120, 120, 120, 120, 449, 376]);
    }

    #[test]
    fn ylab_colour_blocks_pool_two_by_two_luma_blocks() {
        // A 4x4 tile, left half black, right half white, at g = 4: luma per column,
        // and the two colour blocks of each row of colour blocks neutral.
        let mut px = Vec::new();
        for _ in 0..4 {
            for x in 0..4 {
                let v = if x < 2 { 0 } else { 255 };
                px.extend([v, v, v]);
            }
        }
        let d = tile_descriptors(&px, [1, 4, 4], Space::Ylab(4)).unwrap();
        assert_eq!(d.len(), 24);
        assert_eq!(&d[..4], &[0, 0, 400, 400]);
        assert!(d[16..].iter().all(|&v| v == 0));
    }
}
