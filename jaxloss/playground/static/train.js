// train.js — the training page: builds the controls from /api/catalog, keeps a server session,
// sends every control change as the full state (POST /api/train/update, one request in flight),
// receives frames over server-sent events and draws the latest one once per animation frame:
// the output heatmap with the data, the per-point "pull" map, the network (neuron heatmaps and
// weight links), and the loss / metric / per-term charts.

import {
  api, showError, clearError, setHash, loadFromHash, setupChrome, replaceState, followHash, LatestSender, fillSelect,
  selectNumber, el, fmt, fmtValue, decodeF32, diverging, sequential, css, paletteCss,
  defaultOptions, buildHyperRows, syncHyperRows, isDragging, ORANGE, BLUE, PALETTE,
} from "./common.js";
import {
  LineChart, fitCanvas, paintSmallCanvas, drawContour, gridView, paintNode, featureValues, drawThumb, mapper,
  paintGrid, drawAxes,
} from "./chart.js";

const $ = (id) => document.getElementById(id);
const pg = (window.playground = {
  ready: false, state: null, catalog: null, frame: null, frames: 0, frameTimes: [], drawTimes: [], session: null,
});
let catalog = null;
let source = null;        // EventSource
let data = null;          // decoded frame.data (kept across frames)
let hist = newHistory(-1);
let drawPending = false;
let playing = false;
let netKey = "";
let nodes = { inputs: new Map(), layers: [], out: null };
let nodePos = null;       // cached node centres relative to #net
const cache = { grid: {}, faint: {} };
const charts = {};

// ---- helpers -------------------------------------------------------------------------------------
const taskOf = (st) => catalog.datasets.find((d) => d.name === st.dataset)?.task ?? catalog.tasks[0];
const lossesFor = (st) => catalog.losses[taskOf(st)] || [];
const findLoss = (st, name) =>
  lossesFor(st).find((l) => l.name === name) || Object.values(catalog.losses).flat().find((l) => l.name === name);
const featureName = (f) => (typeof f === "string" ? f : f.name);
const featureLabel = (f) => (typeof f === "string" ? f : f.label || f.name);
const capPush = (arr, v, n = 200) => { arr.push(v); if (arr.length > n) arr.splice(0, arr.length - n); };
const dragging = isDragging;
const num = (v) => (v === null || v === undefined || !Number.isFinite(Number(v)) ? null : Number(v));

// ---- state <-> server ----------------------------------------------------------------------------
const sender = new LatestSender({
  send: (st) => api("/api/train/update", { session: pg.session, state: st }),
  onAnswer: (answer, { more }) => accept(answer, !more),
  onError: (err) => { showError(err.message); renderControls(); },
});
/** Edit the working state, show it at once and send it (the answer re-renders what the server kept). */
const change = (fn) => {
  clearError();
  sender.change(fn);
  renderControls();
};

function accept(answer, render = true) {
  pg.state = answer.state;
  pg.hash = answer.hash;
  setHash(answer.hash);
  if (render) renderControls();
}

async function startSession(state) {
  const answer = await api("/api/train/session", { state });
  pg.session = answer.session;
  sender.reset(answer.state);
  accept(answer);
  openStream();
}

/** A state from elsewhere (an imported file, a pasted link): the whole working state, as one change. */
const applyExternal = (answer) => replaceState(change, answer.state);

function openStream() {
  source?.close();
  source = new EventSource(`/api/train/stream?session=${encodeURIComponent(pg.session)}`);
  source.addEventListener("frame", (e) => onFrame(JSON.parse(e.data)));
  source.addEventListener("problem", (e) => {
    let msg = e.data;
    try { msg = JSON.parse(e.data).error || msg; } catch { /* plain text */ }
    showError(msg);
    setPlaying(false);
  });
  source.onerror = () => {
    // CONNECTING: the browser retries by itself; CLOSED: the session is gone (server restarted)
    if (source.readyState === EventSource.CLOSED) setTimeout(recover, 1000);
  };
}

async function recover() {
  try {
    await startSession(sender.accepted);
  } catch (err) {
    showError(`lost the training session: ${err.message}`);
    setTimeout(recover, 3000);
  }
}

