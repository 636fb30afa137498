// The calculation in the URL: read it (refusing, visibly, values the page does not know), write it
// (a new history entry per calculation, so Back and Forward step through them).
import { b64decode, b64encode } from "./ui.js";
import { t } from "./i18n.js";

export const KNOBS = ["hidden", "layers", "heads", "kv_heads", "head_dim", "ffn", "vocab", "experts", "top_k"];
export const TABS = ["params", "memory", "quant", "plan", "cost", "design", "guide"];
const DEFAULT = { src: "preset", m: "Llama-3.1-8B", tab: "params", mode: "infer", explain: "", lang: "" };
const CHOICES = { src: ["preset", "config", "knobs"], tab: TABS, mode: ["infer", "train"], explain: ["", "1"],
  lang: ["", "en", "es"], gated: ["0", "1"], tied: ["0", "1"] };

export const state = { ...DEFAULT, cfg: "", name: "", knobs: {}, w: {} };
export const refused = [];  // "key=value (why)" for each value of the link the page ignored

function refuse(k, v, why) { refused.push(t("{kv} ({why})", { kv: `${k}=${v}`, why })); }

/** State from the address bar; values out of the page's choices are refused, not guessed at. */
export function readURL() {
  Object.assign(state, DEFAULT, { cfg: "", name: "", knobs: {}, w: {} });
  refused.length = 0;
  const q = new URLSearchParams(location.search);
  for (const [k, v] of q) {
    if (k in CHOICES && !CHOICES[k].includes(v)) refuse(k, v, t("not one of the page's choices"));
    else if (k in DEFAULT || k === "name") state[k] = v;
    else if (KNOBS.includes(k) || k === "gated" || k === "tied") state.knobs[k] = v;
    else if (k.startsWith("w.")) state.w[k.slice(2)] = v;
    else if (k === "cfg") {
      try { state.cfg = b64decode(v); } catch { refuse("cfg", v.slice(0, 12) + "…", t("not a config this page wrote")); }
    } else refuse(k, v, t("not a setting of this page"));
  }
}

/** Workload values the page has no control for (checked once the options are known). */
export function refuseUnknown(known) {
  for (const [k, v] of Object.entries(state.w)) {
    const why = known(k, v);
    if (why) { refuse(`w.${k}`, v, why); delete state.w[k]; }
  }
}

const safeParse = (s) => { try { return JSON.parse(s); } catch { return null; } };

export function query() {
  const q = new URLSearchParams();
  if (state.lang) q.set("lang", state.lang);
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
  return q;
}

let lastPush = { at: 0, by: "" };
/** Record the calculation: typing in one field within 1.5 s amends the entry, anything else adds one. */
export function writeURL(by = "") {
  const url = `?${query()}`;
  if (url === location.search) return;
  const now = performance.now();
  const amend = !location.search || by === "pop" || (by && by === lastPush.by && now - lastPush.at < 1500);
  history[amend ? "replaceState" : "pushState"](null, "", url);
  lastPush = { at: now, by };
}
