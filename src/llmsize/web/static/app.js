// The page: state (mirrored in the URL), inputs, API calls and which section is shown.
import { $, $$, b64decode, b64encode, h, placeholder, replace } from "./ui.js";
import { renderParams } from "./sections.js";
import { SECTIONS, summaryStats, workloadFields, hardwareFields } from "./sections2.js";

const API = "/api/v1";
const KNOBS = ["hidden", "layers", "heads", "kv_heads", "ffn", "vocab", "experts", "top_k"];
const DEFAULT = { src: "preset", m: "Llama-3.1-8B", tab: "params", mode: "infer", explain: "" };

export const state = { ...DEFAULT, cfg: "", name: "", knobs: {}, w: {} };
let meta = { sections: { params: true } };
let presets = [];
const cache = new Map();

// ---- API -----------------------------------------------------------------------------------
export async function api(path, body, signal) {
  const key = path + (body ? JSON.stringify(body) : "");
  if (cache.has(key)) return cache.get(key);
  const res = await fetch(API + path, body ? { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify(body), signal } : { signal });
  let data;
  try { data = await res.json(); } catch { data = { detail: `the server answered ${res.status}` }; }
  if (!res.ok) throw Object.assign(new Error(data.detail || `HTTP ${res.status}`), { status: res.status });
  if (cache.size > 300) cache.delete(cache.keys().next().value);
  cache.set(key, data);
  return data;
}

export function modelRef() {
  if (state.src === "config") return state.cfg ? { config_text: state.cfg, config_name: state.name || undefined } : null;
  if (state.src === "knobs") {
    const k = {};
    for (const n of KNOBS) if (state.knobs[n] !== undefined && state.knobs[n] !== "") k[n] = Number(state.knobs[n]);
    k.gated = state.knobs.gated !== "0";
    k.tied = state.knobs.tied === "1";
    return { knobs: k };
  }
  return state.m ? { preset: state.m } : null;
}

// ---- URL state -----------------------------------------------------------------------------
function readURL() {
  const q = new URLSearchParams(location.search);
  for (const k of ["src", "m", "tab", "mode", "explain", "name"]) if (q.has(k)) state[k] = q.get(k);
  if (q.has("cfg")) { try { state.cfg = b64decode(q.get("cfg")); } catch { state.cfg = ""; } }
  for (const n of [...KNOBS, "gated", "tied"]) if (q.has(n)) state.knobs[n] = q.get(n);
  for (const [k, v] of q) if (k.startsWith("w.")) state.w[k.slice(2)] = v;
  if (!SECTIONS[state.tab] && state.tab !== "params") state.tab = "params";
}

function writeURL() {
  const q = new URLSearchParams();
  q.set("src", state.src);
  if (state.src === "preset") q.set("m", state.m);
  if (state.src === "config" && state.cfg) {
    const enc = b64encode(JSON.stringify(safeParse(state.cfg) ?? state.cfg));
    if (enc.length < 12000) q.set("cfg", enc);
    if (state.name) q.set("name", state.name);
  }
  if (state.src === "knobs") for (const n of [...KNOBS, "gated", "tied"]) if (state.knobs[n]) q.set(n, state.knobs[n]);
  q.set("tab", state.tab);
  q.set("mode", state.mode);
  for (const [k, v] of Object.entries(state.w)) if (v !== "" && v != null) q.set(`w.${k}`, v);
  if (state.explain) q.set("explain", "1");
  history.replaceState(null, "", `?${q}`);
}

function safeParse(t) { try { return JSON.parse(t); } catch { return null; } }

// ---- rendering -----------------------------------------------------------------------------
let seq = 0;
let controller = null;
let started = 0;

export function update() {
  writeURL();
  const my = ++seq;
  started = performance.now();
  if (controller) controller.abort();
  controller = new AbortController();
  run(my, controller.signal).catch((e) => { if (e.name !== "AbortError") console.error(e); });
}

