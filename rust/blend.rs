//! Colour blending of tiles toward the target cells they cover: a statistics
//! transfer in CIELAB (D65, the conversion of `descriptors`). Per tile and per
//! Lab channel, the mean `mu_t` and standard deviation `sd_t` of the tile and
//! `mu_c`, `sd_c` of its target region are taken, and every tile pixel moves
//! toward the target's statistics by `alpha`:
//! `x' = x + alpha * ((x - mu_t) * sd_c / sd_t + mu_c - x)`.
//! A flat tile channel (`sd_t` below [`FLAT_SD`]) has no spread to rescale, so
//! only its mean moves; the stretch `sd_c / sd_t` is capped at [`MAX_STRETCH`]. The result goes back through Lab -> XYZ -> linear ->
//! sRGB, clipped and rounded to the nearest 8-bit value.
//!
//! Cost per pixel: two sRGB -> Lab conversions (tile and target: a table
//! look-up per channel, a 3x3 product and three cube roots by `powf`, which the
//! descriptors' exactness requires) and one Lab -> sRGB conversion (three
//! cubes, a 3x3 product and, per channel, the count of rounding thresholds
//! below the value: read from a table by bin, plus one comparison, instead of a
//! power or an 8-step binary search), all in `f64`; two passes over the tile's
//! Lab values for the statistics. The cube roots were 60% of the time (about
//! 100 ns per pixel on one core); a memo of recent colours ([`LabMemo`]) skips
//! most of the target's, whose cells are smooth, and the painter
//! (`crate::render`) converts each distinct tile once for all the cells that
//! show it (`blend_into`). The transfer, the Lab -> sRGB conversion and the
//! encoding's bins run on four pixels at a time, written as loops over
//! fixed-size arrays that the compiler turns into vector instructions (SSE2's
//! two `f64` lanes on the baseline x86-64), each lane rounded as the scalar
//! code rounds: the same bits, and the first mosaic's paint about 1.4x faster
//! on one core than one pixel at a time. Scratch is two Lab buffers of one
//! tile and two memos per worker. Tiles are independent and run in parallel
//! on the current rayon pool; each tile's arithmetic is sequential, so the
//! result does not depend on the number of threads.

use std::sync::LazyLock;

use rayon::prelude::*;

use crate::descriptors::{linear_rgb_to_lab, srgb_to_linear, WHITE};
use crate::error::{CoreError, CoreResult};

/// Standard deviation (CIELAB units) below which a tile channel counts as flat.
/// Far below one just-noticeable difference (~1 unit), yet far above the
/// ~1e-5 spread that floating-point rounding gives the a* and b* of grey
/// pixels, which would otherwise be blown up into false colour.
pub const FLAT_SD: f64 = 0.01;
/// Largest factor by which a tile's spread is stretched: a nearly flat channel
/// (JPEG noise on grey) would otherwise have its noise blown up into speckles
/// to match a busy cell. Shrinking is not limited.
pub const MAX_STRETCH: f64 = 4.0;

/// 8-bit sRGB value to linear light, `lin(v / 255)`.
static LINEAR: LazyLock<[f64; 256]> = LazyLock::new(|| {
    let mut table = [0.0; 256];
    for (v, entry) in table.iter_mut().enumerate() {
        *entry = srgb_to_linear(v as f64 / 255.0);
    }
    table
});

/// `ROUNDING[k - 1] = lin((k - 0.5) / 255)`: the linear value from which the
/// nearest 8-bit sRGB value is `k` rather than `k - 1`. Counting the
/// thresholds at or below a linear value encodes, clips and rounds it at once.
static ROUNDING: LazyLock<[f64; 255]> = LazyLock::new(|| {
    let mut table = [0.0; 255];
    for (k, entry) in table.iter_mut().enumerate() {
        *entry = srgb_to_linear((k as f64 + 0.5) / 255.0);
    }
    table
});

