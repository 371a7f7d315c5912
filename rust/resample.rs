//! Lanczos and box resampling of 8-bit RGB images, bit-identical to Pillow's
//! `Image.resize(size, Image.Resampling.LANCZOS)` and `Image.Resampling.BOX`
//! (libImaging/Resample.c), with two additions Pillow lacks: any range of output
//! rows can be computed on its own (the rows of a band of a mosaic, or of the
//! sample grid of a band of cells, without resizing the whole target), and the
//! work runs on the current rayon pool.
//!
//! Pillow's algorithm, reproduced step by step: per axis, every output position
//! `i` has a window of inputs around `center = (i + 0.5) * in / out`, of radius
//! `support * max(in / out, 1)`, weighted by the filter (Lanczos-3,
//! `sinc(x) sinc(x/3)` with support 3; box, 1 on `(-0.5, 0.5]` with support 0.5)
//! evaluated in `f64` with the same expressions, normalised to sum 1 and rounded
//! to 22-bit fixed point. Two passes, each only if its dimension changes, go
//! through 8-bit intermediate rows: horizontal then vertical, except that Pillow
//! 13 (python-pillow/Pillow#9549) runs the vertical pass first when the height
//! shrinks by more than twice as many pixels as the width; the caller says
//! which order its Pillow uses. Each output value is `clip((2^21 + sum(pixel * weight)) >> 22)`, integer
//! arithmetic whose order does not matter, so the result does not depend on the
//! number of threads or on which rows are asked for.

use std::ops::Range;

use rayon::prelude::*;

use crate::error::{CoreError, CoreResult};

/// Fixed-point precision of the weights (Pillow's `PRECISION_BITS`).
const PRECISION_BITS: u32 = 32 - 8 - 2;

/// A resampling filter of Pillow's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filter {
    /// Lanczos-3 (`Image.Resampling.LANCZOS`).
    Lanczos,
    /// Box: the mean of the inputs under each output (`Image.Resampling.BOX`).
    Box,
}

impl Filter {
    /// The filter of Pillow's name, `"lanczos"` or `"box"`.
    pub fn named(name: &str) -> CoreResult<Self> {
        match name {
            "lanczos" => Ok(Self::Lanczos),
            "box" => Ok(Self::Box),
            other => Err(CoreError::Argument(format!(
                "filter must be 'lanczos' or 'box', got {other:?}"
            ))),
        }
    }

    /// Radius of the kernel in input pixels, before scaling.
    fn support(self) -> f64 {
        match self {
            Filter::Lanczos => 3.0,
            Filter::Box => 0.5,
        }
    }

    fn weight(self, x: f64) -> f64 {
        match self {
            Filter::Lanczos => lanczos(x),
            Filter::Box => {
                if x > -0.5 && x <= 0.5 {
                    1.0
                } else {
                    0.0
                }
            }
        }
    }
}

fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        return 1.0;
    }
    let x = x * std::f64::consts::PI;
    x.sin() / x
}

fn lanczos(x: f64) -> f64 {
    if (-3.0..3.0).contains(&x) {
        sinc(x) * sinc(x / 3.0)
    } else {
        0.0
    }
}

/// The fixed-point weights of one axis: output position `i` is the weighted
/// sum of inputs `start[i]..start[i] + len[i]` with weights
/// `weights[i * ksize..][..len[i]]`.
struct Axis {
    ksize: usize,
    start: Vec<usize>,
    len: Vec<usize>,
    weights: Vec<i32>,
}

impl Axis {
    /// Pillow's `precompute_coeffs` and `normalize_coeffs_8bpc` for the whole
    /// input (`box = (0, in_size)`).
    fn new(in_size: usize, out_size: usize, filter: Filter) -> Self {
        // Pillow passes the box as C floats: `(double)(in1 - in0) / outSize`.
        let scale = f64::from(in_size as f32) / out_size as f64;
        let filterscale = if scale < 1.0 { 1.0 } else { scale };
        let support = filter.support() * filterscale;
        let ksize = support.ceil() as usize * 2 + 1;
        let ss = 1.0 / filterscale;
        let mut axis = Axis {
            ksize,
            start: Vec::with_capacity(out_size),
            len: Vec::with_capacity(out_size),
            weights: vec![0; out_size * ksize],
        };
        let mut kernel = vec![0.0f64; ksize];
        for i in 0..out_size {
            let center = (i as f64 + 0.5) * scale;
            // C's (int) truncates toward zero, as `as` does.
            let min = ((center - support + 0.5) as i64).max(0);
            let max = ((center + support + 0.5) as i64).min(in_size as i64);
            // At most `ksize` inputs fall within the support; `min` keeps that explicit.
            let len = ((max - min).max(0) as usize).min(ksize);
            let mut total = 0.0;
            for (x, k) in kernel[..len].iter_mut().enumerate() {
                let w = filter.weight(((x as i64 + min) as f64 - center + 0.5) * ss);
                *k = w;
                total += w;
            }
            let fixed = &mut axis.weights[i * ksize..][..len];
            for (out, k) in fixed.iter_mut().zip(&kernel[..len]) {
                let k = if total != 0.0 { k / total } else { *k };
                let scaled = k * f64::from(1u32 << PRECISION_BITS);
                *out = if k < 0.0 {
                    (-0.5 + scaled) as i32
                } else {
                    (0.5 + scaled) as i32
                };
            }
            axis.start.push(min as usize);
            axis.len.push(len);
        }
        axis
    }

