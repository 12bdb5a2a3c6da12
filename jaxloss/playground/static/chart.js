// chart.js — the playground's own small canvas charting module (not the Chart.js library):
// LineChart (several named series, auto or fixed y range, optional log y, legend, hover readout,
// a vertical marker line, pixel <-> data conversion for dragging); heatmaps: decoding a frame's
// output grid into colours and boundary fields, painting grids and neuron squares, marching-squares
// contour lines for decision boundaries; and the small dataset thumbnails of the train page.

import { fmt, decodeF32, diverging, mixClasses, mix, css, PALETTE, BLUE, ORANGE, WHITE } from "./common.js";

/** Resize a canvas's backing store to its CSS size x devicePixelRatio; returns {ctx, w, h} in CSS px. */
export function fitCanvas(canvas) {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(1, canvas.clientWidth), h = Math.max(1, canvas.clientHeight);
  const bw = Math.round(w * dpr), bh = Math.round(h * dpr);
  if (canvas.width !== bw || canvas.height !== bh) { canvas.width = bw; canvas.height = bh; }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return { ctx, w, h };
}

/** "Nice" tick values covering [lo, hi] (about n of them). */
export function niceTicks(lo, hi, n = 5) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || 10 * mag;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

const tickText = (v) => {
  const a = Math.abs(v);
  if (a === 0) return "0";
  if (a >= 1e6 || a < 1e-3) return v.toExponential(0);
  return String(Number(v.toPrecision(3)));
};

/**
 * A line chart on a canvas. series: [{name, color, x: number[], y: (number|null)[], dash?}].
 * Options: title, xLabel, logY, legend (bool), includeZero, xRange [lo, hi] (else from the data), marker
 * (x of a vertical line, with dots at each series' markerY), refLine (x of a dotted line); the height
 * is the canvas's CSS height.
 */
export class LineChart {
  constructor(canvas, opts = {}) {
    this.canvas = canvas;
    this.opts = { legend: true, logY: false, ...opts };
    this.series = [];
    this.hoverPx = null;
    this.pad = { l: 48, r: 16, t: opts.title ? 20 : 8, b: opts.xLabel ? 30 : 18 };
    canvas.addEventListener("mousemove", (e) => {
      this.hoverPx = e.offsetX;
      this.draw();
    });
    canvas.addEventListener("mouseleave", () => { this.hoverPx = null; this.draw(); });
  }

  set(series, extra = {}) {
    this.series = series;
    Object.assign(this.opts, extra);
  }

  /** The data x range shown. */
  xRange() {
    if (this.opts.xRange) return this.opts.xRange;
    let lo = Infinity, hi = -Infinity;
    for (const s of this.series) for (const v of s.x) { if (v < lo) lo = v; if (v > hi) hi = v; }
    if (!Number.isFinite(lo)) return [0, 1];
    return hi > lo ? [lo, hi] : [lo - 0.5, hi + 0.5];
  }

