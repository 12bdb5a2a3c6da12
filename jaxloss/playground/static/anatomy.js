// anatomy.js — the "loss anatomy" page: pick an axis and some losses, move their hyperparameters,
// the target and the point; each change sends the state to POST /api/anatomy (one request in
// flight, the latest state sent when the answer returns) and draws the answer: value, first and
// second derivative charts (shared x axis, draggable point) and a table of numbers at the point.

import {
  api, showError, clearError, setHash, loadFromHash, setupChrome, replaceState, followHash, LatestSender, fillSelect,
  el, fmt, fmtValue, paletteCss, defaultOptions, buildHyperRows, syncHyperRows, isDragging,
} from "./common.js";
import { LineChart } from "./chart.js";

const $ = (id) => document.getElementById(id);
const an = (window.anatomy = { ready: false, state: null, catalog: null, answer: null, requests: 0, latencies: [] });
let catalog = null;
const charts = {};
const dragging = isDragging;

// ---- state <-> server ----------------------------------------------------------------------------
const sender = new LatestSender({
  send: (st) => {
    an.requests += 1;
    return api("/api/anatomy", { state: st });
  },
  onAnswer: (answer, { more, cause }) => {
    an.answer = answer;
    an.state = answer.state;
    an.hash = answer.hash;
    setHash(answer.hash);
    if (!more) renderControls();
    try {
      draw(answer);
    } catch (err) {
      console.error("drawing failed:", err);
    }
    if (cause !== null) {
      an.latencies.push(performance.now() - cause);
      if (an.latencies.length > 100) an.latencies.splice(0, an.latencies.length - 100);
    }
    an.ready = true;
  },
  onError: (err) => { showError(err.message); renderControls(); },
});
/** Edit the working state, show it at once (lists, sliders) and send it. */
const change = (fn) => {
  clearError();
  sender.change(fn);
  renderControls();
};

/** A state from elsewhere (an imported file, a pasted link): the whole working state, as one change. */
const applyExternal = (answer) => replaceState(change, answer.state);

const lossesOf = (axis) => catalog.anatomy[axis] || [];
const findLoss = (axis, name) => lossesOf(axis).find((l) => l.name === name);
const colourOf = (st, name) => paletteCss(Math.max(0, st.losses.indexOf(name)));

// ---- controls ------------------------------------------------------------------------------------
function onAxis() {
  const axis = $("axis").value;
  change((s) => {
    const d = catalog.defaults?.anatomy;
    s.axis = axis;
    if (d && d.axis === axis) {
      s.losses = [...d.losses];
      s.options = structuredClone(d.options || {});
      s.target = d.target;
    } else {
      s.losses = lossesOf(axis).slice(0, 3).map((l) => l.name);
      s.options = {};
      for (const name of s.losses) {
        const o = defaultOptions(findLoss(axis, name));
        if (Object.keys(o).length) s.options[name] = o;
      }
      if (axis === "binary") s.target = 1;
      else if (axis === "regression") s.target = 0;
    }
  });
}

function buildLossList(st) {
  const box = $("losses");
  box.replaceChildren();
  let group = null;
  for (const loss of lossesOf(st.axis)) {
    if (loss.group && loss.group !== group) {
      group = loss.group;
      box.append(el("div", { class: "group", text: group }));
    }
    const cb = el("input", { type: "checkbox", dataset: { loss: loss.name } });
    cb.addEventListener("change", () => change((s) => {
      s.options = s.options || {};
      if (cb.checked) {
        if (!s.losses.includes(loss.name)) s.losses.push(loss.name);
        if (!s.options[loss.name]) {
          const o = defaultOptions(loss);
          if (Object.keys(o).length) s.options[loss.name] = o;
        }
      } else {
        s.losses = s.losses.filter((n) => n !== loss.name);
        delete s.options[loss.name];
      }
    }));
    box.append(el("label", { title: [loss.summary, loss.formula].filter(Boolean).join("\n") },
      cb, el("span", { class: "swatch" }), el("span", { text: loss.name })));
  }
}

