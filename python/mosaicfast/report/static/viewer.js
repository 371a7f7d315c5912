// mosaicfast report viewer: zoom and pan over a Deep Zoom (DZI) pyramid on a canvas,
// with the target, a reuse heat map and missing tiles drawn over it, and the source,
// orientation, uses and match score of the tile under the pointer. Plain JavaScript,
// no network: the data comes from data.js (window.MOSAIC_REPORT). Every name from the
// data is put on screen with textContent, never parsed as HTML.
(function () {
  "use strict";
  const R = window.MOSAIC_REPORT;
  const canvas = document.getElementById("view");
  const ctx = canvas.getContext("2d");
  const DZ = R.dzi;
  const MAX_ZOOM = 4; // screen pixels per mosaic pixel at the closest
  const CACHE = 600; // tile images kept
  const cache = new Map();
  const cellCount = R.rows * R.cols;
  const S = R.sources;
  const tileCount = S.name.length;
  const missing = new Uint8Array(tileCount);
  for (const i of S.missing) missing[i] = 1;
  const uses = new Int32Array(tileCount);
  for (let i = 0; i < cellCount; i++) uses[R.cells[i]]++;
  let maxUses = 1;
  for (let i = 0; i < uses.length; i++) maxUses = Math.max(maxUses, uses[i]);
  const view = { scale: 1, x: 0, y: 0 }; // mosaic px at the left/top edge; screen px per mosaic px
  let cssWidth = 1, cssHeight = 1;
  let showHeat = false, targetAlpha = 0;
  let hovered = -1, pinned = -1;
  let queued = false;

  const targetImage = new Image();
  targetImage.onload = redraw;
  targetImage.src = "target.jpg";
  const heatLayer = cellLayer((i) => heatColour(uses[R.cells[i]]));
  const missingLayer = cellLayer((i) => (missing[R.cells[i]] ? [230, 40, 30, 200] : null));
  const anyMissing = S.missing.length > 0;

  // An offscreen canvas of one pixel per cell, coloured by colour(cell) ([r, g, b, a] or null).
  function cellLayer(colour) {
    const layer = document.createElement("canvas");
    layer.width = R.cols;
    layer.height = R.rows;
    const c = layer.getContext("2d");
    const img = c.createImageData(R.cols, R.rows);
    for (let i = 0; i < cellCount; i++) {
      const rgba = colour(i);
      if (rgba) img.data.set(rgba, i * 4);
    }
    c.putImageData(img, 0, 0);
    return layer;
  }

  // Blue (one use) to red (the most uses), on a diverging scale.
  function heatColour(n) {
    const stops = [[44, 123, 182], [171, 217, 233], [255, 255, 191], [253, 174, 97], [215, 25, 28]];
    const t = maxUses > 1 ? (n - 1) / (maxUses - 1) : 0;
    const p = t * (stops.length - 1), k = Math.min(stops.length - 2, Math.floor(p)), f = p - k;
    const a = stops[k], b = stops[k + 1];
    return [0, 1, 2].map((j) => Math.round(a[j] + (b[j] - a[j]) * f)).concat([255]);
  }

  function levelScale(level) { return Math.pow(2, level - DZ.maxLevel); }

  function tile(level, col, row, request) {
    const key = level + "/" + col + "_" + row;
    let img = cache.get(key);
    if (img) {
      cache.delete(key);
      cache.set(key, img);
    } else if (request) {
      img = new Image();
      img.onload = redraw;
      img.src = DZ.folder + "/" + key + "." + DZ.format;
      cache.set(key, img);
      if (cache.size > CACHE) cache.delete(cache.keys().next().value);
    }
    return img && img.complete && img.naturalWidth ? img : null;
  }

  // Draw the tiles of one level over the visible part; only loaded ones unless request.
  function drawLevel(level, request) {
    const f = 1 / levelScale(level); // mosaic px per level px
    const span = DZ.tileSize * f;
    const c0 = Math.max(0, Math.floor(view.x / span));
    const r0 = Math.max(0, Math.floor(view.y / span));
    const c1 = Math.min(Math.ceil(R.width / span), Math.ceil((view.x + cssWidth / view.scale) / span));
    const r1 = Math.min(Math.ceil(R.height / span), Math.ceil((view.y + cssHeight / view.scale) / span));
    for (let r = r0; r < r1; r++) {
      for (let c = c0; c < c1; c++) {
        const img = tile(level, c, r, request);
        if (!img) continue;
        const x0 = Math.round((c * span - view.x) * view.scale);
        const y0 = Math.round((r * span - view.y) * view.scale);
        const x1 = Math.round((c * span + img.naturalWidth * f - view.x) * view.scale);
        const y1 = Math.round((r * span + img.naturalHeight * f - view.y) * view.scale);
        ctx.drawImage(img, x0, y0, x1 - x0, y1 - y0);
      }
    }
  }

  function wanted() {
    const need = view.scale * (window.devicePixelRatio || 1);
    let level = DZ.maxLevel;
    while (level > 0 && levelScale(level - 1) >= need) level--;
    return level;
  }

  function draw() {
    queued = false;
    const dpr = window.devicePixelRatio || 1;
    cssWidth = canvas.clientWidth || 1;
    cssHeight = canvas.clientHeight || 1;
    if (canvas.width !== Math.round(cssWidth * dpr) || canvas.height !== Math.round(cssHeight * dpr)) {
      canvas.width = Math.round(cssWidth * dpr);
      canvas.height = Math.round(cssHeight * dpr);
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = "#111";
    ctx.fillRect(0, 0, cssWidth, cssHeight);
    ctx.imageSmoothingEnabled = true;
    const level = wanted();
    const preview = Math.min(level, Math.max(0, DZ.maxLevel - Math.ceil(Math.log2(Math.max(R.width, R.height) / DZ.tileSize))));
    drawLevel(preview, true); // the whole mosaic in one tile: always there beneath
    for (let l = Math.max(preview + 1, level - 2); l < level; l++) drawLevel(l, false);
    if (level > preview) drawLevel(level, true);
    const x = -view.x * view.scale, y = -view.y * view.scale;
    const w = R.width * view.scale, h = R.height * view.scale;
    if (targetAlpha > 0 && targetImage.complete && targetImage.naturalWidth) {
      ctx.globalAlpha = targetAlpha;
      ctx.drawImage(targetImage, x, y, w, h);
    }
    ctx.imageSmoothingEnabled = false;
    if (showHeat) {
      ctx.globalAlpha = 0.6;
      ctx.drawImage(heatLayer, x, y, w, h);
    }
    if (anyMissing) {
      ctx.globalAlpha = 0.75;
      ctx.drawImage(missingLayer, x, y, w, h);
    }
    ctx.globalAlpha = 1;
    const cell = pinned >= 0 ? pinned : hovered;
    if (cell >= 0) {
      const s = R.tileSize * view.scale;
      const cx = (cell % R.cols) * R.tileSize, cy = Math.floor(cell / R.cols) * R.tileSize;
      ctx.lineWidth = 2;
      ctx.strokeStyle = "#000";
      ctx.strokeRect((cx - view.x) * view.scale - 1, (cy - view.y) * view.scale - 1, s + 2, s + 2);
      ctx.strokeStyle = "#fff";
      ctx.strokeRect((cx - view.x) * view.scale + 1, (cy - view.y) * view.scale + 1, s - 2, s - 2);
    }
  }

  function redraw() {
    if (!queued) {
      queued = true;
      requestAnimationFrame(draw);
    }
  }

  function fitScale() { return Math.min(cssWidth / R.width, cssHeight / R.height); }

  function clampView() {
    view.scale = Math.min(MAX_ZOOM, Math.max(fitScale() / 2, view.scale));
    const w = cssWidth / view.scale, h = cssHeight / view.scale;
    view.x = w >= R.width ? (R.width - w) / 2 : Math.min(R.width - w, Math.max(0, view.x));
    view.y = h >= R.height ? (R.height - h) / 2 : Math.min(R.height - h, Math.max(0, view.y));
  }

  function fit() {
    cssWidth = canvas.clientWidth || 1;
    cssHeight = canvas.clientHeight || 1;
    view.scale = fitScale();
    clampView();
    redraw();
  }

  // Zoom by factor about the screen point (sx, sy), which stays over the same mosaic point.
  function zoomAt(sx, sy, factor) {
    const mx = view.x + sx / view.scale, my = view.y + sy / view.scale;
    view.scale *= factor;
    clampView();
    view.x = mx - sx / view.scale;
    view.y = my - sy / view.scale;
    clampView();
    redraw();
  }

  function pan(dx, dy) {
    view.x -= dx / view.scale;
    view.y -= dy / view.scale;
    clampView();
    redraw();
  }

  // Centre cell (row, col) with about `across` cells across the view.
  function zoomToCell(row, col, across) {
    cssWidth = canvas.clientWidth || 1;
    cssHeight = canvas.clientHeight || 1;
    view.scale = Math.min(cssWidth, cssHeight) / ((across || 5) * R.tileSize);
    clampView();
    view.x = (col + 0.5) * R.tileSize - cssWidth / 2 / view.scale;
    view.y = (row + 0.5) * R.tileSize - cssHeight / 2 / view.scale;
    clampView();
    redraw();
  }

  function cellAt(sx, sy) {
    const mx = view.x + sx / view.scale, my = view.y + sy / view.scale;
    if (mx < 0 || my < 0 || mx >= R.width || my >= R.height) return -1;
    return Math.floor(my / R.tileSize) * R.cols + Math.floor(mx / R.tileSize);
  }

  function timeText(seconds) {
    const s = Math.floor(seconds), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    const pad = (n) => String(n).padStart(2, "0");
    const frac = seconds - s > 1e-6 ? (seconds - s).toFixed(1).slice(1) : "";
    return pad(h) + ":" + pad(m) + ":" + pad(s % 60) + frac;
  }

  // How the tile of a cell is laid: its orientation code c (a digit of R.orientation) is
  // the tile mirrored left to right if c & 1, then turned c >> 1 quarter turns
  // counter-clockwise.
  function laidText(cell) {
    const c = R.orientation ? R.orientation.charCodeAt(cell) - 48 : 0, quarters = c >> 1;
    const turned = quarters === 0 ? "" : "turned " + 90 * quarters + "\u00b0" + (quarters === 2 ? "" : " counter-clockwise");
    if (c & 1) return turned ? "mirrored, then " + turned : "mirrored";
    return turned || "as it is";
  }

  function fill(list, pairs) {
    list.replaceChildren();
    for (const [name, value, className] of pairs) {
      const dt = document.createElement("dt");
      const dd = document.createElement("dd");
      dt.textContent = name;
      dd.textContent = value;
      if (className) dd.className = className;
      list.append(dt, dd);
    }
  }

  function showCell(cell) {
    const info = document.getElementById("cell-info");
    if (cell < 0) {
      fill(info, [["Hover or tap a tile", ""]]);
      return;
    }
    const t = R.cells[cell], time = S.time ? S.time[t] : null;
    const pairs = [
      ["Cell", "row " + Math.floor(cell / R.cols) + ", column " + (cell % R.cols)],
      [time === null ? "Photo" : "Video", S.name[t]],
    ];
    if (time !== null) pairs.push(["Frame at", timeText(time)]);
    pairs.push(["Folder", S.folders[S.folder[t]]]);
    if (S.tileId[t] !== null) pairs.push(["Library id", String(S.tileId[t])]);
    pairs.push(["Laid", laidText(cell), "words"]);
    pairs.push(["Used", uses[t] + (uses[t] === 1 ? " time" : " times")]);
    pairs.push(["Match", "\u0394E2000 " + (R.scores[cell] / 10).toFixed(1) + " (lower is closer)"]);
    if (missing[t]) pairs.push(["File", "missing: moved or deleted since the build", "missing"]);
    fill(info, pairs);
  }

  function setHovered(cell) {
    if (cell !== hovered) {
      hovered = cell;
      if (pinned < 0) showCell(cell);
      redraw();
    }
  }

  // Pointer input: one pointer pans (or taps a cell), two pinch-zoom; mouse hover shows cells.
  const pointers = new Map();
  let moved = 0, pinch = 0;
  canvas.addEventListener("pointerdown", (e) => {
    canvas.setPointerCapture(e.pointerId);
    pointers.set(e.pointerId, { x: e.offsetX, y: e.offsetY });
    moved = 0;
    if (pointers.size === 2) pinch = spread();
    canvas.focus();
  });
  canvas.addEventListener("pointermove", (e) => {
    const last = pointers.get(e.pointerId);
    if (!last) {
      setHovered(cellAt(e.offsetX, e.offsetY));
      return;
    }
    const dx = e.offsetX - last.x, dy = e.offsetY - last.y;
    last.x = e.offsetX;
    last.y = e.offsetY;
    moved += Math.abs(dx) + Math.abs(dy);
    if (pointers.size === 1) {
      pan(dx, dy);
    } else if (pointers.size === 2) {
      const now = spread(), mid = middle();
      if (pinch > 0) zoomAt(mid.x, mid.y, now / pinch);
      pinch = now;
    }
  });
  function release(e) {
    if (pointers.delete(e.pointerId) && pointers.size === 0 && moved < 6 && e.type === "pointerup") {
      const cell = cellAt(e.offsetX, e.offsetY);
      pinned = cell === pinned ? -1 : cell;
      hovered = cell;
      showCell(cell);
      redraw();
    }
    if (pointers.size < 2) pinch = 0;
  }
  canvas.addEventListener("pointerup", release);
  canvas.addEventListener("pointercancel", release);
  canvas.addEventListener("pointerleave", (e) => { if (!pointers.has(e.pointerId)) setHovered(-1); });
  function spread() {
    const [a, b] = [...pointers.values()];
    return Math.hypot(a.x - b.x, a.y - b.y);
  }
  function middle() {
    const [a, b] = [...pointers.values()];
    return { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 };
  }
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    const step = e.deltaMode === 1 ? e.deltaY * 16 : e.deltaY;
    zoomAt(e.offsetX, e.offsetY, Math.exp(-step * 0.0015));
  }, { passive: false });
  canvas.addEventListener("dblclick", (e) => zoomAt(e.offsetX, e.offsetY, 2));

  const opacity = document.getElementById("target-opacity");
  const heat = document.getElementById("heat");
  opacity.addEventListener("input", () => { targetAlpha = opacity.value / 100; redraw(); });
  heat.addEventListener("change", () => setHeat(heat.checked));
  function setHeat(on) {
    showHeat = on;
    heat.checked = on;
    document.getElementById("heat-legend").style.display = on ? "block" : "none";
    redraw();
  }
  document.addEventListener("keydown", (e) => {
    if (e.target instanceof HTMLInputElement || e.ctrlKey || e.metaKey || e.altKey) return;
    const step = 80, cx = cssWidth / 2, cy = cssHeight / 2;
    const keys = {
      "+": () => zoomAt(cx, cy, 1.5), "=": () => zoomAt(cx, cy, 1.5), "-": () => zoomAt(cx, cy, 1 / 1.5),
      "0": fit, Home: fit, ArrowLeft: () => pan(step, 0), ArrowRight: () => pan(-step, 0),
      ArrowUp: () => pan(0, step), ArrowDown: () => pan(0, -step), h: () => setHeat(!showHeat),
      t: () => { opacity.value = targetAlpha > 0 ? 0 : 60; opacity.dispatchEvent(new Event("input")); },
      Escape: () => { pinned = -1; showCell(hovered); redraw(); },
    };
    if (keys[e.key]) {
      e.preventDefault();
      keys[e.key]();
    }
  });
  window.addEventListener("resize", () => { clampView(); redraw(); });
  window.addEventListener("hashchange", fromHash);

  // #cell=ROW,COL opens the report zoomed on that cell, its source shown.
  function fromHash() {
    const m = /^#cell=(\d+),(\d+)$/.exec(location.hash);
    if (!m) return false;
    const row = Math.min(R.rows - 1, +m[1]), col = Math.min(R.cols - 1, +m[2]);
    zoomToCell(row, col, 5);
    pinned = row * R.cols + col;
    showCell(pinned);
    return true;
  }

  function panels() {
    document.title = R.title + " \u2014 mosaicfast report";
    document.getElementById("title").textContent = R.title;
    const missingCells = R.cells.reduce((n, t) => n + missing[t], 0);
    document.getElementById("summary").textContent =
      R.width + " \u00d7 " + R.height + " px, " + R.cols + " \u00d7 " + R.rows + " cells of " + R.tileSize +
      " px, " + tileCount.toLocaleString("en") + " distinct tiles" +
      (missingCells ? "; " + missingCells + " cells (red) show tiles whose files are missing" : "");
    const q = R.quality;
    fill(document.getElementById("quality"), [
      ["SSIM (luma, 8 px per cell)", q.ssim.toFixed(3)],
      ["Mean CIEDE2000", q.delta_e.toFixed(2)],
      ["Distinct tiles", q.distinct.toLocaleString("en") + " (" + (100 * q.distinct_ratio).toFixed(1) + "% of cells)"],
      ["Most uses of one tile", String(q.max_uses)],
      ["Adjacent duplicates", (100 * q.adjacent_duplicates).toFixed(1) + "%"],
    ]);
    const stages = Object.entries(R.timings);
    const total = stages.reduce((s, [, v]) => s + v, 0);
    fill(document.getElementById("timings"), stages.map(([k, v]) => [k, v.toFixed(2) + " s"])
      .concat(stages.length ? [["total", total.toFixed(2) + " s"]] : []));
    fill(document.getElementById("options"), Object.entries(R.options).map(([k, v]) => [k, JSON.stringify(v)]));
    histogram();
  }

  // Bars: how many tiles are used n times, n from 1 to the most uses (in up to 60 bins).
  function histogram() {
    const c = document.getElementById("histogram");
    const g = c.getContext("2d");
    const bins = Math.min(60, maxUses), counts = new Array(bins).fill(0);
    for (let i = 0; i < uses.length; i++) counts[Math.min(bins - 1, Math.floor(((uses[i] - 1) * bins) / maxUses))]++;
    const top = Math.max(...counts), w = c.width / bins, h = c.height - 16;
    g.fillStyle = "#262629";
    g.fillRect(0, 0, c.width, c.height);
    g.fillStyle = "#7fb3d5";
    counts.forEach((n, i) => {
      const bar = Math.max(n ? 1 : 0, Math.round((h * n) / top));
      g.fillRect(i * w + 1, h - bar, Math.max(1, w - 2), bar);
    });
    g.fillStyle = "#ccd";
    g.font = "11px sans-serif";
    g.fillText("1 use", 2, c.height - 3);
    const label = maxUses + " uses";
    g.fillText(label, c.width - g.measureText(label).width - 2, c.height - 3);
  }

  window.mosaicViewer = {
    zoomToCell: zoomToCell,
    setHeat: setHeat,
    draw: draw, // at once, not at the next frame (to time it)
    showCell: showCell,
    // Where the centre of cell (row, col) is, in CSS pixels from the canvas's top left.
    cellCentre: (row, col) => [((col + 0.5) * R.tileSize - view.x) * view.scale, ((row + 0.5) * R.tileSize - view.y) * view.scale],
    tilesLoaded: () => [...cache.values()].every((img) => img.complete),
  };
  panels();
  fit();
  fromHash();
})();
