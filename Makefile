# mosaicfast developer entry points. `make demo` and `make test` work on a fresh
# machine with Python >= 3.10 and a Rust toolchain: they create .venv, install
# the Python dependencies and build the Rust extension in release mode.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: build demo test bench bench-library bench-video venv clean

$(STAMP): pyproject.toml Cargo.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "maturin>=1.9.4,<2"
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

# Rebuild the extension in release mode (fast when nothing changed).
build: $(STAMP)
	$(VENV)/bin/maturin develop --release --quiet

demo: build
	$(PY) -m mosaicfast.demo

test: build
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cargo test --quiet
	$(PY) -m pytest -q
	$(VENV)/bin/ruff check python tests benches
	$(VENV)/bin/ruff format --check python tests benches
	$(PY) -m mypy.stubtest mosaicfast._core

bench: build
	mkdir -p .bench
	MOSAICFAST_BENCH_SIZES=10000,190000 MOSAICFAST_BENCH_ASSIGN_SIZE=10000 \
	  $(PY) -m pytest benches --benchmark-enable \
	  --benchmark-only --benchmark-json=.bench/search.json -q
	$(PY) benches/report.py .bench/search.json

# Tile library at scale: 190,000 tiles and 120 12-MP photos (data made once in .bench/data).
bench-library: build
	$(PY) benches/library_bench.py

# Video splicing speed on a 60 s 1080p30 H.264 clip (made once in .bench/video).
bench-video: build
	$(PY) benches/video_bench.py

clean:
	rm -rf $(VENV) target .bench demo
