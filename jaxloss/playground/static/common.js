// common.js — helpers shared by the train and anatomy pages of the jaxloss playground:
// JSON fetch helpers, the #error banner, URL-hash state, base64 -> Float32Array, colour scales,
// number formatting, the nav bar highlight, JSON export/import/copy-link buttons, and a
// "one request in flight, latest state wins" sender.

export const ORANGE = [245, 147, 34];   // #f59322: negative / class 0
export const BLUE = [8, 119, 189];      // #0877bd: positive / class 1
export const WHITE = [255, 255, 255];
/** 8 class colours; class 0 and 1 match the binary orange / blue. */
export const PALETTE = [
  [245, 147, 34], [8, 119, 189], [44, 160, 44], [214, 39, 40],
  [148, 103, 189], [140, 86, 75], [227, 119, 194], [23, 190, 207],
];
export const css = ([r, g, b], a = 1) => (a === 1 ? `rgb(${r},${g},${b})` : `rgba(${r},${g},${b},${a})`);
export const paletteCss = (i, a = 1) => css(PALETTE[((i % 8) + 8) % 8], a);

const lerp = (a, b, t) => a + (b - a) * t;
export const mix = (c1, c2, t) => [lerp(c1[0], c2[0], t), lerp(c1[1], c2[1], t), lerp(c1[2], c2[2], t)];

/** Orange (-1) -> white (0) -> blue (+1); t is clipped to [-1, 1]; NaN gives grey. */
export function diverging(t) {
  if (!Number.isFinite(t)) return [200, 200, 200];
  if (t < 0) return mix(WHITE, ORANGE, Math.min(1, -t));
  return mix(WHITE, BLUE, Math.min(1, t));
}

/** Weighted mix of the class colours (probs: array of per-class probabilities). */
export function mixClasses(probs) {
  let r = 0, g = 0, b = 0, s = 0;
  probs.forEach((p, c) => {
    if (!Number.isFinite(p)) return;
    const col = PALETTE[c % 8];
    r += p * col[0]; g += p * col[1]; b += p * col[2]; s += p;
  });
  if (s <= 0) return [200, 200, 200];
  return [r / s, g / s, b / s];
}