async function control(action) {
  try {
    const answer = await api("/api/train/control", { session: pg.session, action });
    setPlaying(answer.playing);
  } catch (err) {
    showError(err.message);
  }
}

function setPlaying(on) {
  playing = !!on;
  const b = $("play");
  b.dataset.playing = String(playing);
  b.textContent = playing ? "❚❚" : "▶";
  b.title = playing ? "pause" : "run";
}

// ---- frames & history ----------------------------------------------------------------------------
function newHistory(run) {
  return { run, metricName: null, step: [], train: [], test: [], mtrain: [], mtest: [], terms: {} };
}

function onFrame(f) {
  pg.frames += 1;
  capPush(pg.frameTimes, performance.now());
  pg.frame = f;
  if (f.data) {
    const d = f.data;
    data = { trainX: decodeF32(d.train_x), trainY: decodeF32(d.train_y), testX: decodeF32(d.test_x),
      testY: decodeF32(d.test_y), labels: d.labels };
  }
  record(f);
  if (typeof f.playing === "boolean") setPlaying(f.playing);
  requestDraw();
}

function record(f) {
  if (f.run !== hist.run) hist = newHistory(f.run);
  const H = hist;
  const n = H.step.length;
  const replace = n > 0 && H.step[n - 1] === f.step;
  const len = replace ? n - 1 : n;
  const put = (arr, v) => { arr.length = len; arr.push(v); };
  const mname = f.metric?.name ?? null;
  if (mname !== H.metricName) { H.mtrain.fill(null); H.mtest.fill(null); H.metricName = mname; }
  put(H.step, f.step);
  put(H.train, num(f.train_loss));
  put(H.test, num(f.test_loss));
  put(H.mtrain, num(f.metric?.train));
  put(H.mtest, num(f.metric?.test));
  const terms = f.terms || {};
  for (const name of Object.keys(terms)) {
    if (!H.terms[name]) H.terms[name] = { train: new Array(len).fill(null), test: new Array(len).fill(null) };
  }
  for (const [name, t] of Object.entries(H.terms)) {
    put(t.train, num(terms[name]?.train));
    put(t.test, num(terms[name]?.test));
  }
  if (H.step.length > 1000) {   // thin: keep every other point (and the newest)
    const keep = (arr) => arr.filter((_, i) => i % 2 === 0 || i === arr.length - 1);
    for (const k of ["step", "train", "test", "mtrain", "mtest"]) H[k] = keep(H[k]);
    for (const t of Object.values(H.terms)) { t.train = keep(t.train); t.test = keep(t.test); }
  }
}

function requestDraw() {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(drawNow);
}

function drawNow() {
  drawPending = false;
  const f = pg.frame;
  if (!f) return;
  const t0 = performance.now();
  try {
    const g = gridView(f.grid);
    drawBoundary(f, g);
    drawPull(f, g);
    drawNetwork(f, g);
    drawStats(f);
    drawCharts();
  } catch (err) {
    console.error("drawing failed:", err);
  }
  capPush(pg.drawTimes, performance.now() - t0);
  pg.ready = true;
}

// ---- output maps ---------------------------------------------------------------------------------
function pointColor(y) {
  if (!data) return [128, 128, 128];
  if (data.labels === "class") return PALETTE[Math.max(0, Math.round(y)) % 8];
  if (data.labels === "value") return diverging(Math.max(-1, Math.min(1, y)));
  return y > 0.5 ? BLUE : ORANGE;
}

function drawPoints(ctx, xs, ys, px, py, stroke) {
  for (let i = 0; i < ys.length; i++) {
    ctx.beginPath();
    ctx.arc(px(xs[2 * i]), py(xs[2 * i + 1]), 3.2, 0, 2 * Math.PI);
    ctx.fillStyle = css(pointColor(ys[i]));
    ctx.fill();
    ctx.strokeStyle = stroke;
    ctx.stroke();
  }
}

