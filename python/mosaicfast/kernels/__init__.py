"""Array kernels: arrays in, arrays out, the heavy work in the Rust core with the GIL released."""