function buildHyper(st) {
  const box = $("hyper");
  box.replaceChildren();
  for (const name of st.losses) {
    const loss = findLoss(st.axis, name);
    if (!loss?.hyperparameters?.length) continue;
    const group = el("div", { class: "hyper-group" },
      el("div", { class: "hyper-title" }, el("span", { class: "swatch", style: `background:${colourOf(st, name)}` }), name));
    buildHyperRows(group, loss, st.options?.[name] || {}, { loss: name }, (hp, v) => change((s) => {
      s.options = s.options || {};
      s.options[name] = s.options[name] || {};
      if (v === undefined) delete s.options[name][hp];
      else s.options[name][hp] = v;
      if (!Object.keys(s.options[name]).length) delete s.options[name];
    }));
    box.append(group);
  }
  if (!box.children.length) box.append(el("span", { class: "muted", text: "none for these losses" }));
}

function syncHyper(st) {
  for (const name of st.losses) {
    syncHyperRows($("hyper"), findLoss(st.axis, name), st.options?.[name], { loss: name });
  }
}

function buildTarget(axis) {
  const box = $("target-box");
  box.replaceChildren();
  $("target-row").hidden = axis === "multiclass";
  if (axis === "regression") {
    const input = el("input", { id: "target", type: "range", min: -3, max: 3, step: 0.05 });
    const out = el("output", { id: "target-value" });
    input.addEventListener("input", () => {
      out.textContent = fmtValue(input.value, 0.05);
      change((s) => { s.target = Number(input.value); });
    });
    box.append(out, input);
    $("target-caption").textContent = "target:";
  } else {   // binary: label 0 / 1 (multiclass: the same control, hidden and unused)
    const sel = el("select", { id: "target" });
    sel.append(new Option("1 (positive)", "1"), new Option("0 (negative)", "0"));
    sel.addEventListener("change", () => change((s) => { s.target = Number(sel.value); }));
    box.append(sel);
    $("target-caption").textContent = "label:";
  }
}

let built = { axis: null, losses: null };

function renderControls() {
  const st = sender.working || an.state;
  if (!st) return;
  $("axis").value = st.axis;
  $("axis-label").textContent = `x axis: ${catalog.axis_labels?.[st.axis] ?? st.axis}`;
  if (built.axis !== st.axis) {
    buildLossList(st);
    buildTarget(st.axis);
    built.axis = st.axis;
    built.losses = null;
  }
  document.querySelectorAll("#losses input[data-loss]").forEach((cb) => {
    cb.checked = st.losses.includes(cb.dataset.loss);
    const sw = cb.parentElement.querySelector(".swatch");
    sw.style.background = cb.checked ? colourOf(st, cb.dataset.loss) : "transparent";
  });
  const key = JSON.stringify(st.losses);
  if (built.losses !== key) { buildHyper(st); built.losses = key; } else syncHyper(st);
  const target = $("target");
  if (target && !dragging(target)) {
    target.value = String(st.target);
    if ($("target-value")) $("target-value").textContent = fmtValue(st.target, 0.05);
  }
  $("classes-row").hidden = st.axis !== "multiclass";
  for (const [id, key2, step] of [["classes", "classes", 1], ["range", "range", 0.5]]) {
    if (!dragging($(id))) $(id).value = String(st[key2]);
    $(`${id}-value`).textContent = fmtValue(st[key2], step);
  }
  if (document.activeElement !== $("x")) $("x").value = String(st.x);
}

function buildControls() {
  fillSelect($("axis"), Object.keys(catalog.anatomy).map((a) => ({ value: a })));
  $("axis").addEventListener("change", onAxis);
  const lim = catalog.limits || {};
  if (lim.classes) Object.assign($("classes"), { min: lim.classes[0], max: lim.classes[1] });
  for (const [id, key] of [["classes", "classes"], ["range", "range"]]) {
    $(id).addEventListener("input", () => {
      $(`${id}-value`).textContent = $(id).value;
      change((s) => { s[key] = Number($(id).value); });
    });
  }
  $("x").addEventListener("input", () => {
    const v = $("x").value;
    if (v.trim() === "" || !Number.isFinite(Number(v))) return;
    change((s) => { s.x = Number(v); });
  });
  const opts = { includeZero: true, xName: "x" };
  charts.value = new LineChart($("value-chart"), { ...opts, title: "loss value" });
  charts.first = new LineChart($("first-chart"), { ...opts, title: "first derivative  d loss / d x", legend: false });
  charts.second = new LineChart($("second-chart"), { ...opts, title: "second derivative  d² loss / d x²", legend: false });
  for (const chart of Object.values(charts)) setupDrag(chart);
}

