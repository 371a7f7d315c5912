//! 64-bit perceptual hashes (pHash) of thumbnails, for the library's near-duplicate
//! search: the Rec. 601 luma area-averaged to 32 x 32 blocks, a 2-D DCT-II, and
//! the signs of the 8 x 8 lowest frequencies against the median of the 63 that
//! are not the constant term.
//!
//! The blocks' edges are `i * side / 32` (integer division), so a side that is
//! not a multiple of 32 gives blocks of two sizes. Each block's channel sums are
//! exact integers; the luma of the block mean (the mean of the pixels' lumas, as
//! luma is linear) and the transform are computed in `f64`.

use rayon::prelude::*;

use crate::descriptors::LUMA;
use crate::error::{CoreError, CoreResult};

/// Blocks per side of the averaged luma.
pub const HASH_SIDE: usize = 32;
/// Frequencies per side kept in the hash (`LOW * LOW = 64` bits).
const LOW: usize = 8;

/// The pHash of each of the `n` square RGB thumbnails in `thumbs` (row-major
/// `(n, side, side, 3)`, `side >= 32`): bit `i` is set when the `i`-th lowest
/// frequency (row-major in the 8 x 8 square) exceeds the median.
pub fn perceptual_hashes(thumbs: &[u8], n: usize, side: usize) -> CoreResult<Vec<u64>> {
    if side < HASH_SIDE {
        return Err(CoreError::Argument(format!(
            "a perceptual hash needs thumbnails of at least {HASH_SIDE} pixels, got {side}"
        )));
    }
    let image_len = side * side * 3;
    if thumbs.len() != n * image_len {
        return Err(CoreError::Shape(format!(
            "expected {n} thumbnails of {image_len} values, got {} values",
            thumbs.len()
        )));
    }
    let blocks = Blocks::new(side);
    let basis = dct_basis();
    Ok(thumbs
        .par_chunks(image_len)
        .map_init(
            || vec![0u32; side * 3],
            |sums, thumb| hash_one(thumb, &blocks, &basis, sums),
        )
        .collect())
}

/// Where each block starts (in rows and in columns), and its size.
struct Blocks {
    side: usize,
    edges: [usize; HASH_SIDE + 1],
}

impl Blocks {
    fn new(side: usize) -> Self {
        let edges = std::array::from_fn(|i| i * side / HASH_SIDE);
        Self { side, edges }
    }

    fn size(&self, block: usize) -> usize {
        self.edges[block + 1] - self.edges[block]
    }
}

/// The orthonormal DCT-II matrix of order 32, its first `LOW` rows.
fn dct_basis() -> [[f64; HASH_SIDE]; LOW] {
    let n = HASH_SIDE as f64;
    std::array::from_fn(|k| {
        let scale = if k == 0 {
            (1.0 / n).sqrt()
        } else {
            (2.0 / n).sqrt()
        };
        std::array::from_fn(|x| {
            scale * (std::f64::consts::PI * (2 * x + 1) as f64 * k as f64 / (2.0 * n)).cos()
        })
    })
}

fn hash_one(
    thumb: &[u8],
    blocks: &Blocks,
    basis: &[[f64; HASH_SIDE]; LOW],
    sums: &mut [u32],
) -> u64 {
    let side = blocks.side;
    // Block means of the luma, then each block row's products with the basis rows:
    // `partial[y][k] = sum_x luma[y][x] * basis[k][x]`.
    let mut partial = [[0.0f64; LOW]; HASH_SIDE];
    for (by, out) in partial.iter_mut().enumerate() {
        // The block row's pixel rows summed column by column (in lanes), then the
        // columns of each block added up.
        sums.fill(0);
        let rows = &thumb[blocks.edges[by] * side * 3..blocks.edges[by + 1] * side * 3];
        for row in rows.chunks_exact(side * 3) {
            for (sum, &v) in sums.iter_mut().zip(row) {
                *sum += u32::from(v);
            }
        }
        let height = blocks.size(by);
        for bx in 0..HASH_SIDE {
            let columns = &sums[blocks.edges[bx] * 3..blocks.edges[bx + 1] * 3];
            let mut rgb = [0u32; 3];
            for pixel in columns.chunks_exact(3) {
                for (total, &v) in rgb.iter_mut().zip(pixel) {
                    *total += v;
                }
            }
            let count = (height * blocks.size(bx)) as f64;
            let luma = LUMA
                .iter()
                .zip(rgb)
                .map(|(w, s)| w * f64::from(s))
                .sum::<f64>()
                / count;
            for (p, row) in out.iter_mut().zip(basis) {
                *p += luma * row[bx];
            }
        }
    }
    // `coeffs[k][l] = sum_y basis[k][y] * partial[y][l]`.
    let mut coeffs = [0.0f64; LOW * LOW];
    for (k, row) in basis.iter().enumerate() {
        for (y, p) in partial.iter().enumerate() {
            for (c, &v) in coeffs[k * LOW..(k + 1) * LOW].iter_mut().zip(p) {
                *c += row[y] * v;
            }
        }
    }
    let mut rest: [f64; LOW * LOW - 1] = std::array::from_fn(|i| coeffs[i + 1]);
    let middle = rest.len() / 2;
    let (_, &mut median, _) = rest.select_nth_unstable_by(middle, f64::total_cmp);
    coeffs
        .iter()
        .enumerate()
        .filter(|(_, &c)| c > median)
        .fold(0u64, |bits, (i, _)| bits | 1 << i)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` pictures of 32 x 32 pseudo-random grey blocks, each block `side / 32` pixels wide.
    fn blocky(n: usize, side: usize) -> Vec<u8> {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut grey = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 56) as u8
        };
        let blocks: Vec<u8> = (0..n * HASH_SIDE * HASH_SIDE).map(|_| grey()).collect();
        let f = side / HASH_SIDE;
        let mut out = Vec::with_capacity(n * side * side * 3);
        for i in 0..n {
            for y in 0..side {
                for x in 0..side {
                    out.extend([blocks[(i * HASH_SIDE + y / f) * HASH_SIDE + x / f]; 3]);
                }
            }
        }
        out
    }

    #[test]
    fn the_same_blocks_at_any_multiple_of_32_give_the_same_bits() {
        let want = perceptual_hashes(&blocky(5, 32), 5, 32).unwrap();
        for side in [64, 128] {
            assert_eq!(perceptual_hashes(&blocky(5, side), 5, side).unwrap(), want);
        }
        // Bits above the median of 63: about half of them, and distinct pictures differ.
        for bits in &want {
            assert!((24..=40).contains(&bits.count_ones()), "{bits:064b}");
        }
        assert!(want.windows(2).all(|w| (w[0] ^ w[1]).count_ones() > 12));
    }

    #[test]
    fn sides_that_are_not_multiples_of_32_use_blocks_of_two_sizes() {
        let blocks = Blocks::new(40);
        let sizes: Vec<usize> = (0..HASH_SIDE).map(|b| blocks.size(b)).collect();
        assert_eq!(sizes.iter().sum::<usize>(), 40);
        assert!(sizes.iter().all(|&s| s == 1 || s == 2));
        assert_eq!((blocks.edges[0], blocks.edges[HASH_SIDE]), (0, 40));
        assert_eq!(
            perceptual_hashes(&[7; 40 * 40 * 3], 1, 40).unwrap().len(),
            1
        );
    }

    #[test]
    fn bad_shapes_are_refused() {
        assert!(perceptual_hashes(&[0; 31 * 31 * 3], 1, 31).is_err());
        assert!(perceptual_hashes(&[0; 32 * 32 * 3], 2, 32).is_err());
    }
}
