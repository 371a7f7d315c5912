"""An offline deep-zoom report of a mosaic: a folder that opens from disk in a browser.

``mosaicfast build ... --report DIR`` and ``mosaicfast report MANIFEST -o DIR`` write
it: a Deep Zoom pyramid of the mosaic (:mod:`~mosaicfast.report.pyramid`), the
target, the per-cell provenance, orientation, uses and match scores and the
figures (:mod:`~mosaicfast.report.page`), and a compact viewer of our own (plain
JavaScript, no framework, no network) in ``index.html``. See ``docs/report.md``.
"""

from __future__ import annotations

from .page import CellSource
from .pyramid import DeepZoomWriter, write_dzi
from .writer import Report, check_report_folder, manifest_report, mosaic_report, write_report

__all__ = [
    "CellSource",
    "DeepZoomWriter",
    "Report",
    "check_report_folder",
    "manifest_report",
    "mosaic_report",
    "write_dzi",
    "write_report",
]