/// XYZ (D65) to linear sRGB: the inverse of the matrix of `linear_rgb_to_lab`
/// (the sRGB primaries, as published with it by B. Lindbloom).
const XYZ_TO_RGB: [[f64; 3]; 3] = [
    [3.2404542, -1.5371385, -0.4985314],
    [-0.9692660, 1.8760108, 0.0415560],
    [0.0556434, -0.2040259, 1.0572252],
];

fn srgb8_to_lab(px: &[u8]) -> [f64; 3] {
    let lin = &*LINEAR;
    linear_rgb_to_lab(
        lin[usize::from(px[0])],
        lin[usize::from(px[1])],
        lin[usize::from(px[2])],
    )
}

/// Pixels converted together (two SSE2 registers of `f64` per channel).
const LANES: usize = 4;

/// One channel of [`LANES`] pixels.
type Lanes = [f64; LANES];

/// Inverse of the CIELAB companding function, lane by lane (both branches
/// computed, one kept: the select vectorises, a branch would not). Every
/// lane-by-lane loop here is written over fixed-size arrays so that the
/// compiler turns it into vector instructions, which round each lane as the
/// scalar operation would (IEEE 754; Rust never contracts `a * b + c` into a
/// fused multiply-add): the pixels are the same bits on every path.
#[inline(always)]
fn lab_f_inverse(t: Lanes) -> Lanes {
    let delta = 6.0 / 29.0;
    let mut out = [0.0; LANES];
    for (o, t) in out.iter_mut().zip(t) {
        let (cube, line) = (t * t * t, 3.0 * delta * delta * (t - 4.0 / 29.0));
        *o = if t > delta { cube } else { line };
    }
    out
}

/// CIELAB (D65) to linear sRGB, not clipped, of [`LANES`] pixels (one array
/// per channel).
#[inline(always)]
fn lab_to_linear_rgb([l, a, b]: [Lanes; 3]) -> [Lanes; 3] {
    let (mut fx, mut fy, mut fz) = ([0.0; LANES], [0.0; LANES], [0.0; LANES]);
    for i in 0..LANES {
        fy[i] = (l[i] + 16.0) / 116.0;
        fx[i] = fy[i] + a[i] / 500.0;
        fz[i] = fy[i] - b[i] / 200.0;
    }
    let xyz = [lab_f_inverse(fx), lab_f_inverse(fy), lab_f_inverse(fz)];
    let mut rgb = [[0.0; LANES]; 3];
    for (out, row) in rgb.iter_mut().zip(XYZ_TO_RGB) {
        for i in 0..LANES {
            let (x, y, z) = (
                WHITE[0] * xyz[0][i],
                WHITE[1] * xyz[1][i],
                WHITE[2] * xyz[2][i],
            );
            out[i] = row[0] * x + row[1] * y + row[2] * z;
        }
    }
    rgb
}

/// log2 of the bins of [`FIRST_ABOVE`] over the linear range `0..1`.
const BIN_BITS: u32 = 12;

/// `FIRST_ABOVE[b]`: how many [`ROUNDING`] thresholds lie at or below `b / 4096`,
/// the count [`linear_to_srgb8`] starts from for a value in bin `b`. The
/// thresholds are at least `1 / (255 * 12.92)` (about 1/3,300) apart, wider
/// than a bin, so at most one lies inside a bin.
static FIRST_ABOVE: LazyLock<[u8; 1 << BIN_BITS]> = LazyLock::new(|| {
    let mut table = [0; 1 << BIN_BITS];
    for (b, entry) in table.iter_mut().enumerate() {
        let start = b as f64 / f64::from(1u32 << BIN_BITS);
        *entry = ROUNDING.partition_point(|&t| t <= start) as u8;
    }
    table
});

/// [`ROUNDING`] and, after it, a threshold no value reaches (NaN: `NaN <= v`
/// is false even for an infinite `v`), so that the threshold after any count
/// up to 255 can be read and tested alike.
static ROUNDING_PADDED: LazyLock<[f64; 256]> = LazyLock::new(|| {
    let mut table = [f64::NAN; 256];
    table[..255].copy_from_slice(&*ROUNDING);
    table
});