async function run(my, signal) {
  const ref = modelRef();
  const err = $("#model-error");
  const panel = $(`#panel-${state.tab}`);
  document.body.setAttribute("aria-busy", "true");
  if (!ref) {
    showError(state.src === "config" ? "Upload a config.json to see its numbers." : "Pick a preset.");
    document.body.removeAttribute("aria-busy");
    return;
  }
  let params, spec;
  try {
    [params, spec] = await Promise.all([api("/params", { model: ref }, signal), api("/spec", { model: ref }, signal)]);
  } catch (e) {
    if (e.name === "AbortError" || my !== seq) return;
    showError(e.message);
    document.body.removeAttribute("aria-busy");
    return;
  }
  err.hidden = true;
  $("#results").classList.remove("stale");
  const ctx = { state, meta, explain: !!state.explain, params, spec, api, update, modelRef: ref,
    width: $("#results").clientWidth - 36 };
  const sec = SECTIONS[state.tab];
  const want = (tab) => SECTIONS[tab] && meta.sections[tab];
  const get = (tab) => {
    const body = SECTIONS[tab].body(ref, ctx);  // null: the section explains why it has nothing to ask
    return body === null ? Promise.resolve({ r: null })
      : api(SECTIONS[tab].endpoint(ctx), body, signal).then((r) => ({ r }), (e) => ({ e }));
  };
  const pending = Promise.all([want(state.tab) ? get(state.tab) : null,
    state.tab !== "memory" && want("memory") ? get("memory") : null]);
  const slow = setTimeout(() => {  // a slow section: show the model now, the section when it comes
    if (my !== seq) return;
    replace($("#summary"), summaryStats(params, null, ctx));
    panel.setAttribute("aria-busy", "true");
    if (!panel.firstChild || panel.dataset.model !== JSON.stringify(ref)) {
      replace(panel, h("div", { class: "card placeholder" }, h("span", { class: "spinner", "aria-hidden": "true" }), "Working it out…"));
    } else panel.classList.add("busy");
  }, 120);
  const [section, memory] = await pending;
  clearTimeout(slow);
  panel.removeAttribute("aria-busy");
  panel.classList.remove("busy");
  panel.dataset.model = JSON.stringify(ref);
  if (my !== seq) return;
  if (section?.e?.name === "AbortError") return;
  const mem = state.tab === "memory" ? section : memory;
  replace($("#summary"), summaryStats(params, mem && mem.r, ctx));
  if (state.tab === "params") replace(panel, renderParams(params, ctx));
  else if (!meta.sections[state.tab]) replace(panel, placeholder(`This build of llmsize has no ${sec?.title || state.tab} module yet.`));
  else if (section.e) replace(panel, h("p", { class: "error", role: "alert" }, section.e.message));
  else replace(panel, sec.render(section.r, ctx));
  document.body.removeAttribute("aria-busy");
  document.body.dataset.rendered = String(my);
  document.body.dataset.updateMs = (performance.now() - started).toFixed(1);  // read by the browser tests
}

function showError(msg) {
  const err = $("#model-error");
  $("#results").classList.add("stale");
  err.textContent = msg;
  err.hidden = false;
  document.body.dataset.error = String(seq);
}

// ---- controls ------------------------------------------------------------------------------
function setSource(src) {
  state.src = src;
  for (const r of $$('input[name="src"]')) r.checked = r.value === src;
  for (const p of $$(".src-panel")) p.hidden = p.dataset.src !== src;
}

function setTab(tab, focus = false) {
  state.tab = tab;
  for (const b of $$("#tabs [role=tab]")) {
    const on = b.dataset.tab === tab;
    b.setAttribute("aria-selected", String(on));
    b.tabIndex = on ? 0 : -1;
    if (on && focus) b.focus();
  }
  for (const p of $$(".panel")) p.hidden = p.id !== `panel-${tab}`;
}

function initTabs() {
  const tabs = $$("#tabs [role=tab]");
  tabs.forEach((b, i) => {
    b.addEventListener("click", () => { setTab(b.dataset.tab); update(); });
    b.addEventListener("keydown", (e) => {
      const j = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[e.key];
      if (j === undefined) return;
      e.preventDefault();
      setTab(tabs[(j + tabs.length) % tabs.length].dataset.tab, true);
      update();
    });
  });
  const ex = h("label", { class: "toggle" }, h("input", { type: "checkbox", id: "explain", checked: !!state.explain,
    onchange: (e) => { state.explain = e.target.checked ? "1" : ""; update(); } }), "Explain formulas");
  $("#tabs").after(h("div", { class: "row-between" }, h("span", { class: "sub", id: "model-line" }), ex));
}

