"""Regenerate docs/images/report.png: the demo mosaic's report in a browser, zoomed on
the cat's eye, one cell pinned with its panel on the right.

Run from the repository root, with the dev extra installed (Selenium) and Debian's
``chromium`` and ``chromium-driver`` on PATH (``make browser``)::

    .venv/bin/python tools/report_screenshot.py --demo /tmp/mosaicfast/demo

It makes the demo in that folder (``python -m mosaicfast.demo``, as ``make demo``
does) unless it holds one already, writes its report into ``report/`` there (replacing
an earlier one), opens that report from disk in headless chromium, pins a cell of the
cat's eye, zooms onto it and saves the screenshot quantised to 256 colours. The panel
shows the tiles' folder, hence a short neutral one for the picture in the docs; without
``--demo`` the script uses (or makes) ``make demo``'s ``demo/``. Nothing leaves the
machine: the page is a file, and the driver and the browser listen on the loopback only.
``tests/test_report.py`` starts its browser with :func:`headless_chromium` too.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path
from typing import Any

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
#: The window: the screenshot's size, in CSS pixels at one device pixel each.
SIZE = (1100, 497)
#: A cell of the cat's right eye in the demo mosaic (72 x 48 cells), and about how many
#: cells the view spans across its shorter side.
CELL, ACROSS = (17, 26), 12


@contextmanager
def headless_chromium(profile: Path) -> Iterator[Any]:
    """Debian's chromium, headless, driven through its chromedriver by Selenium.

    The driver's path is given, so Selenium Manager never looks for one online; the
    driver, left without ``--allowed-ips``, and the browser's debugging port listen on
    the loopback only. Both are stopped when the block ends, by an error too.

    Parameters
    ----------
    profile : Path
        An empty folder for the browser's profile.
    """
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or chromedriver is None:
        raise FileNotFoundError(
            "no chromium or chromedriver on PATH: install Debian's chromium and "
            "chromium-driver (make browser does, where apt-get runs as root)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--window-size=1200,800", "--force-device-scale-factor=1",
        "--no-first-run", "--disable-background-networking", f"--user-data-dir={profile}",
    ):  # fmt: skip
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    try:
        driver.set_page_load_timeout(30)
        driver.set_script_timeout(30)
        yield driver
    finally:
        driver.quit()


def wait_for(driver: Any, script: str, seconds: float = 20) -> None:
    """Wait until ``script`` returns a true value in the page."""
    deadline = time.monotonic() + seconds
    while not driver.execute_script(script):
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {script}")
        time.sleep(0.1)


def fit_viewport(driver: Any, size: tuple[int, int]) -> None:
    """Size the window so that the page itself, without the browser's frame, is ``size``."""
    inner = driver.execute_script("return [innerWidth, innerHeight]")
    outer = driver.get_window_size()
    driver.set_window_size(
        outer["width"] + size[0] - inner[0], outer["height"] + size[1] - inner[1]
    )


def demo_report(demo: Path) -> Path:
    """Make the demo mosaic when it is missing, then its report; the report's folder."""
    if not (demo / "mosaic.json").exists():
        if demo.name != "demo":
            raise SystemExit(f"{demo} holds no demo mosaic, and the demo makes one in demo/")
        demo.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "mosaicfast.demo"], cwd=demo.parent, check=True)
    from mosaicfast.report import manifest_report

    return manifest_report(demo / "mosaic.json", demo / "report", force=True).folder


def screenshot(report: Path, cell: tuple[int, int], across: float) -> Image.Image:
    """The report in the browser, cell ``(row, col)`` pinned and zoomed on."""
    with (
        tempfile.TemporaryDirectory() as profile,
        headless_chromium(Path(profile)) as driver,
    ):
        fit_viewport(driver, SIZE)
        row, col = cell
        # #cell=ROW,COL pins the cell, as a click does; then the wider view around it.
        driver.get(f"{(report / 'index.html').resolve().as_uri()}#cell={row},{col}")
        wait_for(driver, "return window.mosaicViewer && mosaicViewer.tilesLoaded()")
        driver.execute_script("mosaicViewer.zoomToCell(...arguments)", row, col, across)
        driver.execute_script("mosaicViewer.draw()")
        wait_for(driver, "return mosaicViewer.tilesLoaded()")
        driver.execute_script("mosaicViewer.draw()")  # the tiles that came in meanwhile
        png = driver.get_screenshot_as_png()
    image = Image.open(BytesIO(png)).convert("RGB")
    if image.size != SIZE:
        raise RuntimeError(f"the page was {image.size}, not {SIZE}: the window did not fit")
    return image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--demo", type=Path, default=ROOT / "demo", help="the demo folder")
    parser.add_argument(
        "-o", "--output", type=Path, default=ROOT / "docs" / "images" / "report.png"
    )
    args = parser.parse_args()
    image = screenshot(demo_report(args.demo.resolve()), CELL, ACROSS)
    # The octree keeps the dark tiles' gradients that median cut bands, in fewer bytes.
    image.quantize(256, method=Image.Quantize.FASTOCTREE).save(args.output, optimize=True)
    print(f"wrote {args.output} ({image.width}x{image.height} px, 256 colours)")


if __name__ == "__main__":
    main()