    fn weights(&self, i: usize) -> &[i32] {
        &self.weights[i * self.ksize..][..self.len[i]]
    }

    /// Input positions that output positions `range` read.
    fn inputs(&self, range: &Range<usize>) -> Range<usize> {
        let first = range.clone().map(|i| self.start[i]).min().unwrap_or(0);
        let end = range.clone().map(|i| self.start[i] + self.len[i]).max();
        first..end.unwrap_or(first).max(first)
    }
}

/// The input position each output position of one axis copies, when resizing
/// `in_size` inputs to `out_size` outputs with `filter` copies them: every output
/// is one input at weight 1 (the box filter enlarging, or any size unchanged,
/// where Pillow skips the pass). `None` when some output mixes inputs.
pub fn repeated_inputs(in_size: usize, out_size: usize, filter: Filter) -> Option<Vec<usize>> {
    if in_size == out_size {
        return Some((0..in_size).collect());
    }
    let axis = Axis::new(in_size, out_size, filter);
    let copies = (0..out_size).all(|i| axis.weights(i) == [1 << PRECISION_BITS]);
    copies.then_some(axis.start)
}

/// Pillow's `clip8`: the fixed-point sum to an 8-bit value. The sums are
/// 32-bit in Pillow; wrapping arithmetic keeps that behaviour exactly.
fn clip8(sum: i32) -> u8 {
    (sum >> PRECISION_BITS).clamp(0, 255) as u8
}

const ROUNDING: i32 = 1 << (PRECISION_BITS - 1);

/// One output row of the horizontal pass from one input row.
fn horizontal_row(axis: &Axis, src: &[u8], out: &mut [u8]) {
    for (i, px) in out.chunks_exact_mut(3).enumerate() {
        let mut sums = [ROUNDING; 3];
        let first = axis.start[i] * 3;
        for (x, &k) in axis.weights(i).iter().enumerate() {
            let p = &src[first + 3 * x..][..3];
            for (s, &v) in sums.iter_mut().zip(p) {
                *s = s.wrapping_add(i32::from(v).wrapping_mul(k));
            }
        }
        for (o, s) in px.iter_mut().zip(sums) {
            *o = clip8(s);
        }
    }
}

/// Bytes of an output row whose vertical sums are kept at once (4 kB of sums).
const VERTICAL_BLOCK: usize = 1024;

/// One output row of the vertical pass: `rows[j]` is input row `first + j`.
/// The sums are taken an input row at a time over a block of the row, so that
/// the inner loop runs along contiguous bytes (vector instructions) rather than
/// down a column; wrapping integer sums are the same in any order.
fn vertical_row(weights: &[i32], rows: &[&[u8]], out: &mut [u8]) {
    for (b, out) in out.chunks_mut(VERTICAL_BLOCK).enumerate() {
        let start = b * VERTICAL_BLOCK;
        let mut sums = [ROUNDING; VERTICAL_BLOCK];
        let sums = &mut sums[..out.len()];
        for (row, &k) in rows.iter().zip(weights) {
            let inputs = &row[start..start + out.len()];
            for (s, &v) in sums.iter_mut().zip(inputs) {
                *s = s.wrapping_add(i32::from(v).wrapping_mul(k));
            }
        }
        for (o, &s) in out.iter_mut().zip(sums.iter()) {
            *o = clip8(s);
        }
    }
}

/// Applies `f(index, row)` to every `row_len`-byte row of `out`, in parallel
/// on the current pool when `parallel`.
fn for_rows(
    out: &mut [u8],
    row_len: usize,
    parallel: bool,
    f: impl Fn(usize, &mut [u8]) + Send + Sync,
) {
    if parallel {
        out.par_chunks_mut(row_len)
            .enumerate()
            .for_each(|(i, row)| f(i, row));
    } else {
        out.chunks_mut(row_len)
            .enumerate()
            .for_each(|(i, row)| f(i, row));
    }
}

