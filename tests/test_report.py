"""The report folder: its Deep Zoom pyramid, its data, and the commands that write it."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import mosaicfast
from mosaicfast.cli import main
from mosaicfast.errors import MosaicfastError
from mosaicfast.io.images import open_rgb
from mosaicfast.io.manifest import read_assignment, read_grid
from mosaicfast.quality import evaluate
from mosaicfast.report import (
    CellSource,
    manifest_report,
    mosaic_report,
    write_dzi,
    write_report,
    writer,
)
from mosaicfast.report.pyramid import DZI_TILE, dzi_levels

from .conftest import load_tool

HOSTILE_NAME = '<img src=x onerror="document.title=1">&amp;"\'.png'


def run(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def report_data(folder: Path) -> dict:
    """The ``window.MOSAIC_REPORT`` object of a report's data.js."""
    text = (folder / "data.js").read_text(encoding="ascii")
    prefix, suffix = "window.MOSAIC_REPORT = ", ";\n"
    assert text.startswith(prefix) and text.endswith(suffix)
    return json.loads(text[len(prefix) : -len(suffix)])


def sources(data: dict) -> list[tuple[str, float | None, int | None, bool]]:
    """The distinct tiles of a report's data: (path, video time, library id, missing)."""
    columns = data["sources"]
    gone = set(columns["missing"])
    times = columns["time"] or [None] * len(columns["name"])
    return [
        (f"{columns['folders'][f]}/{name}", time, tile, i in gone)
        for i, (f, name, time, tile) in enumerate(
            zip(columns["folder"], columns["name"], times, columns["tileId"], strict=True)
        )
    ]


def orientations(data: dict) -> tuple[list[bool], list[int]]:
    """Whether each cell's tile is mirrored, and its quarter turns counter-clockwise, from
    a report's data (one digit per cell, the orientation code; None: all as they are)."""
    digits = data["orientation"] or "0" * (data["rows"] * data["cols"])
    return [int(d) & 1 == 1 for d in digits], [int(d) >> 1 for d in digits]