/// Nearest 8-bit sRGB value of a linear value, clipped to 0..=255: the number
/// of [`ROUNDING`] thresholds at or below `v` (the same count as a binary
/// search), as the count at the start of its bin plus the one threshold that
/// may lie between that start and `v`.
#[cfg(test)]
fn linear_to_srgb8(v: f64) -> u8 {
    Encoder::new().encode([v; LANES])[0]
}

/// [`linear_to_srgb8`] with its tables looked up once, for a loop over pixels.
#[derive(Clone, Copy)]
struct Encoder {
    first_above: &'static [u8; 1 << BIN_BITS],
    rounding: &'static [f64; 256],
}

impl Encoder {
    fn new() -> Self {
        Self {
            first_above: &FIRST_ABOVE,
            rounding: &ROUNDING_PADDED,
        }
    }

    /// [`linear_to_srgb8`] of [`LANES`] values. Scaling by a power of two is
    /// exact, so `bin / 4096 <= v` for every `v` in `0..1`; the bin is clamped
    /// before the conversion (so it vectorises without saturation checks):
    /// NaN and negative values go to bin 0 (count 0, and the comparison below is
    /// false for them), values of 1 and above to the last bin, whose count is
    /// already all 255 thresholds.
    #[inline(always)]
    fn encode(self, v: Lanes) -> [u8; LANES] {
        let last = f64::from((1u32 << BIN_BITS) - 1);
        let mut bins = [0u32; LANES];
        for (bin, v) in bins.iter_mut().zip(v) {
            *bin = (v * f64::from(1u32 << BIN_BITS)).max(0.0).min(last) as u32;
        }
        let mut out = [0; LANES];
        for ((o, bin), v) in out.iter_mut().zip(bins).zip(v) {
            let count = self.first_above[bin as usize];
            *o = count + u8::from(self.rounding[usize::from(count)] <= v);
        }
        out
    }
}

/// Per-channel mean and population standard deviation of Lab values.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LabStats {
    mean: [f64; 3],
    sd: [f64; 3],
}

impl LabStats {
    /// Two passes (mean, then squared deviations) for accuracy.
    pub(crate) fn of(values: &[[f64; 3]]) -> Self {
        let count = values.len() as f64;
        let mut mean = [0.0; 3];
        for lab in values {
            for (m, v) in mean.iter_mut().zip(lab) {
                *m += v;
            }
        }
        mean = mean.map(|s| s / count);
        let mut squares = [0.0; 3];
        for lab in values {
            for ((s, v), m) in squares.iter_mut().zip(lab).zip(mean) {
                *s += (v - m) * (v - m);
            }
        }
        Self {
            mean,
            sd: squares.map(|s| (s / count).sqrt()),
        }
    }
}

/// The per-channel move of one tile's Lab values toward its target's statistics.
struct Transfer {
    alpha: f64,
    tile_mean: [f64; 3],
    target_mean: [f64; 3],
    /// `sd_c / sd_t` (at most [`MAX_STRETCH`]), or 1 for a flat tile channel.
    scale: [f64; 3],
}

impl Transfer {
    fn new(tile: LabStats, target: LabStats, alpha: f64) -> Self {
        let mut scale = [1.0; 3];
        for ((s, sd_t), sd_c) in scale.iter_mut().zip(tile.sd).zip(target.sd) {
            if sd_t >= FLAT_SD {
                *s = (sd_c / sd_t).min(MAX_STRETCH);
            }
        }
        Self {
            alpha,
            tile_mean: tile.mean,
            target_mean: target.mean,
            scale,
        }
    }

    /// The move of [`LANES`] pixels' Lab values (one array per channel).
    #[inline(always)]
    fn apply(&self, lab: [Lanes; 3]) -> [Lanes; 3] {
        let mut out = lab;
        for (c, lanes) in out.iter_mut().enumerate() {
            for x in lanes.iter_mut() {
                let matched = (*x - self.tile_mean[c]) * self.scale[c] + self.target_mean[c];
                *x += self.alpha * (matched - *x);
            }
        }
        out
    }