/** Sequential scale for the "pull" map: pale yellow -> red -> dark purple, t in [0, 1]. */
export function sequential(t) {
  const stops = [[255, 237, 160], [253, 141, 60], [215, 48, 31], [103, 0, 100]];
  const x = Math.max(0, Math.min(1, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  return mix(stops[i], stops[i + 1], x - i);
}

/** base64 (little-endian Float32 bytes) -> Float32Array. */
export function decodeF32(b64) {
  if (!b64) return new Float32Array(0);
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Float32Array(bytes.buffer, 0, bytes.length >> 2);
}

/** A number with 4 significant digits ("—" for null / non-finite). */
export function fmt(x, digits = 4) {
  if (x === null || x === undefined || !Number.isFinite(Number(x))) return "—";
  const v = Number(x);
  if (v === 0) return "0";
  return v.toPrecision(digits);
}

/** A slider value for display: short, no trailing zeros beyond the step. */
export function fmtValue(x, step = 0.01) {
  const v = Number(x);
  if (!Number.isFinite(v)) return String(x);
  const dec = Math.max(0, Math.min(6, Math.ceil(-Math.log10(step || 1) - 1e-9)));
  return v.toFixed(dec);
}

export class ApiError extends Error {}

/** POST (body given) or GET a JSON endpoint; throws ApiError with the server's message on failure. */
export async function api(path, body) {
  const init = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (err) {
    throw new ApiError(`cannot reach the playground server (${err.message})`);
  }
  let json = null;
  try { json = await resp.json(); } catch { /* not JSON */ }
  if (!resp.ok) throw new ApiError((json && json.error) || `${path}: HTTP ${resp.status}`);
  if (json && json.error) throw new ApiError(json.error);
  return json;
}

// ---- error banner ------------------------------------------------------------------------------
const errorBox = () => document.getElementById("error");

export function showError(message) {
  const box = errorBox();
  if (!box) { console.warn(message); return; }
  box.querySelector("#error-text").textContent = String(message);
  box.hidden = false;
}

export function clearError() {
  const box = errorBox();
  if (!box) return;
  box.querySelector("#error-text").textContent = "";
  box.hidden = true;
}

// ---- hash --------------------------------------------------------------------------------------
export const readHash = () => decodeURIComponent(location.hash.replace(/^#/, ""));
export function setHash(hash) {
  if (hash === undefined || hash === null) return;
  if (readHash() !== hash) history.replaceState(null, "", "#" + hash);
}

/** Load {state, hash} from the URL hash (falling back to defaults on error). */
export async function loadFromHash(endpoint) {
  try {
    return await api(endpoint, { hash: readHash() });
  } catch (err) {
    showError(err.message);
    return api(endpoint, { hash: "" });
  }
}

/** Make `state` (from a hash or an imported file) the whole working state, as one `change(fn)`. */
export function replaceState(change, state) {
  change((s) => {
    for (const k of Object.keys(s)) delete s[k];
    Object.assign(s, structuredClone(state));
  });
}

/**
 * Follow links pasted into this tab: on `hashchange`, ask `endpoint` for the new hash's state and pass
 * the answer to apply(); on a refused hash, show why and put back currentHash().
 */
export function followHash({ endpoint, currentHash, apply }) {
  window.addEventListener("hashchange", async () => {
    const hash = readHash();
    if (hash === currentHash()) return;
    try {
      apply(await api(endpoint, { hash }));
    } catch (err) {
      showError(err.message);
      setHash(currentHash());
    }
  });
}

// ---- page chrome: nav, error close, export / import / copy link ---------------------------------
/**
 * Wire the header buttons. getState() -> current state; onImport({state, hash}) gets the server's
 * answer to an imported file; name is "train" or "anatomy".
 */
export function setupChrome({ name, endpoint, getState, onImport }) {
  document.querySelectorAll("nav a[data-page]").forEach((a) => {
    a.classList.toggle("active", a.dataset.page === name);
  });
  const box = errorBox();
  box?.querySelector(".error-close")?.addEventListener("click", clearError);

  document.getElementById("export-json").addEventListener("click", () => {
    const text = JSON.stringify(getState(), null, 2);
    const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
    const a = document.createElement("a");
    a.href = url;
    a.download = `jaxloss-${name}.json`;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  });

  const file = document.getElementById("import-file");
  document.getElementById("import-json").addEventListener("click", () => file.click());
  file.addEventListener("change", async () => {
    const f = file.files && file.files[0];
    file.value = "";
    if (!f) return;
    try {
      const answer = await api(endpoint, { json: await f.text() });
      clearError();
      await onImport(answer);
    } catch (err) {
      showError(err.message);
    }
  });

  const status = document.getElementById("copy-status");
  document.getElementById("copy-link").addEventListener("click", async () => {
    let ok = false;
    try {
      await navigator.clipboard.writeText(location.href);
      ok = true;
    } catch {
      // clipboard API unavailable (e.g. not a secure context): fall back to a hidden textarea
      const ta = document.createElement("textarea");
      ta.value = location.href;
      document.body.appendChild(ta);
      ta.select();
      try { ok = document.execCommand("copy"); } catch { ok = false; }
      ta.remove();
    }
    status.textContent = ok ? "link copied" : "copy failed: " + location.href;
    clearTimeout(status._timer);
    status._timer = setTimeout(() => { status.textContent = ""; }, 2500);
  });
}

// ---- requests: at most one in flight, the latest state wins -------------------------------------
/**
 * Keeps a working copy of the state that the controls edit. change(fn) edits it and schedules a
 * request; while one is in flight further changes accumulate and are sent when the answer returns.
 * send(state) -> Promise<answer>; onAnswer(answer, {more, cause}) is called for each successful
 * answer (more: another change is already waiting); onError(err) after a failed one (the working
 * copy is then reset to the last accepted state).
 */
export class LatestSender {
  constructor({ send, onAnswer, onError }) {
    Object.assign(this, { send, onAnswer, onError });
    this.accepted = null;   // last state the server accepted
    this.working = null;    // what the controls show
    this.dirty = false;
    this.inFlight = false;
    this.cause = null;      // performance.now() of the first input event not yet sent
  }
  reset(state) {
    this.accepted = structuredClone(state);
    this.working = structuredClone(state);
    this.dirty = false;
  }
  change(mutate) {
    if (!this.working) return;
    mutate(this.working);
    this.dirty = true;
    if (this.cause === null) this.cause = performance.now();
    this.pump();
  }
  async pump() {
    if (this.inFlight || !this.dirty) return;
    this.dirty = false;
    const cause = this.cause;
    this.cause = null;
    this.inFlight = true;
    let answer = null, error = null;
    try {
      answer = await this.send(structuredClone(this.working));
    } catch (err) {
      error = err;
    }
    this.inFlight = false;
    if (error) {
      this.working = structuredClone(this.accepted);
      this.dirty = false;
      this.cause = null;
      this.onError(error);
      return;
    }
    this.accepted = structuredClone(answer.state);
    const more = this.dirty;
    if (!more) this.working = structuredClone(answer.state);
    else this.pump();   // send the newer state first, then draw this answer
    this.onAnswer(answer, { more, cause });
  }
}

// ---- controls ----------------------------------------------------------------------------------
// A range input being dragged is not overwritten by (slightly older) answers from the server.
let pointerDown = false;
document.addEventListener("pointerdown", () => { pointerDown = true; }, true);
for (const ev of ["pointerup", "pointercancel"]) document.addEventListener(ev, () => { pointerDown = false; }, true);
export const isDragging = (input) => pointerDown && document.activeElement === input;

/** Set a <select>'s options: items = [{value, label, group?}]; keeps the DOM if unchanged. */
export function fillSelect(select, items) {
  const key = JSON.stringify(items);
  if (select._key === key) return;
  select._key = key;
  select.replaceChildren();
  const groups = new Map();
  for (const it of items) {
    const opt = new Option(it.label ?? String(it.value), String(it.value));
    if (it.title) opt.title = it.title;
    if (it.group) {
      if (!groups.has(it.group)) {
        const g = document.createElement("optgroup");
        g.label = it.group;
        groups.set(it.group, g);
        select.appendChild(g);
      }
      groups.get(it.group).appendChild(opt);
    } else {
      select.appendChild(opt);
    }
  }
}

/** Select the option whose numeric value equals v (adding one if none does). */
export function selectNumber(select, v) {
  const opts = [...select.options];
  let match = opts.find((o) => Math.abs(Number(o.value) - v) <= 1e-12 * Math.max(1, Math.abs(v)));
  if (!match) {
    match = new Option(String(v), String(v));
    select.appendChild(match);
    select._key = null;
  }
  select.value = match.value;
}

/** A small DOM helper: el("div", {class: "x", dataset: {a: 1}}, child, ...). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k === "text") node.textContent = v;
    else if (k in node && typeof v !== "string") node[k] = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

/** The default value to show for a hyperparameter slider (optional ones: the middle of the range). */
export function hyperStart(h) {
  if (h.default !== null && h.default !== undefined && Number.isFinite(Number(h.default))) return Number(h.default);
  const mid = (h.low + h.high) / 2;
  const step = h.step || 0.01;
  return Math.round(mid / step) * step;
}

/** The options a freshly chosen loss starts with: its non-optional hyperparameters at default. */
export function defaultOptions(loss) {
  const out = {};
  for (const h of loss?.hyperparameters ?? []) {
    if (!h.optional && h.default !== null && h.default !== undefined) out[h.name] = h.default;
  }
  return out;
}

/**
 * Build hyperparameter rows into container for one loss. attrs: extra data-* attributes for each
 * input (e.g. {loss: "focal"}). onChange(name, value|undefined) where undefined = optional turned off.
 */
export function buildHyperRows(container, loss, options, attrs, onChange) {
  for (const h of loss?.hyperparameters ?? []) {
    const on = !h.optional || (options && h.name in options);
    const value = options && h.name in options ? Number(options[h.name]) : hyperStart(h);
    const slider = el("input", {
      type: "range", min: h.low, max: h.high, step: h.step || "any",
      dataset: { ...attrs, hyper: h.name }, disabled: !on,
    });
    slider.value = String(value);
    const shown = el("span", { class: "value", text: fmtValue(value, h.step) });
    const row = el("label", { class: "hyper-row", title: [h.doc, h.valid && `valid: ${h.valid}`].filter(Boolean).join("\n") });
    if (h.optional) {
      const box = el("input", { type: "checkbox", dataset: { ...attrs, hyperOn: h.name }, checked: on });
      box.addEventListener("change", () => {
        slider.disabled = !box.checked;
        onChange(h.name, box.checked ? Number(slider.value) : undefined);
      });
      row.append(box);
    }
    row.append(el("span", { class: "hyper-name", text: h.name }), slider, shown);
    slider.addEventListener("input", () => {
      shown.textContent = fmtValue(slider.value, h.step);
      onChange(h.name, Number(slider.value));
    });
    container.append(row);
  }
}

/** Update hyperparameter rows built by buildHyperRows to options (attrs: the same extra data-* attributes). */
export function syncHyperRows(container, loss, options, attrs = {}) {
  options = options || {};
  const extra = Object.entries(attrs).map(([k, v]) => `[data-${k}="${v}"]`).join("");
  for (const h of loss?.hyperparameters ?? []) {
    const slider = container.querySelector(`input[type=range]${extra}[data-hyper="${h.name}"]`);
    if (!slider) continue;
    const box = container.querySelector(`input${extra}[data-hyper-on="${h.name}"]`);
    const on = !h.optional || h.name in options;
    if (box) box.checked = on;
    slider.disabled = !on;
    if (h.name in options && !isDragging(slider)) {
      slider.value = String(options[h.name]);
      slider.parentElement.querySelector(".value").textContent = fmtValue(options[h.name], h.step);
    }
  }
}