function drawBoundary(f, g) {
  const { ctx, w, h } = fitCanvas($("boundary"));
  ctx.clearRect(0, 0, w, h);
  if (!g) return;
  paintGrid(ctx, g, w, h, 0.22, cache.grid);
  ctx.strokeStyle = "rgba(0,0,0,0.85)";
  ctx.lineWidth = 1.6;
  for (const field of g.fields) drawContour(ctx, field, g.n, 0, 0, w, h);
  if (data) {
    const [px, py] = mapper(g.extent, w, h);
    ctx.lineWidth = 1;
    drawPoints(ctx, data.trainX, data.trainY, px, py, data.labels === "value" ? "rgba(0,0,0,0.35)" : "#fff");
    if ($("show-test").checked) drawPoints(ctx, data.testX, data.testY, px, py, "#000");
  }
  drawAxes(ctx, g.extent, w, h);
}

function drawPull(f, g) {
  const { ctx, w, h } = fitCanvas($("pull"));
  ctx.clearRect(0, 0, w, h);
  if (g) {
    paintGrid(ctx, g, w, h, 0.85, cache.faint);
    ctx.strokeStyle = "rgba(0,0,0,0.5)";
    ctx.setLineDash([4, 3]);
    ctx.lineWidth = 1;
    for (const field of g.fields) drawContour(ctx, field, g.n, 0, 0, w, h);
    ctx.setLineDash([]);
  }
  const pull = decodeF32(f.pull);
  if (!data || !g || pull.length !== data.trainY.length) { $("pull-max").textContent = ""; return; }
  let max = 0;
  for (const v of pull) if (Number.isFinite(v) && v > max) max = v;
  const [px, py] = mapper(g.extent, w, h);
  const order = [...pull.keys()].sort((a, b) => pull[a] - pull[b]);
  ctx.lineWidth = 0.7;
  for (const i of order) {
    const t = max > 0 && Number.isFinite(pull[i]) ? pull[i] / max : 0;
    ctx.beginPath();
    ctx.arc(px(data.trainX[2 * i]), py(data.trainX[2 * i + 1]), 1.8 + 6 * Math.sqrt(t), 0, 2 * Math.PI);
    ctx.fillStyle = css(sequential(t));
    ctx.fill();
    ctx.strokeStyle = "rgba(255,255,255,0.9)";
    ctx.stroke();
  }
  $("pull-max").textContent = `(largest: ${fmt(max)})`;
}

// ---- network -------------------------------------------------------------------------------------
function buildNetwork(st) {
  const cols = $("net-cols");
  cols.replaceChildren();
  nodes = { inputs: new Map(), layers: [], out: null };
  nodePos = null;
  const fcol = el("div", { class: "net-col features" }, el("div", { class: "col-head", text: "features" }));
  const names = catalog.features.map(featureName);
  for (const f of catalog.features) {
    const name = featureName(f), on = st.features.includes(name);
    const box = el("input", { type: "checkbox", dataset: { feature: name }, checked: on });
    box.addEventListener("change", () => change((s) => {
      s.features = names.filter((x) => (x === name ? box.checked : s.features.includes(x)));
    }));
    const cv = el("canvas", { class: "node" });
    nodes.inputs.set(name, cv);
    if (!on) paintNode(cv, featureValues(name, 16, pg.frame?.grid?.extent ?? 6), 16);
    fcol.append(el("label", { class: "feature" + (on ? "" : " off"), title: name }, box,
      el("span", { class: "feature-label", text: featureLabel(f) }), cv));
  }
  cols.append(fcol);
  st.hidden.forEach((count, i) => {
    const add = el("button", { type: "button", class: "add-neuron round tiny", dataset: { layer: i }, text: "+", title: "add a neuron" });
    const rem = el("button", { type: "button", class: "remove-neuron round tiny", dataset: { layer: i }, text: "−", title: "remove a neuron" });
    add.addEventListener("click", () => change((s) => { s.hidden[i] += 1; }));
    rem.addEventListener("click", () => change((s) => { s.hidden[i] -= 1; }));
    const col = el("div", { class: "net-col layer" },
      el("div", { class: "col-head" }, el("div", { class: "neuron-buttons" }, add, rem),
        el("div", { text: `${count} neuron${count === 1 ? "" : "s"}` })));
    const layer = [];
    for (let k = 0; k < count; k++) {
      const cv = el("canvas", { class: "node", title: `layer ${i + 1}, neuron ${k + 1}` });
      layer.push(cv);
      col.append(cv);
    }
    nodes.layers.push(layer);
    cols.append(col);
  });
  nodes.out = el("canvas", { class: "node out", title: "output" });
  cols.append(el("div", { class: "net-col output" }, el("div", { class: "col-head", text: "output" }), nodes.out));
  const L = st.hidden.length;
  $("layer-count").textContent = `${L} hidden layer${L === 1 ? "" : "s"}`;
}

