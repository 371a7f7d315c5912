"""Test oracles and research code, out of the public namespace: used by tests and benches only."""