/// Which pass runs first when both the width and the height change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PassOrder {
    /// Horizontal, then vertical: every Pillow before 13.
    HorizontalFirst,
    /// Pillow 13's rule: vertical first when `height - out_height > 0` and
    /// `height - out_height > 2 * (width - out_width)`, else horizontal first.
    Pillow13,
}

/// Resizing of images of one input size to one output size.
struct Plan {
    /// Input `[height, width]`.
    input: [usize; 2],
    /// Output `[height, width]`.
    output: [usize; 2],
    /// `None` when the width (height) does not change: Pillow skips that pass.
    horizontal: Option<Axis>,
    vertical: Option<Axis>,
    vertical_first: bool,
}

impl Plan {
    fn new(input: [usize; 2], output: [usize; 2], order: PassOrder, filter: Filter) -> Self {
        let [h, w] = input;
        let [oh, ow] = output;
        let (shrink_h, shrink_w) = (h as i64 - oh as i64, w as i64 - ow as i64);
        Plan {
            input,
            output,
            horizontal: (ow != w).then(|| Axis::new(w, ow, filter)),
            vertical: (oh != h).then(|| Axis::new(h, oh, filter)),
            vertical_first: order == PassOrder::Pillow13 && shrink_h > 0 && shrink_h > 2 * shrink_w,
        }
    }

    /// Output rows `rows` of one image `src` into `out`.
    fn resize(&self, src: &[u8], rows: &Range<usize>, parallel: bool, out: &mut [u8]) {
        let in_row = self.input[1] * 3;
        let out_row = self.output[1] * 3;
        let source_row = |y: usize| &src[y * in_row..][..in_row];
        match (&self.horizontal, &self.vertical) {
            (None, None) => {
                for (row, y) in out.chunks_exact_mut(out_row).zip(rows.clone()) {
                    row.copy_from_slice(source_row(y));
                }
            }
            (Some(h), None) => for_rows(out, out_row, parallel, |j, row| {
                horizontal_row(h, source_row(rows.start + j), row);
            }),
            (None, Some(v)) => {
                let lines: Vec<&[u8]> = (0..self.input[0]).map(source_row).collect();
                vertical_rows(v, &lines, 0, rows, parallel, out_row, out);
            }
            (Some(h), Some(v)) if self.vertical_first => {
                let lines: Vec<&[u8]> = (0..self.input[0]).map(source_row).collect();
                let mut tall = vec![0u8; rows.len() * in_row];
                vertical_rows(v, &lines, 0, rows, parallel, in_row, &mut tall);
                for_rows(out, out_row, parallel, |j, row| {
                    horizontal_row(h, &tall[j * in_row..][..in_row], row);
                });
            }
            (Some(h), Some(v)) => {
                let needed = v.inputs(rows);
                let mut wide = vec![0u8; needed.len() * out_row];
                for_rows(&mut wide, out_row, parallel, |j, row| {
                    horizontal_row(h, source_row(needed.start + j), row);
                });
                let lines: Vec<&[u8]> = wide.chunks_exact(out_row).collect();
                vertical_rows(v, &lines, needed.start, rows, parallel, out_row, out);
            }
        }
    }
}

/// Vertical pass for output rows `rows` into `out` (rows of `row_len` bytes),
/// from `lines`, the input rows from `first` on.
fn vertical_rows(
    axis: &Axis,
    lines: &[&[u8]],
    first: usize,
    rows: &Range<usize>,
    parallel: bool,
    row_len: usize,
    out: &mut [u8],
) {
    for_rows(out, row_len, parallel, |j, row| {
        let y = rows.start + j;
        let window = &lines[axis.start[y] - first..][..axis.len[y]];
        vertical_row(axis.weights(y), window, row);
    });
}