function nodeCentres() {
  if (nodePos) return nodePos;
  const base = $("net").getBoundingClientRect();
  const at = (cv) => {
    const r = cv.getBoundingClientRect();
    return { l: r.left - base.left, r: r.right - base.left, y: r.top - base.top + r.height / 2 };
  };
  const st = pg.state;
  nodePos = {
    inputs: st.features.map((name) => nodes.inputs.get(name)).filter(Boolean).map(at),
    layers: nodes.layers.map((layer) => layer.map(at)),
    out: [at(nodes.out)],
  };
  return nodePos;
}

function drawNetwork(f, g) {
  const st = pg.state;
  const nz = f.neurons;
  if (nz) {
    const n = nz.size;
    st.features.forEach((name, i) => { if (nz.inputs?.[i]) paintNode(nodes.inputs.get(name), decodeF32(nz.inputs[i]), n); });
    (nz.layers || []).forEach((layer, l) => layer.forEach((b64, k) => paintNode(nodes.layers[l]?.[k], decodeF32(b64), n)));
  }
  if (g && nodes.out) paintSmallCanvas(nodes.out, g.n, g.colorAt);
  // links
  const { ctx, w, h } = fitCanvas($("links"));
  ctx.clearRect(0, 0, w, h);
  const pos = nodeCentres();
  const cols = [pos.inputs, ...pos.layers, pos.out];
  (f.weights || []).forEach((b64, l) => {
    const src = cols[l], dst = cols[l + 1];
    if (!src || !dst) return;
    const W = decodeF32(b64);
    const fanOut = W.length / src.length;
    if (!Number.isInteger(fanOut) || fanOut < 1) return;
    const single = dst.length === 1 && fanOut > 1;   // multiclass output: one node, many outputs
    if (!single && fanOut !== dst.length) return;
    for (let i = 0; i < src.length; i++) {
      for (let j = 0; j < dst.length; j++) {
        let wv;
        if (single) {
          let s2 = 0;
          for (let o = 0; o < fanOut; o++) s2 += W[i * fanOut + o] ** 2;
          wv = Math.sqrt(s2 / fanOut);
        } else wv = W[i * fanOut + j];
        if (!Number.isFinite(wv)) continue;
        const a = src[i], b = dst[j], mx = (a.r + b.l) / 2;
        ctx.strokeStyle = single ? "rgba(90,90,90,0.55)" : css(wv >= 0 ? BLUE : ORANGE, Math.min(0.95, 0.3 + Math.abs(wv) * 0.6));
        ctx.lineWidth = Math.min(7, 0.5 + 2 * Math.abs(wv));
        ctx.beginPath();
        ctx.moveTo(a.r, a.y);
        ctx.bezierCurveTo(mx, a.y, mx, b.y, b.l, b.y);
        ctx.stroke();
      }
    }
  });
}

// ---- numbers & charts ----------------------------------------------------------------------------
function drawStats(f) {
  $("train-loss").textContent = fmt(f.train_loss);
  $("test-loss").textContent = fmt(f.test_loss);
  $("metric-train").textContent = fmt(f.metric?.train);
  $("metric-test").textContent = fmt(f.metric?.test);
  $("metric-name").textContent = f.metric?.name ?? "metric";
  $("step-count").textContent = String(f.step ?? 0);
  $("epoch-count").textContent = Number(f.epoch ?? 0).toFixed(2);
}