def noise(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A smooth-ish RGB test image (JPEG keeps it close)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (height // 16 + 1, width // 16 + 1, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((width, height), Image.Resampling.BILINEAR))


def pyramid_files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.jpg"))}


@pytest.mark.parametrize("size", [(1000, 700), (256, 256), (257, 3), (1, 1)])
def test_pyramid_has_every_level_and_tile_of_the_deep_zoom_layout(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    width, height = size
    tiles = write_dzi(tmp_path, [noise(width, height)], size)
    levels = dzi_levels(size)
    assert levels == int(np.ceil(np.log2(max(size)))) + 1
    expected = 0
    for level in range(levels):
        scale = 2 ** (levels - 1 - level)
        w, h = -(-width // scale), -(-height // scale)
        cols, rows = -(-w // DZI_TILE), -(-h // DZI_TILE)
        expected += cols * rows
        names = sorted(p.name for p in (tmp_path / "mosaic_files" / str(level)).iterdir())
        assert names == sorted(f"{c}_{r}.jpg" for c in range(cols) for r in range(rows))
        with Image.open(
            tmp_path / "mosaic_files" / str(level) / f"{cols - 1}_{rows - 1}.jpg"
        ) as im:
            assert im.size == (w - (cols - 1) * DZI_TILE, h - (rows - 1) * DZI_TILE)
    assert tiles == expected
    xml = (tmp_path / "mosaic.dzi").read_text()
    assert f'<Size Width="{width}" Height="{height}"/>' in xml and 'TileSize="256"' in xml


def test_pyramid_tiles_hold_the_image_and_its_halvings(tmp_path: Path) -> None:
    image = noise(600, 300)
    write_dzi(tmp_path, [image], (600, 300))
    top = dzi_levels((600, 300)) - 1
    level = tmp_path / "mosaic_files"
    rebuilt = np.zeros_like(image)
    for c in range(3):
        for r in range(2):
            tile = np.asarray(Image.open(level / str(top) / f"{c}_{r}.jpg"))
            rebuilt[r * 256 : r * 256 + tile.shape[0], c * 256 : c * 256 + tile.shape[1]] = tile
    assert np.abs(rebuilt.astype(int) - image).mean() < 2.0
    half = np.asarray(Image.open(level / str(top - 1) / "0_0.jpg")).astype(int)
    expected = np.asarray(Image.fromarray(image).reduce(2))[:256, :256]
    assert half.shape == (150, 256, 3)
    assert np.abs(half - expected[:150]).mean() < 3.0  # JPEG's error
    assert np.abs(half - image[:150, :256]).mean() > 10  # not the image, unhalved


def test_pyramid_does_not_depend_on_band_heights_or_threads(tmp_path: Path) -> None:
    image = noise(700, 530, seed=2)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write_dzi(tmp_path / "a", [image], (700, 530))
    cuts = [0, 1, 2, 77, 300, 301, 530]
    bands = [image[a:b] for a, b in itertools.pairwise(cuts)]
    write_dzi(tmp_path / "b", bands, (700, 530), workers=1)
    assert pyramid_files(tmp_path / "a") == pyramid_files(tmp_path / "b")


def test_pyramid_refuses_bands_that_do_not_make_the_image(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="rows"):
        write_dzi(tmp_path, [noise(300, 100)], (300, 200))


@pytest.fixture
def built(photo_tiles: Path, photo_target: Path, tmp_path: Path) -> dict[str, Path]:
    """A mosaic built with a manifest and a report; the tile of its top left cell has a
    hostile name (it is the colour of that cell)."""
    corner = np.asarray(Image.open(photo_target))[:10, :10].reshape(-1, 3).mean(axis=0)
    Image.new("RGB", (40, 40), tuple(int(v) for v in corner)).save(photo_tiles / HOSTILE_NAME)
    out, manifest, report = tmp_path / "m.png", tmp_path / "m.json", tmp_path / "report"
    code, output = run(
        "build", photo_target, "--tiles", photo_tiles, "-o", out, "--manifest", manifest,
        "--tile-size", 16, "--cols", 12, "--report", report, "--min-distance", 0,
        "--assign", "best",
    )  # fmt: skip
    assert code == 0, output
    assert f"wrote report {report}" in output
    return {"tiles": photo_tiles, "mosaic": out, "manifest": manifest, "report": report,
            "target": photo_target}  # fmt: skip


def test_build_report_holds_each_cell_source_uses_score_and_the_figures(
    built: dict[str, Path],
) -> None:
    folder = built["report"]
    for name in ("index.html", "viewer.js", "viewer.css", "data.js", "target.jpg", "mosaic.dzi"):
        assert (folder / name).is_file(), name
    data = report_data(folder)
    cells = json.loads(built["manifest"].read_text())["cells"]
    assert (data["rows"], data["cols"], data["tileSize"]) == (8, 12, 16)
    assert len(data["cells"]) == len(data["scores"]) == len(cells) == 96
    for cell, index in zip(cells, data["cells"], strict=True):
        assert sources(data)[index] == (cell["source"], None, cell["tile"], False)
    assert orientations(data) == (
        [c["flipped"] for c in cells],
        [c["rotation"] // 90 for c in cells],
    )
    assert sum(1 for s in sources(data) if Path(s[0]).name == HOSTILE_NAME) == 1
    assert min(data["scores"]) >= 0 and max(data["scores"]) > 0
    assert set(data["quality"]) >= {"ssim", "delta_e", "distinct", "max_uses"}
    assert data["quality"]["distinct"] == len(sources(data))
    measured = evaluate(
        open_rgb(built["target"]), open_rgb(built["mosaic"]), read_assignment(built["manifest"])
    )
    assert data["quality"] == pytest.approx(measured.as_dict(), rel=1e-9)
    assert {"match", "render", "report"} <= set(data["timings"])
    assert data["options"]["assign"] == "best"
    # No name reaches the page as markup: index.html is the static viewer, the data a
    # JSON string literal in a script.
    assert "onerror" not in (folder / "index.html").read_text()


def test_report_from_the_manifest_is_the_build_report(
    built: dict[str, Path], tmp_path: Path
) -> None:
    again = tmp_path / "again"
    code, output = run("report", built["manifest"], "-o", again)
    assert code == 0, output
    first, second = report_data(built["report"]), report_data(again)
    for key in ("cells", "orientation", "scores", "sources", "quality", "width", "height"):
        assert first[key] == second[key], key
    assert pyramid_files(built["report"]) == pyramid_files(again)


@dataclass(frozen=True)
class Laid:
    """A mosaic whose tiles are mirrored and turned, its image, manifests and report."""

    mosaic: mosaicfast.Mosaic
    image: Path
    json: Path
    csv: Path
    report: Path


@pytest.fixture
def laid(photo_tiles: Path, photo_target: Path, tmp_path: Path) -> Laid:
    """A mosaic built with ``rotate``: some tiles mirrored, some not, some turned."""
    mosaic = mosaicfast.build(photo_target, photo_tiles, cols=12, tile_size=16, rotate=True)
    assert mosaic.flipped is not None and mosaic.turns is not None
    assert mosaic.flipped.any() and not mosaic.flipped.all() and mosaic.turns.any()
    made = Laid(mosaic, tmp_path / "laid.png", tmp_path / "laid.json", tmp_path / "laid.csv",
                tmp_path / "laid-report")  # fmt: skip
    mosaic.save(made.image, manifest=made.json)
    mosaic.write_manifest(made.csv)
    mosaic_report(mosaic, made.report)
    return made


def test_each_cell_is_laid_in_the_report_as_in_the_mosaic(
    laid: Laid, photo_target: Path, tmp_path: Path
) -> None:
    mosaic = laid.mosaic
    assert mosaic.flipped is not None and mosaic.turns is not None
    expected = (mosaic.flipped.ravel().tolist(), mosaic.turns.ravel().tolist())
    data = report_data(laid.report)
    assert isinstance(data["orientation"], str) and len(data["orientation"]) == 96
    assert orientations(data) == expected
    # Made later from the manifest, JSON or CSV, it is the same.
    from_json = manifest_report(laid.json, tmp_path / "from-json")
    from_csv = manifest_report(
        laid.csv, tmp_path / "from-csv", mosaic=laid.image, target=photo_target
    )
    assert orientations(report_data(from_json.folder)) == expected
    assert orientations(report_data(from_csv.folder)) == expected


def test_a_mosaic_of_tiles_as_they_are_stores_no_orientation(
    photo_tiles: Path, photo_target: Path, tmp_path: Path
) -> None:
    mosaic = mosaicfast.build(photo_target, photo_tiles, cols=12, tile_size=16, flips=False)
    assert report_data(mosaic_report(mosaic, tmp_path / "r").folder)["orientation"] is None


def test_the_manifest_grid_holds_each_cell_tile_mirror_and_turns(laid: Laid) -> None:
    for manifest in (laid.json, laid.csv):
        tiles, flipped, turns = read_grid(manifest)
        assert (tiles == read_assignment(manifest)).all()
        assert flipped.dtype == np.bool_ and (flipped == laid.mosaic.flipped).all()
        assert turns.dtype == np.uint8 and (turns == laid.mosaic.turns).all()


def test_a_manifest_without_rotation_turns_no_tile_and_a_wrong_one_is_refused(
    laid: Laid, tmp_path: Path
) -> None:
    payload = json.loads(laid.json.read_text())
    for cell in payload["cells"]:
        del cell["rotation"]  # as written before rotate
    older = tmp_path / "older.json"
    older.write_text(json.dumps(payload))
    _, mirrored, turns = read_grid(older)
    assert (mirrored == laid.mosaic.flipped).all() and not turns.any()
    payload["cells"][5]["rotation"] = 45
    older.write_text(json.dumps(payload))
    with pytest.raises(MosaicfastError, match="rotation 45 is not 0, 90, 180 or 270"):
        read_grid(older)
    payload["cells"][5].update(rotation=90, flipped="yes")
    older.write_text(json.dumps(payload))
    with pytest.raises(MosaicfastError, match="flipped 'yes' is not true or false"):
        read_grid(older)


def test_report_reads_a_tiff_mosaic_band_by_band(built: dict[str, Path], tmp_path: Path) -> None:
    tif = tmp_path / "m.tif"
    code, output = run(
        "build", tmp_path / "target.png", "--tiles", built["tiles"], "-o", tif, "--tile-size",
        16, "--cols", 12, "--min-distance", 0, "--assign", "best",
    )  # fmt: skip
    assert code == 0, output
    again = tmp_path / "from-tiff"
    code, output = run("report", built["manifest"], "-o", again, "--mosaic", tif)
    assert code == 0, output
    assert pyramid_files(built["report"]) == pyramid_files(again)


def test_a_truncated_tiff_mosaic_is_one_error_and_no_folder(
    built: dict[str, Path], tmp_path: Path
) -> None:
    tif = tmp_path / "m.tif"
    code, output = run(
        "build", tmp_path / "target.png", "--tiles", built["tiles"], "-o", tif, "--tile-size",
        16, "--cols", 12,
    )  # fmt: skip
    assert code == 0, output
    tif.write_bytes(tif.read_bytes()[: tif.stat().st_size // 2])
    code, output = run("report", built["manifest"], "-o", tmp_path / "r", "--mosaic", tif)
    assert code == 1 and output.startswith(f"Error: {tif}: cannot read the mosaic")
    assert len(output.strip().splitlines()) == 1
    assert not [p for p in tmp_path.iterdir() if p.name == "r" or p.name.startswith(".r.")]


def test_a_mosaic_too_large_for_memory_is_painted_band_by_band_for_its_report(
    photo_tiles: Path, photo_target: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mosaic = mosaicfast.build(photo_target, photo_tiles, cols=12, tile_size=16)
    whole = mosaic_report(mosaic, tmp_path / "whole")
    monkeypatch.setattr(writer, "STREAM_PIXELS", 0)
    monkeypatch.setattr(mosaic.painter, "band_pixels", 3 * 12 * 16 * 16)  # 3 cell rows a band
    banded = mosaic_report(mosaic, tmp_path / "banded")
    assert whole.tiles == banded.tiles > 0
    assert pyramid_files(tmp_path / "whole") == pyramid_files(tmp_path / "banded")
    assert report_data(tmp_path / "whole")["quality"] == report_data(tmp_path / "banded")["quality"]


def test_existing_report_folder_is_refused_unless_force(built: dict[str, Path]) -> None:
    folder = built["report"]
    before = (folder / "data.js").stat().st_mtime_ns
    code, output = run("report", built["manifest"], "-o", folder)
    assert code == 1 and "exists; give --force" in output
    assert (folder / "data.js").stat().st_mtime_ns == before
    code, output = run("report", built["manifest"], "-o", folder, "--force")
    assert code == 0, output
    assert report_data(folder)["rows"] == 8
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".report.")]


def test_force_never_replaces_a_folder_that_is_not_a_report(
    built: dict[str, Path], tmp_path: Path
) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "holiday.jpg").write_bytes(b"precious")
    code, output = run("report", built["manifest"], "-o", mine, "--force")
    assert code == 1 and "not a mosaicfast report" in output
    assert (mine / "holiday.jpg").read_bytes() == b"precious"


def test_build_refuses_an_existing_report_folder_before_any_work(
    built: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "new.png"
    code, output = run(
        "build", tmp_path / "target.png", "--tiles", built["tiles"], "-o", out, "--cols", 12,
        "--report", built["report"],
    )  # fmt: skip
    assert code == 1 and "exists; give --force" in output
    assert not out.exists()


def test_moved_tiles_are_marked_with_one_warning(built: dict[str, Path], tmp_path: Path) -> None:
    data = report_data(built["report"])
    gone = sorted({Path(s[0]) for s in sources(data)})[:3]
    for path in gone:
        path.unlink()
    again = tmp_path / "again"
    code, output = run("report", built["manifest"], "-o", again)
    assert code == 0, output
    assert output.count("warning:") == 1 and "moved or vanished" in output
    marked = report_data(again)
    missing = {Path(s[0]) for s in sources(marked) if s[3]}
    assert missing == set(gone)
    cells = sum(1 for i in marked["cells"] if sources(marked)[i][3])
    assert f"warning: {cells} cell(s)" in output


def test_manifest_without_recorded_files_asks_for_them(
    built: dict[str, Path], tmp_path: Path
) -> None:
    payload = json.loads(built["manifest"].read_text())
    del payload["meta"]["output"]
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps(payload))
    code, output = run("report", bare, "-o", tmp_path / "new" / "r")
    assert code == 1 and "give --mosaic" in output and "Traceback" not in output
    assert not (tmp_path / "new").exists()  # a job that cannot be done makes nothing
    other = tmp_path / "other.png"
    Image.new("RGB", (100, 100)).save(other)
    code, output = run("report", bare, "-o", tmp_path / "r", "--mosaic", other)
    assert code == 1 and "not a grid of 12x8" in output
    assert not (tmp_path / "r").exists()


# The report in a real browser: Debian's chromium, driven headless through its
# chromedriver by Selenium (the dev extra), on the loopback only.

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
SCREENSHOT_TOOL = load_tool("report_screenshot")
wait_for = SCREENSHOT_TOOL.wait_for

#: What the page says of a tile in each orientation code (bit 0 the mirror, then the
#: quarter turns counter-clockwise).
LAID = {
    0: "as it is",
    1: "mirrored",
    2: "turned 90° counter-clockwise",
    3: "mirrored, then turned 90° counter-clockwise",
    4: "turned 180°",
    5: "mirrored, then turned 180°",
    6: "turned 270° counter-clockwise",
    7: "mirrored, then turned 270° counter-clockwise",
}


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """A headless chromium, always stopped (with its driver) when the test ends; started
    as tools/report_screenshot.py starts it for the docs' screenshot."""
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip(
            "no chromium or chromedriver on PATH: install Debian's chromium and "
            "chromium-driver (make test does, where apt-get runs as root)"
        )
    with SCREENSHOT_TOOL.headless_chromium(tmp_path / "chromium-profile") as driver:
        yield driver


def screenshot(driver: Any, path: Path, element: Any = None, colours: int = 50) -> np.ndarray:
    """Save a screenshot (of the page, or of one element) and check it is not blank: its
    pixels vary, in at least ``colours`` colours."""
    png = element.screenshot_as_png if element else driver.get_screenshot_as_png()
    path.write_bytes(png)
    shots = os.environ.get("MOSAICFAST_SCREENSHOTS")
    if shots:
        shutil.copyfile(path, Path(shots) / path.name)
    pixels = np.asarray(Image.open(path).convert("RGB")).astype(np.int16)
    distinct = len(np.unique(pixels.reshape(-1, 3), axis=0))
    assert pixels.std() > 10 and distinct >= colours, f"{path.name} looks blank"
    return pixels


@pytest.mark.slow
def test_report_in_a_browser_zooms_shows_provenance_reuse_and_figures(
    built: dict[str, Path], browser: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    data = report_data(built["report"])
    browser.get((built["report"] / "index.html").resolve().as_uri())
    wait_for(browser, "return window.mosaicViewer && mosaicViewer.tilesLoaded()")
    title = browser.title
    whole = screenshot(browser, tmp_path / "report-whole.png")

    canvas = browser.find_element(By.ID, "view")
    canvas.send_keys("+")  # the keyboard zooms in
    browser.execute_script("mosaicViewer.zoomToCell(0, 0, 3)")
    wait_for(browser, "return mosaicViewer.tilesLoaded()")
    x, y = browser.execute_script("return mosaicViewer.cellCentre(0, 0)")
    ActionChains(browser).move_to_element_with_offset(
        canvas, int(x - canvas.size["width"] / 2), int(y - canvas.size["height"] / 2)
    ).perform()
    info = browser.find_element(By.ID, "cell-info")
    wait_for(browser, "return document.getElementById('cell-info').textContent.includes('row 0')")
    text = info.text
    tile = sources(data)[data["cells"][0]]
    assert HOSTILE_NAME in text and "row 0, column 0" in text
    assert f"{sum(1 for i in data['cells'] if i == data['cells'][0])} time" in text
    assert f"ΔE2000 {data['scores'][0] / 10:.1f}" in text and str(tile[2]) in text
    # The hostile name is text: no element made from it, no script run.
    assert info.find_elements(By.TAG_NAME, "img") == [] and browser.title == title
    zoomed = screenshot(browser, tmp_path / "report-cell.png")
    assert np.abs(zoomed - whole).mean() > 5  # the view changed

    canvas.send_keys("h")  # the reuse heat map
    assert browser.find_element(By.ID, "heat").is_selected()
    heat = screenshot(browser, tmp_path / "report-heat.png")
    box = canvas.rect
    region = (slice(int(box["y"]), int(box["y"] + box["height"])),
              slice(int(box["x"]), int(box["x"] + box["width"])))  # fmt: skip
    assert np.abs(heat[region] - zoomed[region]).mean() > 5

    quality = browser.find_element(By.ID, "quality").text
    assert f"{data['quality']['ssim']:.3f}" in quality and "Adjacent duplicates" in quality
    assert "report" in browser.find_element(By.ID, "timings").text
    histogram = browser.find_element(By.ID, "histogram")
    browser.execute_script("arguments[0].scrollIntoView()", histogram)
    bars = screenshot(browser, tmp_path / "report-histogram.png", histogram, colours=3)
    assert (np.abs(bars - (127, 179, 213)).sum(axis=2) < 10).sum() > 100  # the bars' blue


@pytest.mark.slow
def test_report_in_a_browser_says_how_each_tile_is_laid(laid: Laid, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    browser.get((laid.report / "index.html").resolve().as_uri())
    wait_for(browser, "return window.mosaicViewer && mosaicViewer.tilesLoaded()")
    assert laid.mosaic.flipped is not None and laid.mosaic.turns is not None
    codes = (laid.mosaic.flipped.astype(int) + 2 * laid.mosaic.turns.astype(int)).ravel().tolist()
    assert {3, 5, 7} & set(codes)  # some tile is mirrored, then turned
    for code in sorted(set(codes)):
        cell = codes.index(code)
        browser.execute_script("mosaicViewer.showCell(arguments[0])", cell)
        info = browser.find_element(By.ID, "cell-info")
        terms = [e.text for e in info.find_elements(By.TAG_NAME, "dt")]
        values = [e.text for e in info.find_elements(By.TAG_NAME, "dd")]
        assert f"row {cell // 12}, column {cell % 12}" in values
        assert values[terms.index("Laid")] == LAID[code], code


@pytest.mark.slow
def test_the_page_stays_responsive_at_100000_cells(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    rows, cols, side = 250, 400, 4
    image = noise(cols * side, rows * side, seed=5)
    target = Image.fromarray(image)
    folder = tmp_path / "big"
    write_report(
        folder, [image], assignment=np.arange(rows * cols).reshape(rows, cols), tile_size=side,
        source_of=lambda tile: CellSource(f"/photos/p{tile:06d}.jpg", tile_id=tile),
        target=target, options={}, title="big",
    )  # fmt: skip
    # Each cell its own tile, all missing: the worst case of the per-cell data.
    assert (folder / "data.js").stat().st_size < 4_500_000
    start = time.monotonic()
    browser.get((folder / "index.html").resolve().as_uri())
    wait_for(browser, "return window.mosaicViewer && mosaicViewer.tilesLoaded()")
    assert time.monotonic() - start < 10
    # 40 frames of zooming in towards a cell with the heat map on, each drawn at once.
    elapsed = browser.execute_script(
        """
        mosaicViewer.setHeat(true);
        const start = performance.now();
        for (let i = 0; i < 40; i++) {
          mosaicViewer.zoomToCell(200, 300, 400 / (1 + i));
          mosaicViewer.draw();
          mosaicViewer.showCell(200 * 400 + 300);
        }
        return performance.now() - start;
        """
    )
    assert elapsed / 40 < 50, f"{elapsed / 40:.1f} ms a frame"
    text = browser.find_element(By.ID, "cell-info").text
    assert "p080300.jpg" in text and "row 200, column 300" in text and "1 time" in text