/// Resizes `n` RGB images stored row-major as `(n, height, width, 3)` bytes to
/// `[out_height, out_width]` exactly as Pillow's `filter` does (with the pass
/// order of `order`), and returns output rows `rows` of each, as
/// `(n, rows.len(), out_width, 3)` bytes.
///
/// One image is split by rows across the pool's threads; several are resized
/// in parallel, one per task.
pub fn resize(
    pixels: &[u8],
    shape: [usize; 3],
    output: [usize; 2],
    rows: Range<usize>,
    order: PassOrder,
    filter: Filter,
) -> CoreResult<Vec<u8>> {
    let [n, h, w] = shape;
    let [oh, ow] = output;
    if h == 0 || w == 0 || oh == 0 || ow == 0 {
        return Err(CoreError::Shape(format!(
            "images must have at least one pixel and so must the output, got {h}x{w} to \
             {oh}x{ow}"
        )));
    }
    let in_len = h * w * 3;
    if pixels.len() != n * in_len {
        return Err(CoreError::Shape(format!(
            "expected {n} images of {h}x{w}x3 bytes, got {} bytes",
            pixels.len()
        )));
    }
    if rows.start > rows.end || rows.end > oh {
        return Err(CoreError::Argument(format!(
            "rows {}..{} are not within the {oh} output rows",
            rows.start, rows.end
        )));
    }
    let out_len = rows.len() * ow * 3;
    let mut out = vec![0u8; n * out_len];
    if out_len == 0 {
        return Ok(out);
    }
    let plan = Plan::new([h, w], output, order, filter);
    if n == 1 {
        plan.resize(pixels, &rows, true, &mut out);
    } else {
        out.par_chunks_mut(out_len)
            .zip(pixels.par_chunks(in_len))
            .for_each(|(out, src)| plan.resize(src, &rows, false, out));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::noise;

    const HF: PassOrder = PassOrder::HorizontalFirst;
    const LZ: Filter = Filter::Lanczos;

    #[test]
    fn weights_sum_to_one_in_fixed_point() {
        for (i, o) in [(64, 50), (50, 64), (7, 300), (300, 7), (1, 5), (5, 1)] {
            let axis = Axis::new(i, o, LZ);
            for p in 0..o {
                let total: i64 = axis.weights(p).iter().map(|&k| i64::from(k)).sum();
                assert!((total - (1 << PRECISION_BITS)).abs() <= axis.len[p] as i64);
            }
        }
    }

    #[test]
    fn a_solid_colour_stays_solid() {
        let px: Vec<u8> = [10u8, 200, 30].repeat(64 * 48);
        let out = resize(&px, [1, 48, 64], [37, 50], 0..37, HF, LZ).unwrap();
        assert!(out.chunks_exact(3).all(|p| p == [10, 200, 30]));
    }

    #[test]
    fn same_size_is_a_copy() {
        let px = noise(2 * 9 * 7 * 3, 1);
        assert_eq!(resize(&px, [2, 9, 7], [9, 7], 0..9, HF, LZ).unwrap(), px);
    }

    #[test]
    fn row_ranges_are_slices_of_the_whole() {
        let (h, w) = (23, 31);
        let px = noise(h * w * 3, 2);
        for (oh, ow) in [(70, 90), (9, 13), (70, 31), (23, 90), (5, 5), (4, 30)] {
            for (order, filter) in [
                (HF, LZ),
                (PassOrder::Pillow13, LZ),
                (HF, Filter::Box),
                (PassOrder::Pillow13, Filter::Box),
            ] {
                let whole = resize(&px, [1, h, w], [oh, ow], 0..oh, order, filter).unwrap();
                for start in 0..oh {
                    for end in start..=oh.min(start + 4) {
                        let part =
                            resize(&px, [1, h, w], [oh, ow], start..end, order, filter).unwrap();
                        assert_eq!(part, whole[start * ow * 3..end * ow * 3]);
                    }
                }
            }
        }
    }

    #[test]
    fn stacks_match_single_images_on_any_pool() {
        let (n, s) = (5, 16);
        let px = noise(n * s * s * 3, 3);
        let run = |threads| {
            crate::pool::thread_pool(Some(threads))
                .unwrap()
                .install(|| resize(&px, [n, s, s], [11, 11], 0..11, HF, LZ).unwrap())
        };
        let stacked = run(2);
        assert_eq!(stacked, run(1));
        for i in 0..n {
            let one = &px[i * s * s * 3..][..s * s * 3];
            let alone = resize(one, [1, s, s], [11, 11], 0..11, HF, LZ).unwrap();
            assert_eq!(alone, stacked[i * 11 * 11 * 3..][..11 * 11 * 3]);
        }
    }

    #[test]
    fn bad_shapes_are_errors_not_panics() {
        let px = noise(4 * 4 * 3, 4);
        assert!(matches!(
            resize(&px, [1, 4, 4], [0, 3], 0..0, HF, LZ),
            Err(CoreError::Shape(_))
        ));
        assert!(matches!(
            resize(&px, [2, 4, 4], [3, 3], 0..3, HF, LZ),
            Err(CoreError::Shape(_))
        ));
        assert!(matches!(
            resize(&px, [1, 4, 4], [3, 3], 2..4, HF, LZ),
            Err(CoreError::Argument(_))
        ));
        assert_eq!(
            resize(&px, [1, 4, 4], [3, 3], 1..1, HF, LZ).unwrap(),
            Vec::<u8>::new()
        );
    }
}