function drawCharts() {
  const H = hist;
  const train = { name: "train", color: "#0877bd", x: H.step };
  const test = { name: "test", color: "#f59322", x: H.step, dash: [5, 3] };
  charts.loss.set([{ ...train, y: H.train }, { ...test, y: H.test }], { logY: $("loss-log").checked });
  charts.loss.draw();
  charts.metric.set([{ ...train, y: H.mtrain }, { ...test, y: H.mtest }], { title: H.metricName || "metric" });
  charts.metric.draw();
  const names = Object.keys(pg.frame?.terms || {});
  $("terms-box").hidden = !pg.state?.loss2 || names.length === 0;
  if ($("terms-box").hidden) return;
  const series = [];
  names.forEach((name, k) => {
    const t = H.terms[name];
    if (!t) return;
    const wt = pg.frame.terms[name]?.weight;
    const label = wt === undefined ? name : `${name} (×${fmtValue(wt, 0.01)})`;
    series.push({ name: `${label} train`, color: paletteCss(k + 2), x: H.step, y: t.train });
    series.push({ name: `${label} test`, color: paletteCss(k + 2), x: H.step, y: t.test, dash: [5, 3], noLegend: true });
  });
  charts.terms.set(series);
  charts.terms.draw();
}

// ---- controls ------------------------------------------------------------------------------------
function setRange(id, value, step = 1) {
  const input = $(id);
  if (!dragging(input)) input.value = String(value);
  $(`${id}-value`).textContent = fmtValue(dragging(input) ? input.value : value, step);
}

function syncHyper(container, loss, options, key) {
  options = options || {};
  const name = loss?.name ?? "";
  if (container._loss !== name) {
    container._loss = name;
    container.replaceChildren();
    buildHyperRows(container, loss, options, {}, (hp, v) => change((s) => {
      s[key] = s[key] || {};
      if (v === undefined) delete s[key][hp];
      else s[key][hp] = v;
    }));
    if (loss && !loss.hyperparameters?.length) container.append(el("span", { class: "muted", text: "no hyperparameters" }));
    return;
  }
  syncHyperRows(container, loss, options);
}

function lossItems(st) {
  return lossesFor(st).map((l) => ({ value: l.name, label: l.name, group: l.group, title: l.summary }));
}

function renderControls() {
  const st = sender.working || pg.state;
  if (!st) return;
  document.querySelectorAll("#datasets [data-dataset]").forEach((b) => b.classList.toggle("selected", b.dataset.dataset === st.dataset));
  setRange("noise", st.noise);
  setRange("train-percent", st.train_percent);
  setRange("points", st.points);
  setRange("batch-size", st.batch_size);
  setRange("steps-per-frame", st.steps_per_frame);
  if (document.activeElement !== $("seed")) $("seed").value = String(st.seed);
  selectNumber($("learning-rate"), st.learning_rate);
  selectNumber($("regularization-rate"), st.regularization_rate);
  for (const [id, key] of [["optimizer", "optimizer"], ["activation", "activation"], ["regularization", "regularization"]]) {
    $(id).value = st[key];
  }
  fillSelect($("metric"), (catalog.metrics[taskOf(st)] || []).map((m) => ({ value: m })));
  $("metric").value = st.metric;
  fillSelect($("loss"), lossItems(st));
  $("loss").value = st.loss;
  const info = findLoss(st, st.loss);
  syncHyper($("hyper"), info, st.options, "options");
  const summary = $("loss-summary");
  summary.replaceChildren(el("span", { text: info?.summary ?? "" }), " ",
    info?.formula ? el("code", { text: info.formula }) : "");
  summary.title = [info?.summary, info?.formula, info?.reference && `reference: ${info.reference}`].filter(Boolean).join("\n");
  fillSelect($("loss2"), [{ value: "", label: "none" }, ...lossItems(st)]);
  $("loss2").value = st.loss2 || "";
  $("loss2-extra").hidden = !st.loss2;
  syncHyper($("hyper2"), st.loss2 ? findLoss(st, st.loss2) : null, st.options2, "options2");
  setRange("weight", st.weight, 0.01);
  const key = JSON.stringify([st.hidden, st.features]);
  if (key !== netKey) { netKey = key; buildNetwork(st); requestDraw(); }
  document.querySelectorAll("input[data-feature]").forEach((box) => { box.checked = st.features.includes(box.dataset.feature); });
}

