// The netspec serve page: edit a spec, see it checked (report table, problems) and drawn as
// you type. Talks to the app's API (netspec/serve/app.py); the editor is window.NetspecEditor.
"use strict";

const DEBOUNCE_MS = 150;     // re-check this long after the last keystroke
const $ = id => document.getElementById(id);

const state = {
  path: null,          // the open file, relative to the served folder (null: untitled)
  version: null,       // its version token as opened or last saved
  saved: "",           // its text as opened or last saved
  variant: "", depth: "", network: "",
  checkSeq: 0, drawSeq: 0, timer: null, checking: null, drawing: null,
  zoom: null,          // null: fit the width; else a scale factor
  conflictVersion: null,
};
let editor = null;

function query(extra = {}) {
  const q = new URLSearchParams();
  if (state.path) q.set("path", state.path);
  if (state.variant) q.set("variant", state.variant);
  if (state.depth !== "") q.set("depth", state.depth);
  if (state.network) q.set("network", state.network);
  for (const [k, v] of Object.entries(extra)) q.set(k, v);
  return q.toString();
}

function status(text, kind = "") {
  const el = $("status");
  el.textContent = text;
  el.className = "status " + kind;
}

function fmt(n) { return Number(n).toLocaleString("en-US"); }

function human(n) {
  const units = [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "K"]];
  for (const [size, unit] of units) if (n >= size) return (n / size).toFixed(n >= 10 * size ? 1 : 2) + unit;
  return String(n);
}

function shape(s) { return "[" + s.join(", ") + "]"; }

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

// ---- checking --------------------------------------------------------------------------------

function scheduleCheck() {
  clearTimeout(state.timer);
  state.timer = setTimeout(recheck, DEBOUNCE_MS);
}

async function recheck() {
  const seq = ++state.checkSeq;
  if (state.checking) state.checking.abort();
  const abort = state.checking = new AbortController();
  const text = editor.getText();
  const start = performance.now();
  let response, body;
  try {
    response = await fetch("/api/check?" + query({extras: "1"}), {
      method: "POST", body: text, headers: {"Content-Type": "text/plain; charset=utf-8"},
      signal: abort.signal});
    body = await response.json();
  } catch (err) {
    if (err.name !== "AbortError") status("cannot reach netspec serve", "bad");
    return;
  }
  if (seq !== state.checkSeq) return;            // a newer check is under way
  const ms = Math.round(performance.now() - start);
  if (response.ok) {
    showProblems([], body.warnings || []);
    showReport(body.rows || [], body.shown, null);
    showVariants(body.variants || []);
    showNetworks(body.networks || []);
    status(`checked in ${ms} ms`, "good");
    redraw(text);
  } else {
    const errors = body.errors || [];
    showProblems(errors, body.warnings || []);
    if (body.rows || body.layers) {
      showReport(body.rows || body.layers, body.shown, errors[0]);
      redraw(text);                                // drawn down to the failing edge
    } else {                                       // nothing inferred: keep the last, dimmed
      $("diagram").classList.add("stale");
      $("report").classList.add("stale");
    }
    if (body.variants) showVariants(body.variants);
    if (body.networks) showNetworks(body.networks);  // a failing network can still be picked
    const n = errors.length;
    status(`${n} problem${n === 1 ? "" : "s"} (${ms} ms)`, "bad");
  }
}

function showProblems(errors, warnings) {
  const list = $("errors");
  list.replaceChildren();
  const here = d => !d.file || !state.path || d.file === state.path ||
    d.file.endsWith("/" + (state.path || "untitled.yaml"));
  const all = [...errors.map(e => ({...e, severity: "error"})),
               ...warnings.map(w => ({...w, severity: "warning"}))];
  for (const d of all) {
    const where = d.line ? `${here(d) ? "" : d.file + ":"}${d.line}:${d.col}` : d.severity;
    const item = el("li", {class: d.severity, "data-line": d.line || "", "data-col": d.col || ""},
      el("span", {class: "where"}, where), el("span", {class: "message"}, d.message));
    for (const note of d.notes || []) item.append(el("div", {class: "note"}, note));
    if (d.hint) item.append(el("div", {class: "hint"}, "hint: " + d.hint));
    for (const use of d.chain || []) item.append(el("div", {class: "note"}, use));
    if (!here(d) && d.use)
      item.append(el("div", {class: "note"}, `used here at ${d.use.line}:${d.use.col}`));
    const at = here(d) ? d : d.use;
    if (at && at.line) item.addEventListener("click", () => editor.goto(at.line, at.col));
    list.append(item);
  }
  if (!all.length) list.append(el("li", {class: "ok"}, "no problems: the spec checks"));
  const count = $("error-count");
  count.textContent = errors.length ? String(errors.length) : "";
  count.className = errors.length ? "bad" : "";
  // an error inside a block defined elsewhere is marked where this file uses the block
  editor.setDiagnostics(all.map(d => here(d) ? d : d.use ? {...d, ...d.use} : null)
                           .filter(Boolean));
}

