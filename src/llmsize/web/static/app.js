// The page: inputs, API calls and which section is shown. The calculation lives in the URL (urlstate.js).
import { $, $$, h, placeholder, replace } from "./ui.js";
import { initLang, t, tr } from "./i18n.js";
import { renderParams } from "./sections.js";
import { SECTIONS, summaryStats, workloadFields, hardwareFields, knownValue, nativeLabel, setNative } from "./sections2.js";
import { KNOBS, readURL, refuseUnknown, refused, state, writeURL, query } from "./urlstate.js";
import { anyInvalid, checkInt, humanize, mark } from "./fields.js";
import { initSource, initPresets, syncSource } from "./source.js";

export { state };
const API = "/api/v1";
let meta = { sections: { params: true } };
const cache = new Map();

// ---- API -----------------------------------------------------------------------------------
/** POST (or GET) one endpoint. Only complete answers are cached, keyed by the request we built. */
export async function api(path, body, signal) {
  const key = path + (body ? JSON.stringify(body) : "");
  if (cache.has(key)) return cache.get(key);
  const res = await fetch(API + path, body ? { method: "POST", headers: { "content-type": "application/json" },
    body: key.slice(path.length), signal } : { signal });
  let data;
  try { data = await res.json(); } catch (e) {
    if (e.name === "AbortError" || signal?.aborted) throw e;  // cut off mid-answer: not an answer
    data = { detail: t("the server answered {status}", { status: res.status }) };
  }
  if (!res.ok || !data || typeof data !== "object") {
    // the API's messages are English (the CLI's); the page renders them with the report catalog
    const detail = typeof data?.detail === "string" ? tr(data.detail) : t("the server answered {status}", { status: res.status });
    throw Object.assign(new Error(humanize(detail)), { status: res.status });
  }
  if (cache.size > 300) cache.delete(cache.keys().next().value);
  cache.set(key, data);
  return data;
}

const KNOB_MAX = { hidden: 1 << 20, layers: 4096, heads: 4096, kv_heads: 4096, head_dim: 1 << 20, ffn: 1 << 20, vocab: 1 << 24, experts: 4096, top_k: 4096 };
const OPTIONAL = new Set(["kv_heads", "head_dim", "ffn", "experts", "top_k"]);

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

// ---- rendering -----------------------------------------------------------------------------
let seq = 0;
let controller = null;
let started = 0;
let lastVerdict = "";

/** Recompute for the current state; `by` names the field that changed (typing amends one history entry). */
export function update(by = "") {
  if (anyInvalid(state.src)) {  // the inline message says why; the last result stays, marked stale
    const panel = $(`#panel-${state.tab}`);
    if (!panel.firstChild) replace(panel, placeholder(t("Fix the highlighted field to see this section.")));
    return;
  }
  writeURL(by);
  syncLangLink();
  const my = ++seq;
  started = performance.now();
  if (controller) controller.abort();
  controller = new AbortController();
  document.body.setAttribute("aria-busy", "true");
  run(my, controller.signal).catch((e) => {
    if (e.name !== "AbortError" && my === seq) showError(e.message);
  }).finally(() => { if (my === seq) document.body.removeAttribute("aria-busy"); });
}

async function run(my, signal) {
  const ref = modelRef();
  const panel = $(`#panel-${state.tab}`);
  if (!ref) {
    showError(state.src === "config" ? t("Upload a config.json to see its numbers.") : t("Pick a preset."));
    return;
  }
  let params, spec;
  try {
    [params, spec] = await Promise.all([api("/params", { model: ref }, signal), api("/spec", { model: ref }, signal)]);
  } catch (e) {
    if (e.name === "AbortError" || my !== seq) return;
    showError(e.message);
    return;
  }
  if (setNative(spec.weights)) {  // another model: the Weights menu's "native" names its own format
    const opt = $('#w-weights option[value="native"]');
    if (opt) opt.textContent = nativeLabel();
  }
  $("#model-error").hidden = true;
  $("#results").classList.remove("stale");
  const ctx = { state, meta, explain: !!state.explain, params, spec, api, update, modelRef: ref,
    width: $("#results").clientWidth - 36 };
  const sec = SECTIONS[state.tab];
  const want = (tab) => SECTIONS[tab] && meta.sections[SECTIONS[tab].needs || tab];
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
      replace(panel, h("div", { class: "card placeholder" }, h("span", { class: "spinner", "aria-hidden": "true" }), t("Working it out…")));
    } else panel.classList.add("busy");
  }, 120);
  let section, memory;
  try { [section, memory] = await pending; } finally {
    clearTimeout(slow);
    panel.removeAttribute("aria-busy");
    panel.classList.remove("busy");
  }
  if (my !== seq || section?.e?.name === "AbortError" || memory?.e?.name === "AbortError") return;
  panel.dataset.model = JSON.stringify(ref);
  const mem = state.tab === "memory" ? section : memory;
  ctx.memory = mem && mem.r;
  replace($("#summary"), summaryStats(params, ctx.memory, ctx));
  announce(ctx);
  if (state.tab === "params") replace(panel, renderParams(params, ctx));
  else if (!want(state.tab)) replace(panel, placeholder(t("This build of llmsize has no {what} module yet.", { what: sec?.title() || state.tab })));
  else if (section.e) replace(panel, sec.error ? sec.error(section.e, ctx) : h("p", { class: "error", role: "alert" }, section.e.message));
  else replace(panel, sec.render(section.r, ctx));
  document.body.dataset.rendered = String(my);
  document.body.dataset.updateMs = (performance.now() - started).toFixed(1);  // read by the browser tests
}