    /// Blends [`LANES`] pixels' Lab values into their RGB bytes.
    #[inline(always)]
    fn blend_lanes(&self, encoder: Encoder, pixels: &[[f64; 3]; LANES], out: &mut [u8; 3 * LANES]) {
        let lab = std::array::from_fn(|c| pixels.map(|px| px[c]));
        let rgb = lab_to_linear_rgb(self.apply(lab));
        for (c, channel) in rgb.iter().enumerate() {
            for (i, value) in encoder.encode(*channel).into_iter().enumerate() {
                out[i * 3 + c] = value;
            }
        }
    }

    /// Blends rows of Lab values into `lines` of RGB bytes, [`LANES`] pixels at
    /// a time (a row's last few padded with copies of the first of them).
    #[inline(always)]
    fn blend_rows(&self, tile: &[[f64; 3]], lines: &mut [&mut [u8]]) {
        let width = lines.first().map_or(1, |line| line.len() / 3).max(1);
        let encoder = Encoder::new();
        for (line, row) in lines.iter_mut().zip(tile.chunks_exact(width)) {
            let mut pixels = row.chunks_exact(LANES);
            let mut bytes = line.chunks_exact_mut(3 * LANES);
            for (px, out) in (&mut pixels).zip(&mut bytes) {
                // `chunks_exact` gives exactly `LANES` pixels and `3 * LANES` bytes.
                let (px, out) = (px.try_into().unwrap(), out.try_into().unwrap());
                self.blend_lanes(encoder, px, out);
            }
            let rest = pixels.remainder();
            if let Some(&first) = rest.first() {
                let mut px = [first; LANES];
                px[..rest.len()].copy_from_slice(rest);
                let mut out = [0; 3 * LANES];
                self.blend_lanes(encoder, &px, &mut out);
                let tail = bytes.into_remainder();
                tail.copy_from_slice(&out[..tail.len()]);
            }
        }
    }
}

/// Reusable Lab buffers of one tile and its target region, and memos of the
/// conversion of their colours.
#[derive(Default)]
pub(crate) struct Scratch {
    pub(crate) tile: Vec<[f64; 3]>,
    pub(crate) target: Vec<[f64; 3]>,
    pub(crate) tile_colours: LabMemo,
    pub(crate) target_colours: LabMemo,
}

/// log2 of the entries of a [`LabMemo`] (4,096 entries, 112 kB).
const MEMO_BITS: u32 = 12;

/// A direct-mapped memo of [`srgb8_to_lab`], a pure function of the 24-bit
/// colour: a hit returns the very value the conversion gives, so the memo
/// changes no result, only the time. It pays because the target under a cell
/// is smooth (about 250 distinct colours in 2,500 pixels of a 50-px cell of the
/// upscaled target), and neighbouring cells share colours; the three powers of
/// a conversion are 60% of the blend's time.
pub(crate) struct LabMemo {
    /// The colour in each entry (`u32::MAX`: empty; colours are below 2^24).
    keys: Vec<u32>,
    values: Vec<[f64; 3]>,
}

impl Default for LabMemo {
    fn default() -> Self {
        Self {
            keys: vec![u32::MAX; 1 << MEMO_BITS],
            values: vec![[0.0; 3]; 1 << MEMO_BITS],
        }
    }
}

impl LabMemo {
    fn lab(&mut self, px: &[u8]) -> [f64; 3] {
        let key = u32::from(px[0]) << 16 | u32::from(px[1]) << 8 | u32::from(px[2]);
        // Fibonacci hashing: the top bits of the product spread nearby colours.
        let slot = (key.wrapping_mul(0x9E37_79B1) >> (32 - MEMO_BITS)) as usize;
        if self.keys[slot] != key {
            self.keys[slot] = key;
            self.values[slot] = srgb8_to_lab(px);
        }
        self.values[slot]
    }

    /// The Lab values of `rows` of RGB bytes, in order, into `out`.
    pub(crate) fn fill<'a>(
        &mut self,
        rows: impl IntoIterator<Item = &'a [u8]>,
        out: &mut Vec<[f64; 3]>,
    ) {
        out.clear();
        for row in rows {
            out.extend(row.chunks_exact(3).map(|px| self.lab(px)));
        }
    }
}

