"""Every SIMD kernel path of the search is correct, and can be forced and reported.

The process's kernel is chosen once, from ``MOSAICFAST_KERNEL`` or the CPU; this run of the
suite tests the chosen one, and the equivalence and search tests run again in a child
process for each other kernel this CPU supports.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mosaicfast import __version__, _core
from mosaicfast._reference import descriptors as reference

from ..conftest import load_tool

ROOT = Path(__file__).resolve().parents[2]
SEARCH_TESTS = ("tests/kernels/test_core_equivalence.py", "tests/kernels/test_candidates.py")
"""The equivalence tests of the core and the tests of the pruned search."""
OTHER_KERNELS = [name for name in _core.search_kernels() if name != _core.search_kernel()]


def run_with_kernel(kernel: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python ARGS`` from the repository root with ``MOSAICFAST_KERNEL=kernel``."""
    env = {**os.environ, _core.KERNEL_VAR: kernel}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize("kernel", OTHER_KERNELS)
def test_the_equivalence_and_search_tests_pass_on_every_other_kernel(kernel: str) -> None:
    chosen = run_with_kernel(kernel, "-c", "import mosaicfast._core as c; print(c.search_kernel())")
    assert chosen.stdout.strip() == kernel, chosen.stderr
    tests = run_with_kernel(kernel, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SEARCH_TESTS)
    summary = tests.stdout.strip().splitlines()[-1] if tests.stdout.strip() else tests.stderr
    assert tests.returncode == 0, f"{kernel}: {summary}\n{tests.stdout[-4000:]}"
    assert " passed" in summary and "skipped" not in summary, summary


@pytest.mark.parametrize("kernel", _core.search_kernels())
@pytest.mark.parametrize("k", [1, 7])
def test_every_kernel_finds_the_reference_neighbours(kernel: str, k: int) -> None:
    rng = np.random.default_rng(k)
    cells = rng.integers(-3000, 3000, size=(37, 75), dtype=np.int16)
    tiles = rng.integers(-3000, 3000, size=(517, 75), dtype=np.int16)
    tiles[100:120] = tiles[3]  # ties go to the lowest index on every kernel
    indices, distances = _core.search_topk(cells, tiles, k, kernel=kernel)
    expected_indices, expected_distances = reference.search_topk(cells, tiles, k)
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_array_equal(distances, expected_distances)


def test_a_kernel_that_does_not_exist_is_refused() -> None:
    cells = np.zeros((1, 3), dtype=np.int16)
    with pytest.raises(ValueError, match=r'^kernel: "sse9" is not a search kernel \(choose '):
        _core.search_topk(cells, cells, 1, kernel="sse9")


def test_the_chosen_kernel_is_the_fastest_unless_forced() -> None:
    available = _core.search_kernels()
    assert available[0] == "portable"
    assert set(available) <= {"portable", "sse2", "avx2", "avx512-vnni"}
    if platform.machine() == "x86_64":
        assert available[1] == "sse2"  # part of the x86-64 baseline
    forced = os.environ.get(_core.KERNEL_VAR)
    assert _core.search_kernel() == (forced or available[-1])


def test_version_shows_the_version_kernel_and_build() -> None:
    done = run_with_kernel("", "-m", "mosaicfast", "--version")
    assert done.returncode == 0, done.stderr
    runs = ", ".join(_core.search_kernels())
    assert done.stdout.splitlines() == [
        f"mosaicfast {__version__}",
        f"search kernel: {_core.search_kernels()[-1]} (the fastest; this CPU runs {runs})",
        f"core build: {_core.BUILD_PROFILE}",
    ]
    assert _core.BUILD_PROFILE in ("release", "debug")


def test_the_built_in_version_is_the_installed_packages() -> None:
    assert __version__ == importlib.metadata.version("mosaicfast")


def test_version_shows_a_forced_kernel() -> None:
    done = run_with_kernel("portable", "-m", "mosaicfast", "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1].startswith(
        "search kernel: portable (set by MOSAICFAST_KERNEL; this CPU runs portable"
    )


@pytest.mark.parametrize("command", [["--version"], ["library", "info", "nowhere"]])
def test_an_unknown_forced_kernel_is_a_one_line_usage_error(command: list[str]) -> None:
    done = run_with_kernel("fastest", "-m", "mosaicfast", *command)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        'Error: MOSAICFAST_KERNEL: "fastest" is not a search kernel '
        "(choose portable, sse2, avx2, avx512-vnni)"
    ]


@pytest.mark.parametrize(
    ("instruction", "beyond"),
    [
        ("vpaddd %ymm1,%ymm2,%ymm3", True),
        ("vpdpwssd %zmm0,%zmm1,%zmm2", True),
        ("vmovdqu (%rdi),%xmm0", True),
        ("kmovw %k1,%eax", True),
        ("popcnt %rdi,%rax", True),
        ("pshufb %xmm1,%xmm0", True),
        ("shlx %rax,%rbx,%rcx", True),
        ("paddd %xmm1,%xmm0", False),
        ("pmaddwd %xmm1,%xmm0", False),
        ("rep stos %al,%es:(%rdi)", False),
        ("lock cmpxchg %rcx,(%rdx)", False),
        ("call 1000 <_ZN3vec4push17h0E>", False),
        ("cs nopw 0x0(%rax,%rax,1)", False),
        ("verw %ax", False),
    ],
)
def test_instructions_beyond_the_baseline_are_recognised(instruction: str, beyond: bool) -> None:
    assert load_tool("check_baseline").beyond_baseline(instruction) is beyond


@pytest.mark.skipif(platform.machine() != "x86_64", reason="reads x86-64 machine code")
def test_the_core_holds_avx_only_in_its_dispatched_kernels() -> None:
    tool = ROOT / "tools" / "check_baseline.py"
    done = subprocess.run(
        [sys.executable, str(tool), _core.__file__], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("ok: "), done.stdout
