// DOM helpers and number formatting (in the page's locale). No numbers are computed here: only shown.
import { lang, num, t } from "./i18n.js";

const SVGNS = "http://www.w3.org/2000/svg";

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.setAttribute("class", v);
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "style") Object.assign(el.style, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** h("div", {class: "x"}, child, "text", [more]) */
export const h = (tag, attrs, ...children) => build(document.createElement(tag), attrs, children);
export const s = (tag, attrs, ...children) => build(document.createElementNS(SVGNS, tag), attrs, children);

export function replace(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
}

// ---- formatting -------------------------------------------------------------------------
const SHORT = [[1e12, "T"], [1e9, "B"], [1e6, "M"], [1e3, "K"]];

/** 8030261248 -> ["8.03", "B"] */
export function shortCount(n) {
  for (const [d, suf] of SHORT) if (Math.abs(n) >= d) return [sig(n / d), suf];
  return [num(n), ""];
}
export const count = (n) => shortCount(n).join("");
export const exact = (n) => num(Number(n));

function sig(v) {
  const a = Math.abs(v);
  return num(v, a >= 100 ? 0 : a >= 10 ? 1 : 2);
}

/** bytes -> ["14.96", "GiB"] (iec) or ["16.06", "GB"] (si) */
export function bytesParts(n, units = "iec") {
  const [base, names] = units === "si" ? [1000, ["B", "kB", "MB", "GB", "TB", "PB"]]
    : [1024, ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]];
  let v = Number(n), i = 0;
  while (Math.abs(v) >= base && i < names.length - 1) { v /= base; i++; }
  return [i === 0 ? num(Math.round(v)) : num(v, 2), names[i]];
}
export const bytes = (n, units) => bytesParts(n, units).join(" ");
/** An axis tick: 16 GiB rather than 16.00 GiB. */
export const tickBytes = (n) => bytes(n).replace(/[.,]00 /, " ");
export const pct = (x, digits = 1) => `${num(100 * x, digits)}%`;
export const signedPct = (x) => `${x >= 0 ? "+" : ""}${num(100 * x, 2)}%`;
/** Dollars for people: $0.012, $3.40, $1,234, $36.5 million (separators in the page's locale). */
export function money(x) {
  if (x == null || !Number.isFinite(x)) return "—";
  if (x >= 1e6) return t("${n} million", { n: num(x / 1e6, x >= 1e8 ? 0 : 1) });
  const v = num(x, x >= 100 ? 0 : x >= 1 ? 2 : 3);
  return lang() === "es" ? `${v} $` : `$${v}`;
}
export function rate(x, unit = "tok/s") {
  if (x == null || !Number.isFinite(x)) return "—";
  const [v, suf] = x >= 1e6 ? [x / 1e6, "M"] : x >= 1e4 ? [x / 1e3, "K"] : [x, ""];
  return `${num(v, v >= 100 ? 0 : 1)}${suf} ${unit}`.trim();
}
/** A duration for people: 850 ms, 4.2 s, 3.1 h, 12 days, 36 years. */
export function duration(sec) {
  if (sec == null || !Number.isFinite(sec)) return "—";
  const d = sec / 86400;
  if (d >= 365) return t("{n} years", { n: num(d / 365, d >= 3650 ? 0 : 1) });
  if (d >= 1) return t("{n} days", { n: num(d, d >= 10 ? 0 : 1) });
  if (sec >= 3600) return `${num(sec / 3600, 1)} h`;
  if (sec >= 1) return `${num(sec, sec >= 10 ? 0 : 1)} s`;
  return `${num(sec * 1000)} ms`;
}

/** A big headline number: value and a smaller unit. */
export const big = (value, unit, attrs = {}) => h("div", { class: "big", ...attrs }, value, unit ? h("small", {}, unit) : null);

export function stat(key, value, unit, sub, attrs = {}) {
  return h("div", { class: "stat", ...attrs }, h("div", { class: "k" }, key),
    h("div", { class: "v" }, value, unit ? h("small", {}, unit) : null), sub ? h("div", { class: "s" }, sub) : null);
}

export function card(title, ...children) {
  return h("section", { class: "card" }, title ? h("h3", {}, title) : null, ...children);
}

/** A table: columns [{label, num}], rows of cells (string | Node). */
export function table(columns, rows, { caption, rowClass } = {}) {
  // a wide table scrolls inside its frame, which keyboard users can focus to scroll (WCAG 2.1.1)
  return h("div", { class: "tbl-wrap", tabindex: "0", role: "region", "aria-label": caption || t("table") }, h("table", {},
    caption ? h("caption", { class: "visually-hidden" }, caption) : null,
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { class: c.num ? "num" : null, scope: "col" }, c.label)))),
    h("tbody", {}, rows.map((r, i) => h("tr", { class: rowClass ? rowClass(i) : null },
      r.map((cell, j) => h("td", { class: columns[j].num ? "num" : columns[j].wrap ? "wrap" : null }, cell)))))));
}

export const swatch = (i) => h("span", { class: `swatch fill-c${(i % 10) + 1}`, "aria-hidden": "true" });
export const colour = (i) => `fill-c${(i % 10) + 1}`;

let tipN = 0;
/** A "?" button beside a label that shows (and says) what the jargon means. */
export function tip(label, text) {
  const id = `tip-${++tipN}`;
  const body = h("span", { class: "tip-body", id, hidden: true }, text);
  const btn = h("button", { type: "button", class: "tip", "aria-expanded": "false", "aria-controls": id,
    "aria-label": t("What is {x}?", { x: label }), title: text,
    onclick: () => { const on = body.hidden; body.hidden = !on; btn.setAttribute("aria-expanded", String(on)); } }, "?");
  return h("span", { class: "tip-wrap" }, btn, body);
}

export function placeholder(text) {
  return h("div", { class: "card placeholder" }, text);
}

/** Explain rows: name, formula, source key; `citations` maps keys to full references. */
export function explain(terms, citations, valueOf, open = false) {
  return h("details", { class: "explain card", open, "data-testid": "explain" },
    h("summary", {}, t("Explain: every term, its formula and source")),
    table([{ label: t("term") }, { label: t("value"), num: true }, { label: t("formula"), wrap: true }, { label: t("source") }],
      terms.map((t) => [t.name, valueOf(t), h("span", { class: "formula" }, t.formula || "—"),
        h("span", { class: "src", title: (citations || {})[t.source] || "" }, t.source || "—")])),
    citations && Object.keys(citations).length
      ? h("ul", { class: "src" }, Object.entries(citations).map(([k, v]) => h("li", {}, h("strong", {}, k), ": ", v)))
      : null);
}

/** Base64url of UTF-8 text and back (an uploaded config in the URL). */
export function b64encode(text) {
  const bin = Array.from(new TextEncoder().encode(text), (b) => String.fromCharCode(b)).join("");
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
export function b64decode(s) {
  const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
  return new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
}