/// Blends one tile (`tile` and `out` are its RGB bytes, `width` pixels wide;
/// `target` its region's, `target_width` pixels wide).
fn blend_tile(
    tile: &[u8],
    target: &[u8],
    [width, target_width]: [usize; 2],
    alpha: f64,
    scratch: &mut Scratch,
    out: &mut [u8],
) {
    scratch.tile_colours.fill([tile], &mut scratch.tile);
    let stats = LabStats::of(&scratch.tile);
    let mut lines: Vec<&mut [u8]> = out.chunks_exact_mut(width * 3).collect();
    let Scratch {
        tile: lab,
        target: target_lab,
        target_colours,
        ..
    } = scratch;
    let target_rows = target.chunks_exact(target_width * 3);
    blend_into(
        lab,
        stats,
        target_rows,
        alpha,
        target_colours,
        target_lab,
        &mut lines,
    );
}

/// Blends a tile whose Lab values `tile` (row-major, `lines[0].len() / 3`
/// pixels a row) have the statistics `stats` toward the RGB rows `target`,
/// writing its rows into `lines`; `colours` and `lab` are scratch. The tile's
/// Lab values may be reused for every cell that shows it, as `render` does.
pub(crate) fn blend_into<'a>(
    tile: &[[f64; 3]],
    stats: LabStats,
    target: impl IntoIterator<Item = &'a [u8]>,
    alpha: f64,
    colours: &mut LabMemo,
    lab: &mut Vec<[f64; 3]>,
    lines: &mut [&mut [u8]],
) {
    colours.fill(target, lab);
    let transfer = Transfer::new(stats, LabStats::of(lab), alpha);
    transfer.blend_rows(tile, lines);
}

fn check_alpha(alpha: f32) -> CoreResult<()> {
    check_fraction("alpha", alpha)
}

/// An error unless `value` (named `name`) is within `0..=1`.
pub(crate) fn check_fraction(name: &str, value: f32) -> CoreResult<()> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(CoreError::Argument(format!(
            "{name} must be between 0 and 1, got {value}"
        )))
    }
}

/// Blends `n` tiles stored row-major as `(n, height, width, 3)` sRGB bytes
/// toward `targets` of the same shape (`targets[i]` is the region of the
/// target image that tile `i` covers) by `alpha` in `0..=1`. Returns the
/// blended tiles in the same layout; `alpha == 0` returns them unchanged.
pub fn blend_tiles(
    tiles: &[u8],
    targets: &[u8],
    shape: [usize; 3],
    alpha: f32,
) -> CoreResult<Vec<u8>> {
    blend_tiles_toward(tiles, targets, shape, [shape[1], shape[2]], alpha)
}