  yRange() {
    const log = this.opts.logY;
    let lo = Infinity, hi = -Infinity;
    for (const s of this.series) {
      for (const v of s.y) {
        if (v === null || !Number.isFinite(v) || (log && v <= 0)) continue;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
    if (!Number.isFinite(lo)) return log ? [0.1, 1] : [0, 1];
    if (log) {
      const a = Math.floor(Math.log10(lo) * 4) / 4, b = Math.ceil(Math.log10(hi) * 4) / 4;
      return [10 ** a, 10 ** (b > a ? b : a + 1)];
    }
    if (this.opts.includeZero) { lo = Math.min(lo, 0); hi = Math.max(hi, 0); }
    if (hi === lo) { lo -= Math.abs(lo) * 0.1 || 0.5; hi += Math.abs(hi) * 0.1 || 0.5; }
    const padY = (hi - lo) * 0.06;
    return [lo - padY, hi + padY];
  }

  /** The plot area in CSS pixels. */
  plotRect() {
    const w = this.canvas.clientWidth, h = this.canvas.clientHeight, p = this.pad;
    return { x: p.l, y: p.t, w: Math.max(1, w - p.l - p.r), h: Math.max(1, h - p.t - p.b) };
  }

  pxToX(px) {
    const r = this.plotRect(), [a, b] = this.xRange();
    return a + ((px - r.x) / r.w) * (b - a);
  }

  xToPx(x) {
    const r = this.plotRect(), [a, b] = this.xRange();
    return r.x + ((x - a) / (b - a)) * r.w;
  }

  draw() {
    const { ctx, w, h } = fitCanvas(this.canvas);
    const r = this.plotRect();
    const [xa, xb] = this.xRange();
    const [ya, yb] = this.yRange();
    const log = this.opts.logY;
    const fy = log ? (v) => Math.log10(v) : (v) => v;
    const Y0 = fy(ya), Y1 = fy(yb);
    const X = (v) => r.x + ((v - xa) / (xb - xa || 1)) * r.w;
    const Y = (v) => r.y + r.h - ((fy(v) - Y0) / (Y1 - Y0 || 1)) * r.h;
    this._X = X;

    ctx.clearRect(0, 0, w, h);
    ctx.font = "11px system-ui, sans-serif";
    // grid + ticks
    ctx.strokeStyle = "#e6e6e6";
    ctx.fillStyle = "#666";
    ctx.lineWidth = 1;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    const yt = log
      ? Array.from({ length: Math.floor(Y1) - Math.ceil(Y0) + 1 }, (_, i) => 10 ** (Math.ceil(Y0) + i))
      : niceTicks(ya, yb, Math.max(2, Math.round(r.h / 32)));
    for (const v of yt) {
      const py = Math.round(Y(v)) + 0.5;
      ctx.beginPath(); ctx.moveTo(r.x, py); ctx.lineTo(r.x + r.w, py); ctx.stroke();
      ctx.fillText(tickText(v), r.x - 4, py);
    }
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (const v of niceTicks(xa, xb, Math.max(2, Math.round(r.w / 70)))) {
      const px = Math.round(X(v)) + 0.5;
      ctx.beginPath(); ctx.moveTo(px, r.y); ctx.lineTo(px, r.y + r.h); ctx.stroke();
      ctx.fillText(tickText(v), px, r.y + r.h + 3);
    }
    if (!log && ya < 0 && yb > 0) {
      ctx.strokeStyle = "#bbb";
      ctx.beginPath(); ctx.moveTo(r.x, Y(0)); ctx.lineTo(r.x + r.w, Y(0)); ctx.stroke();
    }
    ctx.strokeStyle = "#999";
    ctx.strokeRect(r.x + 0.5, r.y + 0.5, r.w, r.h);
    if (this.opts.title) {
      ctx.fillStyle = "#333"; ctx.textAlign = "left"; ctx.font = "600 11px system-ui, sans-serif";
      ctx.fillText(this.opts.title, r.x, 4);
      ctx.font = "11px system-ui, sans-serif";
    }
    if (this.opts.xLabel) {
      ctx.fillStyle = "#666"; ctx.textAlign = "center";
      ctx.fillText(this.opts.xLabel, r.x + r.w / 2, r.y + r.h + 16);
    }

    // series
    ctx.save();
    ctx.beginPath(); ctx.rect(r.x, r.y, r.w, r.h); ctx.clip();
    ctx.lineWidth = 1.8;
    ctx.lineJoin = "round";
    for (const s of this.series) {
      ctx.strokeStyle = s.color;
      ctx.setLineDash(s.dash || []);
      ctx.beginPath();
      let pen = false;
      for (let i = 0; i < s.x.length; i++) {
        const v = s.y[i];
        if (v === null || v === undefined || !Number.isFinite(v) || (log && v <= 0)) { pen = false; continue; }
        const px = X(s.x[i]), py = Math.max(-1e4, Math.min(1e4, Y(v)));
        if (pen) ctx.lineTo(px, py); else ctx.moveTo(px, py);
        pen = true;
      }
      ctx.stroke();
    }
    ctx.setLineDash([]);
    for (const s of this.series) {   // a lone point (e.g. step 0) has no line: draw a dot
      const idx = s.y.map((v, i) => (v === null || !Number.isFinite(v) || (log && v <= 0) ? -1 : i)).filter((i) => i >= 0);
      if (idx.length !== 1) continue;
      ctx.fillStyle = s.color;
      ctx.beginPath(); ctx.arc(X(s.x[idx[0]]), Y(s.y[idx[0]]), 2.5, 0, 2 * Math.PI); ctx.fill();
    }
    if (Number.isFinite(this.opts.refLine)) {   // a dotted reference line (e.g. the regression target)
      const px = X(this.opts.refLine);
      ctx.strokeStyle = "#555"; ctx.lineWidth = 1; ctx.setLineDash([2, 3]);
      ctx.beginPath(); ctx.moveTo(px, r.y); ctx.lineTo(px, r.y + r.h); ctx.stroke();
      ctx.setLineDash([]);
    }
    if (this.opts.marker !== undefined && this.opts.marker !== null) {
      const px = X(this.opts.marker);
      ctx.strokeStyle = "#222"; ctx.lineWidth = 1.2;
      ctx.beginPath(); ctx.moveTo(px, r.y); ctx.lineTo(px, r.y + r.h); ctx.stroke();
      for (const s of this.series) {
        const v = s.markerY;
        if (v === null || v === undefined || !Number.isFinite(v)) continue;
        ctx.fillStyle = s.color;
        ctx.beginPath(); ctx.arc(px, Y(v), 4, 0, 2 * Math.PI); ctx.fill();
        ctx.strokeStyle = "#fff"; ctx.lineWidth = 1; ctx.stroke();
      }
    }
    ctx.restore();

    if (this.opts.legend && this.series.length) this.drawLegend(ctx, r);
    if (this.hoverPx !== null && this.hoverPx >= r.x && this.hoverPx <= r.x + r.w) this.drawHover(ctx, r, X);
  }

  drawLegend(ctx, r) {
    const items = this.series.filter((s) => !s.noLegend);
    if (!items.length) return;
    ctx.font = "11px system-ui, sans-serif";
    const wmax = Math.max(...items.map((s) => ctx.measureText(s.name).width));
    const bw = wmax + 30, bh = items.length * 14 + 6;
    const bx = r.x + r.w - bw - 4, by = r.y + 4;
    ctx.fillStyle = "rgba(255,255,255,0.85)";
    ctx.fillRect(bx, by, bw, bh);
    ctx.textAlign = "left"; ctx.textBaseline = "middle";
    items.forEach((s, i) => {
      const y = by + 10 + i * 14;
      ctx.strokeStyle = s.color; ctx.lineWidth = 2; ctx.setLineDash(s.dash || []);
      ctx.beginPath(); ctx.moveTo(bx + 4, y); ctx.lineTo(bx + 22, y); ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = "#333";
      ctx.fillText(s.name, bx + 26, y);
    });
  }

  drawHover(ctx, r, X) {
    const xv = this.pxToX(this.hoverPx);
    const lines = [];
    for (const s of this.series) {
      if (!s.x.length) continue;
      let best = 0, bd = Infinity;
      for (let i = 0; i < s.x.length; i++) {
        const d = Math.abs(s.x[i] - xv);
        if (d < bd) { bd = d; best = i; }
      }
      lines.push({ color: s.color, text: `${s.name}: ${fmt(s.y[best])}`, x: s.x[best] });
    }
    if (!lines.length) return;
    const px = X(lines[0].x);
    ctx.strokeStyle = "rgba(0,0,0,0.25)"; ctx.lineWidth = 1;
    ctx.beginPath(); ctx.moveTo(px, r.y); ctx.lineTo(px, r.y + r.h); ctx.stroke();
    const hx = lines[0].x, head = `${this.opts.xName || "x"} = ${Number.isInteger(hx) && Math.abs(hx) < 1e9 ? hx : fmt(hx)}`;
    ctx.font = "11px system-ui, sans-serif";
    const wmax = Math.max(ctx.measureText(head).width, ...lines.map((l) => ctx.measureText(l.text).width));
    const bw = wmax + 12, bh = (lines.length + 1) * 13 + 6;
    const bx = px + 8 + bw > r.x + r.w ? px - 8 - bw : px + 8;
    const by = r.y + r.h - bh - 4;
    ctx.fillStyle = "rgba(255,255,255,0.92)"; ctx.strokeStyle = "#ccc";
    ctx.fillRect(bx, by, bw, bh); ctx.strokeRect(bx + 0.5, by + 0.5, bw, bh);
    ctx.textAlign = "left"; ctx.textBaseline = "top";
    ctx.fillStyle = "#333"; ctx.fillText(head, bx + 6, by + 4);
    lines.forEach((l, i) => { ctx.fillStyle = l.color; ctx.fillText(l.text, bx + 6, by + 4 + (i + 1) * 13); });
  }
}

// ---- heatmaps ----------------------------------------------------------------------------------
/**
 * Paint an n x n grid (row 0 = top) onto a small canvas; colorAt(i) -> [r, g, b] for cell i.
 * Returns that canvas (reused via cache object {canvas}) for drawImage with smoothing.
 */
export function gridImage(n, colorAt, cache = {}) {
  if (!cache.canvas || cache.canvas.width !== n) {
    cache.canvas = document.createElement("canvas");
    cache.canvas.width = n; cache.canvas.height = n;
  }
  const ctx = cache.canvas.getContext("2d");
  const img = ctx.createImageData(n, n);
  const d = img.data;
  for (let i = 0; i < n * n; i++) {
    const c = colorAt(i);
    d[4 * i] = c[0]; d[4 * i + 1] = c[1]; d[4 * i + 2] = c[2]; d[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  return cache.canvas;
}

/** Paint a grid straight into a canvas whose backing store is n x n (CSS scaling smooths it). */
export function paintSmallCanvas(canvas, n, colorAt) {
  if (canvas.width !== n || canvas.height !== n) { canvas.width = n; canvas.height = n; }
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(n, n);
  for (let i = 0; i < n * n; i++) {
    const c = colorAt(i);
    img.data[4 * i] = c[0]; img.data[4 * i + 1] = c[1]; img.data[4 * i + 2] = c[2]; img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

/**
 * Contour line at level 0 of an n x n field (row 0 = top) by marching squares, drawn into the
 * rectangle (x, y, w, h) of ctx; the grid's cell centres map onto the rectangle's sample points.
 */
export function drawContour(ctx, field, n, x, y, w, h) {
  const sx = w / (n - 1), sy = h / (n - 1);
  const P = (i, j) => [x + j * sx, y + i * sy];
  const cross = (a, b, pa, pb) => {
    const t = a / (a - b);
    return [pa[0] + (pb[0] - pa[0]) * t, pa[1] + (pb[1] - pa[1]) * t];
  };
  ctx.beginPath();
  for (let i = 0; i < n - 1; i++) {
    for (let j = 0; j < n - 1; j++) {
      const v = [field[i * n + j], field[i * n + j + 1], field[(i + 1) * n + j + 1], field[(i + 1) * n + j]];
      if (v.some((q) => !Number.isFinite(q))) continue;
      const p = [P(i, j), P(i, j + 1), P(i + 1, j + 1), P(i + 1, j)];
      const pts = [];
      for (let k = 0; k < 4; k++) {
        const a = v[k], b = v[(k + 1) % 4];
        if ((a > 0) !== (b > 0)) pts.push(cross(a, b, p[k], p[(k + 1) % 4]));
      }
      for (let k = 0; k + 1 < pts.length; k += 2) {
        ctx.moveTo(pts[k][0], pts[k][1]);
        ctx.lineTo(pts[k + 1][0], pts[k + 1][1]);
      }
    }
  }
  ctx.stroke();
}

/**
 * A frame's output grid -> {n, extent, colorAt(i) -> rgb, fields: [Float32Array]} where each field's
 * zero contour is a decision boundary ("score": the score; "probs": p_c - max of the other classes).
 */
export function gridView(g) {
  if (!g) return null;
  const n = g.size, vals = decodeF32(g.values), nn = n * n;
  const k = g.encoding === "probs" ? Math.max(1, Math.round(vals.length / nn)) : 1;
  let colorAt;
  const fields = [];
  if (g.encoding === "probs") {
    const p = new Array(k);
    colorAt = (i) => { for (let c = 0; c < k; c++) p[c] = vals[c * nn + i]; return mixClasses(p); };
    for (let c = 0; c < k; c++) {
      const d = new Float32Array(nn);
      for (let i = 0; i < nn; i++) {
        let other = -Infinity;
        for (let j = 0; j < k; j++) if (j !== c && vals[j * nn + i] > other) other = vals[j * nn + i];
        d[i] = vals[c * nn + i] - other;
      }
      fields.push(d);
    }
  } else if (g.encoding === "value") {
    colorAt = (i) => diverging(Math.max(-1, Math.min(1, vals[i])));
  } else {
    colorAt = (i) => diverging(Math.tanh(vals[i]));
    fields.push(vals);
  }
  return { n, extent: g.extent, colorAt, fields };
}

/** A neuron's n x n heatmap into a small canvas (scaled down to [-1, 1] when it exceeds it). */
export function paintNode(canvas, vals, n) {
  if (!canvas || !vals || vals.length !== n * n) return;
  let m = 0;
  for (const v of vals) if (Number.isFinite(v) && Math.abs(v) > m) m = Math.abs(v);
  const s = m > 1 ? 1 / m : 1;
  paintSmallCanvas(canvas, n, (i) => diverging(vals[i] * s));
}

const FEATURE_FN = {
  x1: (x) => x, x2: (x, y) => y, x1sq: (x) => x * x, x2sq: (x, y) => y * y, x1x2: (x, y) => x * y,
  sinx1: (x) => Math.sin(x), sinx2: (x, y) => Math.sin(y),
};

/** An input feature's values on an n x n grid over [-E, E]^2 (row 0 = top), or null if unknown. */
export function featureValues(name, n, E) {
  const fn = FEATURE_FN[name];
  if (!fn) return null;
  const vals = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) vals[i * n + j] = fn(-E + (2 * E * j) / (n - 1), E - (2 * E * i) / (n - 1));
  }
  return vals;
}

/** A small picture of a dataset ({name, task, classes}), guessed from its name; the label goes under it. */
export function drawThumb(canvas, d) {
  const ctx = canvas.getContext("2d"), S = canvas.width;
  let seed = [...d.name].reduce((a, ch) => (a * 31 + ch.charCodeAt(0)) >>> 0, 7);
  const rnd = () => (seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32;
  const gauss = () => Math.sqrt(-2 * Math.log(rnd() + 1e-9)) * Math.cos(2 * Math.PI * rnd());
  const name = d.name.toLowerCase();
  const K = d.task === "multiclass" ? d.classes || 4 : 2;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, S, S);
  for (let i = 0; i < 80; i++) {
    let x = rnd() * 2 - 1, y = rnd() * 2 - 1, c;
    const k = i % K;
    if (name.includes("circle")) c = Math.hypot(x, y) < 0.5 ? 1 : 0;
    else if (name.includes("xor")) c = x * y > 0 ? 1 : 0;
    else if (name.includes("spiral") || name.includes("arm")) {
      const t = rnd() * 2.6 + 0.3, a = t * 2.2 + (2 * Math.PI * k) / K;
      x = (t / 3) * Math.cos(a) + gauss() * 0.03; y = (t / 3) * Math.sin(a) + gauss() * 0.03; c = k;
    } else if (name.includes("moon")) {
      const a = rnd() * Math.PI;
      x = 0.7 * Math.cos(a) + (k ? -0.3 : 0.3); y = k ? 0.7 * Math.sin(a) - 0.25 : -0.7 * Math.sin(a) + 0.25; c = k;
    } else if (d.task === "regression") {
      c = name.includes("plane") || name.includes("linear") ? (x + y) / 2 : Math.sin(3 * x) * Math.cos(2 * y);
    } else {
      const a = (2 * Math.PI * k) / K + 0.8;
      x = 0.5 * Math.cos(a) + gauss() * 0.18; y = 0.5 * Math.sin(a) + gauss() * 0.18; c = k;
    }
    const col = d.task === "regression" ? diverging(c) : d.task === "multiclass" ? PALETTE[c % 8] : c ? BLUE : ORANGE;
    ctx.fillStyle = css(col);
    ctx.beginPath();
    ctx.arc(((x + 1) / 2) * S, ((1 - y) / 2) * S, 2.2, 0, 2 * Math.PI);
    ctx.fill();
  }
}

/** Map a square data plane [-E, E]^2 onto a w x h canvas: returns [px(x), py(y)]. */
export const mapper = (E, w, h) => [(x) => ((x + E) / (2 * E)) * w, (y) => ((E - y) / (2 * E)) * h];

/** Paint a gridView onto a w x h canvas, faded towards white; grid samples sit on the canvas edges. */
export function paintGrid(ctx, g, w, h, fade, imgCache) {
  const img = gridImage(g.n, (i) => mix(g.colorAt(i), WHITE, fade), imgCache);
  const half = w / (2 * (g.n - 1)), halfH = h / (2 * (g.n - 1));
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(img, -half, -halfH, w + 2 * half, h + 2 * halfH);
}

/** Corner labels of a [-E, E]^2 map. */
export function drawAxes(ctx, E, w, h) {
  ctx.fillStyle = "rgba(0,0,0,0.55)";
  ctx.font = "10px system-ui, sans-serif";
  ctx.textBaseline = "bottom";
  ctx.textAlign = "left"; ctx.fillText(String(-E), 3, h - 2);
  ctx.textAlign = "right"; ctx.fillText(String(E), w - 3, h - 2);
  ctx.textBaseline = "top"; ctx.fillText(String(E), w - 3, 2);
}
