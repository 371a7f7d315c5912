//! Box downsampling of 8-bit images by an integer factor: each output pixel is
//! the mean of a `factor x factor` block, per channel, rounded half to even —
//! the same values as NumPy's `block.mean()` followed by `np.rint`, since the
//! block sum is an exact integer and `sum / count` is correctly rounded.

use rayon::prelude::*;

use crate::error::{CoreError, CoreResult};

/// Downsamples `images` (row-major `(n, height, width, channels)`) by
/// `factor` in both directions; `height` and `width` must be multiples of it.
pub fn box_downsample(
    images: &[u8],
    n: usize,
    height: usize,
    width: usize,
    channels: usize,
    factor: usize,
) -> CoreResult<Vec<u8>> {
    if factor == 0 || !height.is_multiple_of(factor) || !width.is_multiple_of(factor) {
        return Err(CoreError::Argument(format!(
            "a {height}x{width} image cannot be cut into {factor}x{factor} blocks"
        )));
    }
    let image_len = height * width * channels;
    if images.len() != n * image_len {
        return Err(CoreError::Shape(format!(
            "expected {n} images of {image_len} values, got {} values",
            images.len()
        )));
    }
    let (out_h, out_w) = (height / factor, width / factor);
    let out_len = out_h * out_w * channels;
    let count = (factor * factor) as f64;
    let mut out = vec![0u8; n * out_len];
    if out_len == 0 {
        return Ok(out);
    }
    out.par_chunks_mut(out_len)
        .zip(images.par_chunks(image_len.max(1)))
        .for_each_init(
            || vec![0u32; out_w * channels],
            |sums, (small, image)| {
                for (y, out_row) in small.chunks_exact_mut(out_w * channels).enumerate() {
                    sums.fill(0);
                    for row in image[y * factor * width * channels..]
                        .chunks_exact(width * channels)
                        .take(factor)
                    {
                        for (x, pixel) in row.chunks_exact(channels).enumerate() {
                            let at = (x / factor) * channels;
                            for (sum, &v) in sums[at..at + channels].iter_mut().zip(pixel) {
                                *sum += u32::from(v);
                            }
                        }
                    }
                    for (slot, &sum) in out_row.iter_mut().zip(sums.iter()) {
                        *slot = (f64::from(sum) / count).round_ties_even() as u8;
                    }
                }
            },
        );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_means_round_half_to_even() {
        // One 2x4 image of 1 channel, rows [0, 1, 1, 2] and [2, 3, 1, 2]: both
        // 2x2 blocks sum to 6, a mean of 1.5, which rounds to 2 (ties to even).
        let image = [0u8, 1, 1, 2, 2, 3, 1, 2];
        let got = box_downsample(&image, 1, 2, 4, 1, 2).unwrap();
        assert_eq!(got, vec![2, 2]);
        let got = box_downsample(&[1, 2, 0, 0], 1, 2, 2, 1, 2).unwrap();
        assert_eq!(got, vec![1]); // 0.75 -> 1
        let got = box_downsample(&[1, 1, 1, 2], 1, 2, 2, 1, 2).unwrap();
        assert_eq!(got, vec![1]); // 1.25 -> 1
        let got = box_downsample(&[2, 3, 2, 3], 1, 2, 2, 1, 2).unwrap();
        assert_eq!(got, vec![2]); // 2.5 -> 2
        assert!(box_downsample(&image, 1, 2, 4, 1, 3).is_err());
        assert!(box_downsample(&image, 2, 2, 4, 1, 2).is_err());
    }
}