/// [`blend_tiles`] with the target regions at another resolution of the same
/// aspect: `targets` is `(n, target_height, target_width, 3)`, and each
/// tile's statistics move toward those of its region at that resolution.
pub fn blend_tiles_toward(
    tiles: &[u8],
    targets: &[u8],
    shape: [usize; 3],
    [target_height, target_width]: [usize; 2],
    alpha: f32,
) -> CoreResult<Vec<u8>> {
    check_alpha(alpha)?;
    let [n, height, width] = shape;
    let tile_len = height * width * 3;
    let target_len = target_height * target_width * 3;
    if n > 0 && (tile_len == 0 || target_len == 0) {
        return Err(CoreError::Shape(format!(
            "tiles and targets must have at least one pixel, got {height}x{width} and \
             {target_height}x{target_width}"
        )));
    }
    if tiles.len() != n * tile_len {
        return Err(CoreError::Shape(format!(
            "expected {n} tiles of {height}x{width}x3 bytes, got {} bytes",
            tiles.len()
        )));
    }
    if targets.len() != n * target_len || target_height * width != target_width * height {
        return Err(CoreError::Shape(format!(
            "targets must be {n} regions of the tiles' aspect ({height}x{width}), got {} bytes \
             of {target_height}x{target_width}",
            targets.len()
        )));
    }
    if alpha == 0.0 || n == 0 {
        return Ok(tiles.to_vec());
    }
    let alpha = f64::from(alpha);
    let mut out = vec![0u8; tiles.len()];
    out.par_chunks_mut(tile_len)
        .zip(tiles.par_chunks(tile_len))
        .zip(targets.par_chunks(target_len))
        .for_each_init(Scratch::default, |scratch, ((out, tile), target)| {
            blend_tile(tile, target, [width, target_width], alpha, scratch, out);
        });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::{noise_in, solid};

    fn lab_stats(pixels: &[u8]) -> LabStats {
        let lab: Vec<_> = pixels.chunks_exact(3).map(srgb8_to_lab).collect();
        LabStats::of(&lab)
    }

    #[test]
    fn every_srgb_value_survives_the_round_trip() {
        for v in 0..=255u8 {
            let lab = srgb8_to_lab(&[v, v / 2, 255 - v]).map(|c| [c; LANES]);
            let rgb = lab_to_linear_rgb(lab).map(|c| linear_to_srgb8(c[0]));
            assert_eq!(rgb, [v, v / 2, 255 - v]);
        }
    }

    #[test]
    fn encoding_counts_the_thresholds_as_a_binary_search_does() {
        let search = |v: f64| ROUNDING.partition_point(|&t| t <= v) as u8;
        let mut values = vec![0.0, 1.0, -1e-300, 1.0 + 1e-12, f64::INFINITY, 5e-5];
        for &t in ROUNDING.iter() {
            values.extend([t, t.next_down(), t.next_up()]);
        }
        for b in 0..=(1u32 << BIN_BITS) {
            let edge = f64::from(b) / f64::from(1u32 << BIN_BITS);
            values.extend([edge, edge.next_down(), edge.next_up()]);
        }
        values.extend((0..100_000).map(|i| f64::from(i) / 99_999.0));
        for v in values {
            assert_eq!(linear_to_srgb8(v), search(v), "{v}");
        }
    }

    #[test]
    fn pixels_blended_in_lanes_are_blended_as_alone() {
        // 7 pixels a row: one group of `LANES` and a padded remainder; a
        // stretch and a shift that push some colours out of the gamut.
        let (width, height) = (7, 5);
        let tile = noise_in(width * height * 3, 9, 0, 255);
        let target = noise_in(width * height * 3, 10, 30, 220);
        let lab: Vec<_> = tile.chunks_exact(3).map(srgb8_to_lab).collect();
        let target_lab: Vec<_> = target.chunks_exact(3).map(srgb8_to_lab).collect();
        let mut stats = LabStats::of(&target_lab);
        stats.sd = stats.sd.map(|sd| sd * 3.0);
        stats.mean[0] += 40.0;
        let transfer = Transfer::new(LabStats::of(&lab), stats, 0.8);
        let alone: Vec<u8> = lab
            .iter()
            .flat_map(|px| {
                let moved = transfer.apply(px.map(|c| [c; LANES]));
                lab_to_linear_rgb(moved).map(|c| linear_to_srgb8(c[0]))
            })
            .collect();
        assert!(alone.contains(&255) && alone.contains(&0));
        let mut out = vec![0; alone.len()];
        let mut lines: Vec<&mut [u8]> = out.chunks_exact_mut(width * 3).collect();
        transfer.blend_rows(&lab, &mut lines);
        assert_eq!(out, alone);
    }

    #[test]
    fn encoding_clips_and_rounds_to_nearest() {
        assert_eq!(linear_to_srgb8(-0.5), 0);
        assert_eq!(linear_to_srgb8(f64::NAN), 0);
        assert_eq!(linear_to_srgb8(1.5), 255);
        assert_eq!(linear_to_srgb8(srgb_to_linear(100.4 / 255.0)), 100);
        assert_eq!(linear_to_srgb8(srgb_to_linear(100.6 / 255.0)), 101);
    }

    #[test]
    fn alpha_zero_is_the_identity_and_one_matches_the_target() {
        let (n, size) = (3, 8);
        let tiles = noise_in(n * size * size * 3, 1, 40, 200);
        let targets = noise_in(n * size * size * 3, 2, 10, 120);
        let shape = [n, size, size];
        assert_eq!(blend_tiles(&tiles, &targets, shape, 0.0).unwrap(), tiles);
        let out = blend_tiles(&tiles, &targets, shape, 1.0).unwrap();
        let len = size * size * 3;
        for i in 0..n {
            let got = lab_stats(&out[i * len..(i + 1) * len]);
            let want = lab_stats(&targets[i * len..(i + 1) * len]);
            for c in 0..3 {
                assert!((got.mean[c] - want.mean[c]).abs() < 0.5, "{got:?} {want:?}");
                assert!(
                    (got.sd[c] / want.sd[c] - 1.0).abs() < 0.05,
                    "{got:?} {want:?}"
                );
            }
        }
    }

    #[test]
    fn a_smaller_target_region_gives_its_own_statistics() {
        let (n, size, side) = (3, 8, 4);
        let tiles = noise_in(n * size * size * 3, 5, 40, 200);
        let targets = noise_in(n * side * side * 3, 6, 70, 130);
        let out = blend_tiles_toward(&tiles, &targets, [n, size, size], [side, side], 1.0).unwrap();
        let (len, target_len) = (size * size * 3, side * side * 3);
        for i in 0..n {
            let got = lab_stats(&out[i * len..(i + 1) * len]);
            let want = lab_stats(&targets[i * target_len..(i + 1) * target_len]);
            for c in 0..3 {
                assert!((got.mean[c] - want.mean[c]).abs() < 0.5, "{got:?} {want:?}");
            }
        }
        for bad in [[side, side + 1], [0, 0]] {
            let size = bad[0] * bad[1] * 3 * n;
            assert!(matches!(
                blend_tiles_toward(&tiles, &vec![0; size], [n, 8, 8], bad, 0.5),
                Err(CoreError::Shape(_))
            ));
        }
    }

    #[test]
    fn a_flat_tile_takes_the_flat_target_colour() {
        let out = blend_tiles(
            &solid(1, 4, [30, 60, 90]),
            &solid(1, 4, [200, 150, 20]),
            [1, 4, 4],
            1.0,
        )
        .unwrap();
        for px in out.chunks_exact(3) {
            for (got, want) in px.iter().zip([200u8, 150, 20]) {
                assert!(got.abs_diff(want) <= 1, "{px:?}");
            }
        }
    }

    #[test]
    fn results_do_not_depend_on_the_thread_count() {
        let (n, size) = (17, 5);
        let tiles = noise_in(n * size * size * 3, 3, 0, 255);
        let targets = noise_in(n * size * size * 3, 4, 0, 255);
        let run = |threads| {
            crate::pool::thread_pool(Some(threads))
                .unwrap()
                .install(|| blend_tiles(&tiles, &targets, [n, size, size], 0.6).unwrap())
        };
        assert_eq!(run(1), run(3));
    }

    #[test]
    fn bad_arguments_are_errors_not_panics() {
        let px = solid(2, 4, [1, 2, 3]);
        for alpha in [-0.1, 1.5, f32::NAN] {
            assert!(matches!(
                blend_tiles(&px, &px, [2, 4, 4], alpha),
                Err(CoreError::Argument(_))
            ));
        }
        assert!(matches!(
            blend_tiles(&px, &px, [3, 4, 4], 0.5),
            Err(CoreError::Shape(_))
        ));
        assert!(matches!(
            blend_tiles(&px, &px[..px.len() - 3], [2, 4, 4], 0.5),
            Err(CoreError::Shape(_))
        ));
        assert!(matches!(
            blend_tiles(&[], &[], [2, 0, 4], 0.5),
            Err(CoreError::Shape(_))
        ));
        assert_eq!(
            blend_tiles(&[], &[], [0, 4, 4], 0.5).unwrap(),
            Vec::<u8>::new()
        );
    }
}
