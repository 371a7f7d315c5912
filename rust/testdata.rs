//! Deterministic pseudo-random test data shared by the unit tests.

/// `len` values in `[-span, span)` from a 64-bit linear congruential generator.
pub fn values(len: usize, span: i64, seed: u64) -> Vec<i16> {
    const A: u64 = 6364136223846793005;
    const C: u64 = 1442695040888963407;
    let mut state = seed.wrapping_mul(A).wrapping_add(C);
    (0..len)
        .map(|_| {
            state = state.wrapping_mul(A).wrapping_add(C);
            (((state >> 33) as i64).rem_euclid(2 * span) - span) as i16
        })
        .collect()
}

/// A xorshift generator of 64-bit states.
fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

/// `len` pseudo-random bytes.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut next = xorshift(seed);
    (0..len).map(|_| (next() >> 24) as u8).collect()
}

/// `len` pseudo-random bytes within `lo..=hi`.
pub fn noise_in(len: usize, seed: u64, lo: u8, hi: u8) -> Vec<u8> {
    let mut next = xorshift(seed);
    let span = u64::from(hi - lo) + 1;
    (0..len).map(|_| lo + (next() % span) as u8).collect()
}

/// `n` RGB tiles of `size x size` pixels, all of colour `rgb`.
pub fn solid(n: usize, size: usize, rgb: [u8; 3]) -> Vec<u8> {
    rgb.iter()
        .copied()
        .cycle()
        .take(n * size * size * 3)
        .collect()
}