function buildControls() {
  const lim = catalog.limits;
  const ranges = [["noise", "noise", 1], ["train-percent", "train_percent", 1], ["points", "points", 10],
    ["batch-size", "batch_size", 1], ["steps-per-frame", "steps_per_frame", 1]];
  for (const [id, key, step] of ranges) {
    const input = $(id);
    const [lo, hi] = lim[key] || [0, 100];
    Object.assign(input, { min: lo, max: hi, step });
    input.addEventListener("input", () => {
      $(`${id}-value`).textContent = input.value;
      change((s) => { s[key] = Number(input.value); });
    });
  }
  $("weight").addEventListener("input", () => {
    $("weight-value").textContent = fmtValue($("weight").value, 0.01);
    change((s) => { s.weight = Number($("weight").value); });
  });
  $("seed").max = lim.seed?.[1] ?? 99999;
  $("seed").addEventListener("change", () => change((s) => { s.seed = Number($("seed").value); }));
  $("regenerate").addEventListener("click", () => change((s) => {
    s.seed = Math.floor(Math.random() * ((lim.seed?.[1] ?? 99999) + 1));
  }));
  fillSelect($("learning-rate"), catalog.learning_rates.map((v) => ({ value: v })));
  fillSelect($("regularization-rate"), catalog.regularization_rates.map((v) => ({ value: v })));
  fillSelect($("optimizer"), catalog.optimizers.map((v) => ({ value: v })));
  fillSelect($("activation"), catalog.activations.map((v) => ({ value: v })));
  fillSelect($("regularization"), catalog.regularizations.map((v) => ({ value: v })));
  const selects = [["learning-rate", "learning_rate", Number], ["regularization-rate", "regularization_rate", Number],
    ["optimizer", "optimizer", String], ["activation", "activation", String],
    ["regularization", "regularization", String], ["metric", "metric", String]];
  for (const [id, key, parse] of selects) {
    $(id).addEventListener("change", () => change((s) => { s[key] = parse($(id).value); }));
  }
  $("loss").addEventListener("change", () => change((s) => {
    s.loss = $("loss").value;
    s.options = defaultOptions(findLoss(s, s.loss));
  }));
  $("loss2").addEventListener("change", () => change((s) => {
    s.loss2 = $("loss2").value;
    s.options2 = s.loss2 ? defaultOptions(findLoss(s, s.loss2)) : {};
  }));
  $("add-layer").addEventListener("click", () => change((s) => { s.hidden.push(2); }));
  $("remove-layer").addEventListener("click", () => change((s) => { s.hidden.pop(); }));
  $("play").addEventListener("click", () => control(playing ? "pause" : "play"));
  $("step").addEventListener("click", () => control("step"));
  $("reset").addEventListener("click", () => control("reset"));
  $("show-test").addEventListener("change", requestDraw);
  $("loss-log").addEventListener("change", requestDraw);
  const box = $("datasets");
  for (const d of catalog.datasets) {
    const cv = el("canvas", { class: "thumb", width: 56, height: 56 });
    const b = el("button", { type: "button", class: "dataset", dataset: { dataset: d.name }, title: `${d.label} (${d.task})` },
      cv, el("span", { text: d.label.replace(/\s*\(.*\)\s*$/, "") }));
    b.addEventListener("click", () => change((s) => { s.dataset = d.name; }));
    box.append(b);
    drawThumb(cv, d);
  }
  charts.loss = new LineChart($("loss-chart"), { title: "loss", xName: "step" });
  charts.metric = new LineChart($("metric-chart"), { title: "metric", xName: "step" });
  charts.terms = new LineChart($("terms-chart"), { title: "loss terms (solid: train, dashed: test)", xName: "step" });
}

// ---- start ---------------------------------------------------------------------------------------
async function init() {
  setupChrome({ name: "train", endpoint: "/api/train/state", getState: () => sender.accepted ?? pg.state, onImport: applyExternal });
  try {
    catalog = pg.catalog = await api("/api/catalog");
    buildControls();
    const answer = await loadFromHash("/api/train/state");
    await startSession(answer.state);
  } catch (err) {
    showError(err.message);
    return;
  }
  followHash({ endpoint: "/api/train/state", currentHash: () => pg.hash, apply: applyExternal });
  window.addEventListener("resize", () => { nodePos = null; requestDraw(); });
}

init();