/** Say the verdict once when it changes, not the whole summary on every keystroke. */
function announce() {
  const v = $("#summary [data-testid=verdict]");
  const text = v ? `${v.textContent}. ${v.closest(".stat")?.querySelector(".s")?.textContent || ""}` : "";
  if (text !== lastVerdict) { $("#announce").textContent = text; lastVerdict = text; }
}

export function showError(msg) {
  const err = $("#model-error");
  $("#results").classList.add("stale");
  err.textContent = msg;
  err.hidden = false;
  document.body.dataset.error = String(seq);
}

// ---- controls ------------------------------------------------------------------------------
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
  $("#explain").addEventListener("change", (e) => { state.explain = e.target.checked ? "1" : ""; update(); });
}

function initTheme() {
  const btn = $("#theme");
  const saved = localStorage.getItem("llmsize-theme");
  if (saved) document.documentElement.dataset.theme = saved;
  const dark = () => (document.documentElement.dataset.theme || (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light")) === "dark";
  const sync = () => {
    btn.setAttribute("aria-pressed", String(dark()));
    btn.setAttribute("aria-label", dark() ? t("Switch to light theme") : t("Switch to dark theme"));
  };
  btn.addEventListener("click", () => {
    const next = dark() ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    localStorage.setItem("llmsize-theme", next);
    sync();
  });
  sync();
  const share = $("#share"), label = share.textContent;
  share.addEventListener("click", async () => {
    try { await navigator.clipboard.writeText(location.href); share.textContent = t("Copied"); } catch {
      share.textContent = t("Link in address bar");
    }
    setTimeout(() => { share.textContent = label; }, 1500);
  });
}

/** The other language's link carries the current calculation. */
function syncLangLink() {
  const a = $("#lang-switch");
  if (!a) return;
  const q = query();
  q.set("lang", a.hreflang);
  a.href = `?${q}`;
}

function initKnobs() {
  for (const inp of $$('.src-panel[data-src="knobs"] input')) {
    const label = inp.closest("label").querySelector("span").textContent;
    const check = () => inp.type === "checkbox" || mark(inp, label, checkInt(inp.value, { max: KNOB_MAX[inp.name], optional: OPTIONAL.has(inp.name) }));
    inp.addEventListener("input", () => {
      state.knobs[inp.name] = inp.type === "checkbox" ? (inp.checked ? "1" : "0") : inp.value.trim();
      if (check() && state.src === "knobs") update(`k.${inp.name}`);
    });
    inp.check = check;
  }
}

function syncKnobs() {
  for (const inp of $$('.src-panel[data-src="knobs"] input')) {
    const v = state.knobs[inp.name];
    if (inp.type === "checkbox") {
      if (v !== undefined) inp.checked = v === "1";
      state.knobs[inp.name] = inp.checked ? "1" : "0";
    } else {
      inp.value = v !== undefined ? v : inp.defaultValue;
      state.knobs[inp.name] = inp.value;
      inp.check();
    }
  }
}

export function rebuildWorkload() {
  replace($("#workload-fields"), workloadFields(state, meta, update));
  replace($("#hardware-fields"), hardwareFields(state, meta, update));
}

/** Every control from the state (first load, and Back / Forward). */
function syncControls() {
  syncSource(state);
  setTab(state.tab);
  for (const r of $$('input[name="mode"]')) r.checked = r.value === state.mode;
  $("#explain").checked = !!state.explain;
  syncKnobs();
  rebuildWorkload();
  const box = $("#refused");
  box.hidden = !refused.length;
  box.textContent = refused.length ? t("This link has values the page does not know; they were ignored: {list}.", { list: refused.join("; ") }) : "";
}

async function main() {
  await initLang();
  readURL();
  initTheme();
  let gpus, presets;
  [meta, presets, gpus] = await Promise.all([api("/meta"), api("/presets").then((r) => r.presets),
    api("/gpus").then((r) => r.gpus, () => [])]);
  meta.gpus = gpus;
  meta.presets = presets;
  for (const p of presets) p.search = `${p.name} ${p.repo} ${p.family} ${p.params} ${p.moe ? "moe" : "dense"}`.toLowerCase();
  const check = () => {
    refuseUnknown((k, v) => knownValue(k, v, meta));
    if (state.src === "preset" && !presets.some((p) => p.name === state.m)) {
      refused.push(t("{kv} ({why})", { kv: `m=${state.m}`, why: t("not a preset") }));
      state.m = "Llama-3.1-8B";
    }
  };
  check();
  for (const r of $$('input[name="mode"]')) {
    r.addEventListener("change", () => { state.mode = r.value; rebuildWorkload(); update(); });
  }
  initTabs();
  initKnobs();
  initSource(state, presets, update, showError);
  initPresets(state, presets, update);
  syncControls();
  update();
  addEventListener("popstate", () => {
    readURL();
    check();
    syncControls();
    update("pop");
  });
  let resizeTimer = 0, lastWidth = innerWidth;
  addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { if (innerWidth !== lastWidth) { lastWidth = innerWidth; update(); } }, 150);
  });
}

main().catch((e) => showError(t("The page could not start: {why}", { why: e.message })));