function initTheme() {
  const btn = $("#theme");
  const saved = localStorage.getItem("llmsize-theme");
  if (saved) document.documentElement.dataset.theme = saved;
  const dark = () => (document.documentElement.dataset.theme || (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light")) === "dark";
  const sync = () => {
    btn.setAttribute("aria-pressed", String(dark()));
    btn.setAttribute("aria-label", dark() ? "Switch to light theme" : "Switch to dark theme");
  };
  btn.addEventListener("click", () => {
    const next = dark() ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    localStorage.setItem("llmsize-theme", next);
    sync();
  });
  sync();
  $("#share").addEventListener("click", async () => {
    try { await navigator.clipboard.writeText(location.href); $("#share").textContent = "Copied"; } catch {
      $("#share").textContent = "Link in address bar";
    }
    setTimeout(() => { $("#share").textContent = "Copy link"; }, 1500);
  });
}

function initSource() {
  for (const r of $$('input[name="src"]')) r.addEventListener("change", () => { setSource(r.value); update(); });
  for (const inp of $$('.src-panel[data-src="knobs"] input')) {
    if (inp.type === "checkbox") inp.checked = state.knobs[inp.name] !== undefined ? state.knobs[inp.name] === "1" : inp.checked;
    else if (state.knobs[inp.name] !== undefined) inp.value = state.knobs[inp.name];
    const read = () => { state.knobs[inp.name] = inp.type === "checkbox" ? (inp.checked ? "1" : "0") : inp.value; };
    read();
    inp.addEventListener("input", () => { read(); if (state.src === "knobs") update(); });
  }
  const file = $("#config-file");
  const take = async (f) => {
    if (!f) return;
    if (f.size > 512 * 1024) { showError(`${f.name} is ${Math.round(f.size / 1024)} KiB; a config.json is a few KB.`); return; }
    state.cfg = await f.text();
    state.name = f.name === "config.json" ? "" : f.name.replace(/\.json$/, "");
    $("#config-meta").textContent = `${f.name} · ${f.size.toLocaleString()} bytes`;
    setSource("config");
    update();
  };
  file.addEventListener("change", () => take(file.files[0]));
  const drop = $("#drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); take(e.dataTransfer.files[0]); });
  if (state.cfg) $("#config-meta").textContent = `config from the link${state.name ? ` (${state.name})` : ""}`;
}

function initPresets() {
  const input = $("#preset-input"), list = $("#preset-list");
  let shown = [], active = -1;
  input.value = state.m;
  const describe = (p) => `${p.params}${p.family ? ` · ${p.family}` : ""}`;
  const filter = () => {
    const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    const exactHit = presets.some((p) => p.name.toLowerCase() === input.value.toLowerCase());
    shown = presets.filter((p) => exactHit || words.every((w) => p.search.includes(w)));
    active = shown.length ? 0 : -1;
    replace(list, shown.length ? shown.map((p, i) => h("li", { role: "option", id: `opt-${i}`,
      "aria-selected": String(i === active), onmousedown: (e) => { e.preventDefault(); choose(p); } },
    h("span", {}, p.name), h("small", {}, describe(p)))) : h("li", { class: "empty", role: "option", "aria-disabled": "true" },
      "No preset matches; try a family (llama, qwen) or a size (70B)"));
    input.setAttribute("aria-activedescendant", active >= 0 ? `opt-${active}` : "");
  };
  const open = (on) => { list.hidden = !on; input.setAttribute("aria-expanded", String(on)); if (on) filter(); };
  const choose = (p) => {
    state.m = p.name;
    input.value = p.name;
    $("#preset-meta").textContent = `${p.repo} · ${describe(p)}`;
    open(false);
    setSource("preset");
    update();
  };
  const move = (d) => {
    if (!shown.length) return;
    active = (active + d + shown.length) % shown.length;
    $$("li", list).forEach((li, i) => li.setAttribute("aria-selected", String(i === active)));
    input.setAttribute("aria-activedescendant", `opt-${active}`);
    $(`#opt-${active}`)?.scrollIntoView({ block: "nearest" });
  };
  input.addEventListener("focus", () => { input.select(); open(true); });
  input.addEventListener("input", () => open(true));
  input.addEventListener("blur", () => { open(false); input.value = state.m; });
  input.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown") { e.preventDefault(); if (list.hidden) open(true); else move(1); }
    else if (e.key === "ArrowUp") { e.preventDefault(); move(-1); }
    else if (e.key === "Enter" && active >= 0 && !list.hidden) { e.preventDefault(); choose(shown[active]); }
    else if (e.key === "Escape") { open(false); input.value = state.m; }
  });
  const cur = presets.find((p) => p.name === state.m);
  if (cur) $("#preset-meta").textContent = `${cur.repo} · ${describe(cur)}`;
}

export function rebuildWorkload() {
  replace($("#workload-fields"), workloadFields(state, meta, update));
  replace($("#hardware-fields"), hardwareFields(state, meta, update));
}

async function main() {
  readURL();
  initTheme();
  let gpus;
  [meta, presets, gpus] = await Promise.all([api("/meta"), api("/presets").then((r) => r.presets),
    api("/gpus").then((r) => r.gpus, () => [])]);
  meta.gpus = gpus;
  meta.presets = presets;
  for (const p of presets) p.search = `${p.name} ${p.repo} ${p.family} ${p.params} ${p.moe ? "moe" : "dense"}`.toLowerCase();
  setSource(state.src);
  setTab(state.tab);
  for (const r of $$('input[name="mode"]')) {
    r.checked = r.value === state.mode;
    r.addEventListener("change", () => { state.mode = r.value; rebuildWorkload(); update(); });
  }
  initTabs();
  initSource();
  initPresets();
  rebuildWorkload();
  update();
  let resizeTimer = 0, lastWidth = innerWidth;
  addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { if (innerWidth !== lastWidth) { lastWidth = innerWidth; update(); } }, 150);
  });
}

main().catch((e) => showError(`The page could not start: ${e.message}`));