/** Dragging on a chart moves the point. */
function setupDrag(chart) {
  const cv = chart.canvas;
  let active = false;
  const moveTo = (px) => {
    const r = chart.plotRect();
    const x = chart.pxToX(Math.max(r.x, Math.min(r.x + r.w, px)));
    const rounded = Math.round(x * 1000) / 1000;
    $("x").value = String(rounded);
    change((s) => { s.x = rounded; });
  };
  cv.addEventListener("pointerdown", (e) => {
    const r = chart.plotRect();
    if (e.offsetX < r.x - 4 || e.offsetX > r.x + r.w + 4 || !an.answer) return;
    active = true;
    cv.setPointerCapture(e.pointerId);
    e.preventDefault();
    moveTo(e.offsetX);
  });
  cv.addEventListener("pointermove", (e) => { if (active) moveTo(e.offsetX); });
  const stop = () => { active = false; };
  cv.addEventListener("pointerup", stop);
  cv.addEventListener("pointercancel", stop);
}

// ---- drawing -------------------------------------------------------------------------------------
function draw(answer) {
  const st = answer.state;
  const xs = answer.x || [];
  const xRange = xs.length > 1 ? [xs[0], xs[xs.length - 1]] : undefined;
  for (const part of ["value", "first", "second"]) {
    const series = [];
    for (const name of st.losses) {
      const c = answer.curves?.[name];
      if (!c || !c[part]) continue;
      series.push({ name, color: colourOf(st, name), x: xs, y: c[part], markerY: answer.point?.[name]?.[part] });
    }
    const chart = charts[part];
    chart.set(series, { xRange, marker: st.x, refLine: st.axis === "regression" ? st.target : null, xLabel: part === "second" ? answer.x_label : undefined, xName: "x" });
    chart.pad.b = part === "second" ? 30 : 18;
    chart.draw();
  }
  drawTable(answer);
}

function drawTable(answer) {
  const st = answer.state;
  const body = $("point-table").querySelector("tbody");
  body.replaceChildren();
  for (const name of st.losses) {
    const p = answer.point?.[name] || {};
    const problem = answer.problems?.[name] || "";
    const loss = findLoss(st.axis, name);
    body.append(el("tr", { dataset: { loss: name }, title: loss?.summary || "" },
      el("td", { class: "name" }, el("span", { class: "swatch", style: `background:${colourOf(st, name)}` }), " ", name),
      el("td", { class: "prediction", text: p.prediction ?? "" }),
      el("td", { class: "target", text: p.target ?? "" }),
      el("td", { class: "value", text: fmt(p.value) }),
      el("td", { class: "first", text: fmt(p.first) }),
      el("td", { class: "second", text: fmt(p.second) }),
      el("td", { class: "problem", text: problem })));
  }
  for (const [name, msg] of Object.entries(answer.problems || {})) {
    if (st.losses.includes(name)) continue;
    body.append(el("tr", { dataset: { loss: name } }, el("td", { class: "name", text: name }),
      el("td", { class: "problem", colspan: 6, text: msg })));
  }
}

// ---- start ---------------------------------------------------------------------------------------
async function init() {
  setupChrome({ name: "anatomy", endpoint: "/api/anatomy/state", getState: () => sender.accepted ?? an.state, onImport: applyExternal });
  try {
    catalog = an.catalog = await api("/api/catalog");
    buildControls();
    const answer = await loadFromHash("/api/anatomy/state");
    an.state = answer.state;
    an.hash = answer.hash;
    sender.reset(answer.state);
    renderControls();
    sender.change(() => {});   // ask for the curves of the loaded state (keeping a load error shown)
  } catch (err) {
    showError(err.message);
    return;
  }
  followHash({ endpoint: "/api/anatomy/state", currentHash: () => an.hash, apply: applyExternal });
  window.addEventListener("resize", () => { if (an.answer) draw(an.answer); });
}

init();
