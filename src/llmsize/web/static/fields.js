// Input checks in the page's own words: a field whose text is not a value it accepts says so beside
// itself (aria-invalid + message), the last result is marked stale, and nothing is sent or guessed.
import { $, h } from "./ui.js";
import { num, t } from "./i18n.js";

const invalid = new Map();  // field id -> message

/** null when `raw` is a whole number in [min, max] (or empty and optional), else why not. */
export function checkInt(raw, { min = 1, max, optional = false } = {}) {
  const s = String(raw ?? "").trim();
  if (!s) return optional ? null : t("enter a whole number");
  if (!/^\d+$/.test(s)) return t("{v} is not a whole number (digits only, e.g. {ex})", { v: s, ex: num(Math.max(min, 8)) });
  const n = Number(s);
  if (n < min) return t("must be at least {n}", { n: num(min) });
  if (max && n > max) return t("{v} is more than the largest accepted, {n}", { v: num(n), n: num(max) });
  return null;
}

/** A budget or token count: 7B, 1.5T, 1e23, 100000 (positive; K, M, B, T suffixes). */
export function checkQuantity(raw) {
  const s = String(raw ?? "").trim();
  if (!s) return t("enter an amount, e.g. 7B, 1e23 or 100000");
  if (!/^(\d+(\.\d+)?|\.\d+)(e\+?\d+)?\s*[kmbt]?$/i.test(s)) {
    return t("{v} is not an amount: use a positive number with an optional K, M, B or T (7B, 1.5T, 1e23)", { v: s });
  }
  if (!(parseFloat(s) > 0)) return t("must be more than 0");
  return null;
}

/** The number an amount checkQuantity accepts stands for: 1.5T → 1.5e12, 20k → 20000 (NaN otherwise). */
export function quantity(raw) {
  const s = String(raw ?? "").replace(/[,_\s]/g, "");
  const m = /^((?:\d+(?:\.\d+)?|\.\d+)(?:e\+?\d+)?)([kmbt]?)$/i.exec(s);
  return m ? Number(m[1]) * ({ "": 1, k: 1e3, m: 1e6, b: 1e9, t: 1e12 })[m[2].toLowerCase()] : NaN;
}

/** A decimal number written with a point or, as Spanish writes it, a comma (2.5 or 2,5); NaN otherwise. */
export function decimal(raw) {
  const s = String(raw ?? "").trim();
  return /^(\d+([.,]\d+)?|[.,]\d+)$/.test(s) ? Number(s.replace(",", ".")) : NaN;
}

/** A rate such as requests per second: a positive decimal number up to `max` (or empty and optional). */
export function checkRate(raw, { max, optional = false } = {}) {
  const s = String(raw ?? "").trim();
  if (!s) return optional ? null : t("enter a number, e.g. 2 or 0.5");
  if (Number.isNaN(decimal(s))) return t("{v} is not a number (digits and one decimal point, e.g. 0.5)", { v: s });
  const n = decimal(s);
  if (!(n > 0)) return t("must be more than 0");
  if (max && n > max) return t("{v} is more than the largest accepted, {n}", { v: num(n, 2), n: num(max) });
  return null;
}

/** Mark `input` (and its message) valid or not; returns whether it is valid. */
export function mark(input, label, why) {
  const id = input.id || input.name;
  const msgId = `${id}-msg`;
  let msg = document.getElementById(msgId);
  if (why) {
    if (!msg) {
      msg = h("span", { class: "field-msg", id: msgId });
      input.after(msg);
    }
    msg.textContent = `${label}: ${why}`;
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", msgId);
    invalid.set(id, `${label}: ${why}`);
  } else {
    msg?.remove();
    input.removeAttribute("aria-invalid");
    input.removeAttribute("aria-describedby");
    invalid.delete(id);
  }
  staleNote();
  return !why;
}

let source = "preset";
/** Knob fields count only while the model comes from the knobs. */
const blocking = () => [...invalid.entries()].filter(([id]) => !id.startsWith("k-") || source === "knobs");
export const anyInvalid = (src) => { source = src; staleNote(); return blocking().length > 0; };
export const forget = (id) => { invalid.delete(id); staleNote(); };

/** While a field is invalid, the results show the last valid calculation, marked stale. */
export function staleNote() {
  const note = $("#stale-note");
  if (!note) return;
  const bad = blocking();
  const on = bad.length > 0;
  note.hidden = !on;
  note.textContent = on ? t("These results are for the last valid inputs. Fix: {what}", { what: bad.map(([, m]) => m).join("; ") }) : "";
  $("#results")?.classList.toggle("stale", on);
  $("#summary")?.classList.toggle("stale", on);
}

/** Page labels for the API's field names, so a server message speaks the page's language. */
const labels = () => ({
  "model.knobs.hidden": t("Hidden d"), "model.knobs.layers": t("Layers L"), "model.knobs.heads": t("Heads"),
  "model.knobs.kv_heads": t("KV heads"), "model.knobs.head_dim": t("Head size"), "model.knobs.ffn": t("FFN width f"), "model.knobs.vocab": t("Vocab V"),
  "model.knobs.experts": t("Experts"), "model.knobs.top_k": t("Top-k"), context: t("Prompt tokens"), new_tokens: t("Output tokens"),
  batch: t("Concurrent sequences"), seq_len: t("Sequence length"), lora_r: t("LoRA rank"), rank: t("LoRA rank"), gpu: t("GPU"),
  "job.seq": t("Sequence length"), "job.micro_batch": t("Micro-batch"), "job.global_batch": t("Global batch"),
  "job.tokens": t("Training tokens"), "job.prompt": t("Prompt tokens"), "job.output": t("Output tokens"),
  "job.concurrency": t("Concurrent sequences"), "job.seq_len": t("Sequence length"), "job.batch": t("Concurrent sequences"),
  "job.new_tokens": t("Output tokens"), "job.max_days": t("Time limit (days)"), "job.tpot": t("Per-token limit (ms)"),
  "job.engine": t("Serving engine"), "job.request_rate": t("Request rate (req/s)"), max_gpus: t("Most GPUs"),
  params: t("Amount"),
  compute: t("Amount"), gpu_hours: t("Amount"),
});

export function humanize(msg) {
  const L = labels();
  let out = String(msg);
  for (const [k, label] of Object.entries(L).sort((a, b) => b[0].length - a[0].length)) out = out.split(`${k}:`).join(`${label}:`);
  const flag = (f) => L[`model.knobs.${f}`] || L[f];
  out = out.replace(/--([a-z][a-z-]*)/g, (m, f) => flag(f.replace(/-/g, "_")) || m);
  // the API's way past a model's trained context is this page's box
  out = out.replace(/pass allow_long_context to size it anyway/g, () => t("tick “{box}” to size it anyway", { box: t("Past the trained context") }));
  return out.replace(/\b(top_k|kv_heads|num_experts)\b/g, (m) => flag(m === "num_experts" ? "experts" : m) || m);
}
