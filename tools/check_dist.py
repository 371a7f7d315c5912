"""Check the release files that ``make wheel`` wrote: one wheel and one sdist.

Usage::

    python tools/check_dist.py DIST

- The wheel is tagged ``cp310-abi3`` (one wheel for every CPython >= 3.10) and
  ``manylinux_2_17_x86_64`` (manylinux2014), and auditwheel (from PyPI) finds it consistent
  with that tag: it needs no shared library outside the manylinux policy and no glibc symbol
  newer than 2.17.
- Its metadata names the summary, the licence (and ships its text), keywords, classifiers,
  ``Requires-Python``, the dependencies and the README.
- Its core holds instructions beyond the baseline x86-64 only in the kernels chosen at run
  time (``check_baseline.py``).
- The sdist holds what a build from source needs, and no build products.

Prints one line per check; exit status 1 if any fails.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import zipfile
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path

import check_baseline

ABI = "cp310-abi3"
PLATFORM = "manylinux_2_17_x86_64"
LEGACY_PLATFORM = "manylinux2014_x86_64"
METADATA_FIELDS = (
    "Summary",
    "License-Expression",
    "License-File",
    "Keywords",
    "Classifier",
    "Requires-Python",
    "Requires-Dist",
    "Description-Content-Type",
)
SDIST_NEEDS = (
    "Cargo.toml",
    "Cargo.lock",
    "pyproject.toml",
    "LICENSE",
    "README.md",
    "rust/lib.rs",
    "rust/kernels.rs",
    "python/mosaicfast/__init__.py",
    "python/mosaicfast/_core.pyi",
    "python/mosaicfast/py.typed",
)
BUILD_PRODUCTS = re.compile(r"(^|/)(target|\.venv|dist|\.bench|__pycache__)/|\.so$")


class Checks:
    """Collects the verdicts, one printed line each."""

    def __init__(self) -> None:
        self.failed = 0

    def report(self, ok: bool, message: str) -> None:
        self.failed += not ok
        print(("ok: " if ok else "FAIL: ") + message)


def only(dist: Path, pattern: str) -> Path:
    """The one file of ``dist`` matching ``pattern``.

    Raises
    ------
    SystemExit
        If there is none or more than one.
    """
    found = sorted(dist.glob(pattern))
    if len(found) != 1:
        raise SystemExit(f"FAIL: {dist}: expected one {pattern}, found {len(found)}")
    return found[0]


def wheel_text(wheel: zipfile.ZipFile, name: str) -> Message:
    """A header file of the wheel's ``.dist-info`` folder (``WHEEL``, ``METADATA``)."""
    path = next(n for n in wheel.namelist() if n.endswith(f".dist-info/{name}"))
    return HeaderParser().parsestr(wheel.read(path).decode())


def glibc(tag: str) -> tuple[int, int]:
    """The glibc version of a ``manylinux_X_Y_arch`` tag."""
    match = re.match(r"manylinux_(\d+)_(\d+)_", tag)
    return (int(match[1]), int(match[2])) if match else (99, 99)


def check_tags(checks: Checks, path: Path, tags: list[str]) -> None:
    """The wheel's tags, and auditwheel's view of its shared-library dependencies."""
    expected = [f"{ABI}-{LEGACY_PLATFORM}", f"{ABI}-{PLATFORM}"]
    checks.report(sorted(tags) == sorted(expected), f"{path.name}: tags {', '.join(tags)}")
    shown = subprocess.run(
        [sys.executable, "-m", "auditwheel", "show", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    text = " ".join(shown.stdout.split())
    match = re.search(r'consistent with the following platform tag: "([^"]+)"', text)
    consistent = match[1] if match else f"nothing (auditwheel: {shown.stderr.strip()[-300:]})"
    checks.report(
        match is not None and glibc(consistent) <= glibc(PLATFORM),
        f"auditwheel: consistent with {consistent}; the wheel claims {PLATFORM}",
    )


def check_metadata(checks: Checks, wheel: zipfile.ZipFile, metadata: Message) -> None:
    """Every field a package index shows, and the licence text itself."""
    missing = [field for field in METADATA_FIELDS if not metadata.get_all(field)]
    licence = metadata.get("License-File", "")
    shipped = any(n.endswith(f".dist-info/licenses/{licence}") for n in wheel.namelist())
    checks.report(
        not missing and shipped and len(metadata.get_payload()) > 0,
        f"metadata: {metadata['Summary']!r}, licence {metadata['License-Expression']} "
        f"({licence} {'shipped' if shipped else 'NOT shipped'}), "
        f"{len(metadata.get_all('Classifier') or [])} classifiers, Python "
        f"{metadata['Requires-Python']}" + (f"; missing {', '.join(missing)}" if missing else ""),
    )


def check_sdist(checks: Checks, path: Path, version: str) -> None:
    """The sdist's name, the files a build needs and no build products."""
    with tarfile.open(path) as sdist:
        names = [name.split("/", 1)[1] for name in sdist.getnames() if "/" in name]
    missing = [name for name in SDIST_NEEDS if name not in names]
    products = [name for name in names if BUILD_PRODUCTS.search(name)]
    checks.report(
        path.name == f"mosaicfast-{version}.tar.gz" and not missing and not products,
        f"{path.name}: {len(names)} files"
        + (f"; missing {', '.join(missing)}" if missing else "")
        + (f"; build products {', '.join(products[:5])}" if products else ""),
    )


def main(argv: list[str]) -> int:
    """Check the wheel and the sdist of the folder ``argv[0]``."""
    if len(argv) != 1:
        print(__doc__.split("\n\n")[1].strip(), file=sys.stderr)
        return 2
    dist = Path(argv[0])
    checks = Checks()
    wheel_path = only(dist, "mosaicfast-*.whl")
    with zipfile.ZipFile(wheel_path) as wheel:
        tags = wheel_text(wheel, "WHEEL").get_all("Tag") or []
        metadata = wheel_text(wheel, "METADATA")
        check_tags(checks, wheel_path, tags)
        check_metadata(checks, wheel, metadata)
    check_sdist(checks, only(dist, "mosaicfast-*.tar.gz"), metadata["Version"])
    checks.failed += check_baseline.main([str(wheel_path)])
    return 1 if checks.failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