function showReport(rows, report, failure) {
  const table = el("table");
  table.append(el("thead", {}, el("tr", {},
    el("th", {}, "layer"), el("th", {}, "kind"), el("th", {}, "output"),
    el("th", {class: "num"}, "params"), el("th", {class: "num"}, "MACs"),
    el("th", {class: "num", title: "receptive field on the input"}, "rf"))));
  const body = el("tbody");
  for (const r of rows) {
    const indent = "\u2007".repeat(2 * (r.depth || 0));
    const tr = el("tr", {class: r.failed ? "failed" : r.header ? "row header" : "row"},
      el("td", {class: "name"}, indent + r.name), el("td", {}, r.kind),
      el("td", {}, shape(r.shape)), el("td", {class: "num"}, r.params ? fmt(r.params) : ""),
      el("td", {class: "num"}, r.macs ? human(r.macs) : ""),
      el("td", {class: "num"}, r.rf ? r.rf.join("×") : ""));
    body.append(tr);
  }
  if (failure) {
    body.append(el("tr", {class: "failed"}, el("td", {colspan: "6"},
      `✗ ${failure.line ? failure.line + ":" + failure.col + "  " : ""}${failure.message}`)));
  }
  table.append(body);
  $("report").replaceChildren(table);
  $("report").classList.remove("stale");
  $("totals").textContent = report ?
    `${fmt(report.params)} params (${fmt(report.trainable)} trainable) · ` +
    `${human(report.macs)} MACs · ${human(report.activation_bytes)}B activations` +
    (failure ? " (down to the error)" : "") : "";
}

function showVariants(names) {
  const select = $("variant");
  const wanted = state.variant;
  const have = [...select.options].slice(1).map(o => o.value);
  if (have.join("\n") !== names.join("\n")) {
    select.replaceChildren(el("option", {value: ""}, "params as written"),
      ...names.map(n => el("option", {value: n}, n)));
  }
  if (wanted && !names.includes(wanted)) state.variant = "";
  select.value = state.variant;
  select.disabled = !names.length;
}

function showNetworks(names) {
  const select = $("network");
  select.parentElement.hidden = !names.length;
  const have = [...select.options].map(o => o.value);
  if (have.join("\n") !== names.join("\n"))
    select.replaceChildren(...names.map(n => el("option", {value: n}, n)));
  if (!names.includes(state.network)) state.network = names[0] || "";
  select.value = state.network;
}

// ---- drawing ---------------------------------------------------------------------------------

async function redraw(text) {
  const seq = ++state.drawSeq;
  if (state.drawing) state.drawing.abort();
  const abort = state.drawing = new AbortController();
  let response, payload;
  try {
    response = await fetch("/api/draw?" + query(), {method: "POST", body: text,
      headers: {"Content-Type": "text/plain; charset=utf-8"}, signal: abort.signal});
    payload = await response.text();
  } catch (err) { return; }
  if (seq !== state.drawSeq) return;
  const box = $("diagram");
  box.classList.remove("stale");
  if ((response.headers.get("content-type") || "").startsWith("image/svg+xml")) {
    const doc = new DOMParser().parseFromString(payload, "image/svg+xml");
    const svg = doc.documentElement;
    if (svg.nodeName !== "svg") return;
    box.replaceChildren(document.importNode(svg, true));
    applyZoom();
    // fail-soft: bring the failing layer (drawn in red, at the end of what was inferred) in view
    const failed = [...box.querySelectorAll("g.node > title")]
      .find(t => t.textContent.startsWith("failed/"));
    if (failed) failed.parentElement.scrollIntoView({block: "center", inline: "center"});
  } else {
    let message = "the diagram could not be drawn";
    try { const e = JSON.parse(payload).errors[0]; message = e.message + (e.hint ? ` (${e.hint})` : ""); }
    catch (err) { /* not JSON: keep the plain sentence */ }
    box.replaceChildren(el("div", {class: "notice"}, message));
  }
}

function applyZoom() {
  const box = $("diagram");
  const svg = box.querySelector("svg");
  box.classList.toggle("fit", state.zoom === null);
  if (!svg) return;
  if (!svg.dataset.width) {
    svg.dataset.width = parseFloat(svg.getAttribute("width")) || 600;
    svg.dataset.height = parseFloat(svg.getAttribute("height")) || 400;
  }
  const scale = state.zoom === null ? 1 : state.zoom;
  svg.setAttribute("width", svg.dataset.width * scale + "pt");
  svg.setAttribute("height", svg.dataset.height * scale + "pt");
}

