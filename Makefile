# mosaicfast developer entry points. `make demo` and `make test` work on a fresh
# machine with Python >= 3.10 and a Rust toolchain: they create .venv, install
# the Python dependencies and build the Rust extension in release mode.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

WHEEL_TOOLS := $(VENV)/.wheel-tools

.PHONY: build browser demo test bench bench-quality bench-library bench-video venv wheel wheel-check clean

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

# Debian's chromium and its driver, for the report's browser test (tests/test_report.py):
# installed when missing where apt-get runs as root (CI), else that test says it is skipped.
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
		if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
				--no-install-recommends chromium chromium-driver >/dev/null; \
		else echo "note: no chromium; the report's browser test will be skipped"; fi; \
	fi

test: build browser
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cargo test --quiet
	$(PY) -m pytest -q
	$(VENV)/bin/ruff check python tests benches tools
	$(VENV)/bin/ruff format --check python tests benches tools
	$(PY) -m mypy.stubtest mosaicfast._core

$(WHEEL_TOOLS): $(STAMP)
	$(PY) -m pip install --quiet --group wheel
	touch $(WHEEL_TOOLS)

# The release files in dist/: a manylinux2014 (glibc >= 2.17) abi3 wheel for x86_64, linked
# by zig (no Docker), and the sdist; then their checks (tools/check_dist.py: auditwheel, the
# metadata, the baseline-x86-64 check of the core). About 2-3 minutes from scratch.
wheel: $(WHEEL_TOOLS)
	rm -f dist/mosaicfast-*
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/maturin build --release --zig \
		--compatibility manylinux2014 --target x86_64-unknown-linux-gnu --out dist
	$(VENV)/bin/maturin sdist --out dist
	$(PY) tools/check_dist.py dist

# Install that wheel into a fresh venv with no Rust on PATH and run every command on
# generated photos and a generated video (tools/wheel_check.sh).
wheel-check: wheel
	PYTHON=$(PYTHON) tools/wheel_check.sh dist

# The benchmark table (docs/benchmarks.md): the pytest-benchmark suite at full size, a
# full build from the 190k-tile library (made once in .bench/data), the scaling sweeps;
# writes .bench/report.md and .bench/scaling.png, and (a whole run on an idle machine)
# the report into docs/benchmarks.md and its headline rows into README.md. About 5-10
# minutes once the data exist. QUICK=1: small sizes, under a minute, docs untouched.
# BENCH_ARGS: more options of benches/report.py (docs untouched), e.g.
# BENCH_ARGS="--no-build -k search".
bench: build
	$(PY) benches/report.py $(if $(filter-out 0,$(QUICK)),--quick,$(if $(BENCH_ARGS),,--docs)) $(BENCH_ARGS)

# Fidelity and diversity against the classic tool's rule on real photos (issue 14): each
# target built with the main settings, a table printed (benches/quality/run.py --help).
# Data made once in .bench/quality: 10 targets and 10,000 tile photos cropped from the
# sample photos of scikit-image, scikit-learn, matplotlib, PyWavelets and Debian's
# opencv-doc (apt-get install opencv-doc), indexed by mosaicfast index.
bench-quality: build
	$(PY) benches/quality/run.py $(BENCH_ARGS)

# Tile library at scale: 190,000 tiles and 120 12-MP photos (data made once in .bench/data).
bench-library: build
	$(PY) benches/library_bench.py

# Video splicing speed on a 60 s 1080p30 H.264 clip (made once in .bench/video).
bench-video: build
	$(PY) benches/video_bench.py

clean:
	rm -rf $(VENV) target .bench demo dist