function zoom(factor) {
  const box = $("diagram"), svg = box.querySelector("svg");
  if (state.zoom === null) {
    const shown = svg ? svg.getBoundingClientRect().width : 1;
    state.zoom = svg ? shown / (svg.dataset.width * 4 / 3) : 1;   // pt -> px
  }
  state.zoom = Math.min(8, Math.max(0.05, state.zoom * factor));
  applyZoom();
}

// ---- files -----------------------------------------------------------------------------------

async function api(url, options = {}) {
  const response = await fetch(url, options);
  let body = null;
  try { body = await response.json(); } catch (err) { body = {}; }
  return {response, body};
}

function firstError(body) {
  const e = (body.errors || [])[0] || {};
  return (e.message || "failed") + (e.hint ? ` (hint: ${e.hint})` : "");
}

async function loadFiles() {
  const {body} = await api("/api/files");
  const list = $("file-list");
  list.replaceChildren();
  let folder = null;
  for (const path of body.files || []) {
    const cut = path.lastIndexOf("/");
    const dir = cut < 0 ? "" : path.slice(0, cut);
    if (dir !== folder) {
      folder = dir;
      if (dir) list.append(el("li", {class: "dir"}, dir + "/"));
    }
    const item = el("li", {"data-path": path, title: path}, cut < 0 ? path : path.slice(cut + 1));
    if (dir) item.style.paddingLeft = "20px";
    item.addEventListener("click", () => openFile(path));
    list.append(item);
  }
  markOpen();
  return body.files || [];
}

function markOpen() {
  for (const li of $("file-list").querySelectorAll("li[data-path]"))
    li.classList.toggle("open", li.dataset.path === state.path);
}

function setDirty() {
  const dirty = editor.getText() !== state.saved;
  $("dirty").hidden = !dirty;
  $("save").disabled = !dirty || !state.path;
  document.title = (dirty ? "● " : "") + (state.path || "untitled.yaml") + " · netspec serve";
}

async function openFile(path) {
  if (editor.getText() !== state.saved && !confirm("Discard the unsaved changes?")) return;
  const {response, body} = await api("/api/file?path=" + encodeURIComponent(path));
  if (!response.ok) { status(firstError(body), "bad"); return; }
  state.path = body.path; state.version = body.version; state.saved = body.text;
  state.variant = ""; state.network = "";
  editor.setText(body.text);
  $("filename").textContent = body.path;
  hideConflict();
  markOpen();
  setDirty();
  history.replaceState(null, "", "?file=" + encodeURIComponent(body.path));
  recheck();
}

async function save(version = state.version) {
  if (!state.path) return;
  const text = editor.getText();
  const {response, body} = await api("/api/file", {method: "PUT",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({path: state.path, text, version})});
  if (response.ok) {
    state.version = body.version; state.saved = text;
    hideConflict();
    setDirty();
    status("saved " + state.path, "good");
  } else if (response.status === 409) {
    state.conflictVersion = body.current;
    $("conflict-text").textContent = firstError(body);
    $("conflict").hidden = false;
    status("not saved: changed on disk", "bad");
  } else {
    status("not saved: " + firstError(body), "bad");
  }
}

function hideConflict() { $("conflict").hidden = true; state.conflictVersion = null; }

async function start() {
  editor = window.NetspecEditor.create($("editor"), {
    onChange: () => { setDirty(); scheduleCheck(); },
    onSave: () => save(),
  });
  $("save").addEventListener("click", () => save());
  $("depth").addEventListener("change", e => { state.depth = e.target.value; recheck(); });
  $("variant").addEventListener("change", e => { state.variant = e.target.value; recheck(); });
  $("network").addEventListener("change", e => { state.network = e.target.value; recheck(); });
  $("zoom-in").addEventListener("click", () => zoom(1.25));
  $("zoom-out").addEventListener("click", () => zoom(0.8));
  $("zoom-fit").addEventListener("click", () => { state.zoom = null; applyZoom(); });
  $("reload").addEventListener("click", () => { state.saved = editor.getText(); openFile(state.path); });
  $("overwrite").addEventListener("click", () => save(state.conflictVersion));
  $("dismiss").addEventListener("click", hideConflict);
  document.addEventListener("keydown", e => {
    if ((e.ctrlKey || e.metaKey) && e.key === "s") { e.preventDefault(); save(); }
  });
  window.addEventListener("beforeunload", e => {
    if (editor.getText() !== state.saved) { e.preventDefault(); e.returnValue = ""; }
  });
  const {body: session} = await api("/api/session");
  $("folder").textContent = session.name + "/";
  if (!session.dot) $("diagram").replaceChildren(el("div", {class: "notice"},
    "Graphviz's `dot` is not installed here: the check works, the diagram needs it."));
  const files = await loadFiles();
  const asked = new URLSearchParams(location.search).get("file");
  const first = asked || session.open || files[0];
  if (first) await openFile(first); else { setDirty(); recheck(); }
}

document.addEventListener("DOMContentLoaded", start);
