// DOM helpers and number formatting. No numbers are computed here: only shown.
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
  return [String(n), ""];
}
export const count = (n) => shortCount(n).join("");
export const exact = (n) => Number(n).toLocaleString("en-US");

function sig(v) {
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2);
}

/** bytes -> ["14.96", "GiB"] (iec) or ["16.06", "GB"] (si) */
export function bytesParts(n, units = "iec") {
  const [base, names] = units === "si" ? [1000, ["B", "kB", "MB", "GB", "TB", "PB"]]
    : [1024, ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]];
  let v = Number(n), i = 0;
  while (Math.abs(v) >= base && i < names.length - 1) { v /= base; i++; }
  return [i === 0 ? String(Math.round(v)) : v.toFixed(2), names[i]];
}
export const bytes = (n, units) => bytesParts(n, units).join(" ");
export const pct = (x, digits = 1) => `${(100 * x).toFixed(digits)}%`;
export const signedPct = (x) => `${x >= 0 ? "+" : ""}${(100 * x).toFixed(2)}%`;
export const money = (x) => (x == null || !Number.isFinite(x) ? "—" : x >= 100 ? `$${x.toFixed(0)}` : x >= 1 ? `$${x.toFixed(2)}` : `$${x.toFixed(3)}`);
export function rate(x, unit = "tok/s") {
  if (x == null || !Number.isFinite(x)) return "—";
  const [v, suf] = x >= 1e6 ? [x / 1e6, "M"] : x >= 1e4 ? [x / 1e3, "K"] : [x, ""];
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)}${suf} ${unit}`;
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
  return h("div", { class: "tbl-wrap" }, h("table", {},
    caption ? h("caption", { class: "visually-hidden" }, caption) : null,
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { class: c.num ? "num" : null, scope: "col" }, c.label)))),
    h("tbody", {}, rows.map((r, i) => h("tr", { class: rowClass ? rowClass(i) : null },
      r.map((cell, j) => h("td", { class: columns[j].num ? "num" : columns[j].wrap ? "wrap" : null }, cell)))))));
}

export const swatch = (i) => h("span", { class: `swatch fill-c${(i % 10) + 1}`, "aria-hidden": "true" });
export const colour = (i) => `fill-c${(i % 10) + 1}`;

export function placeholder(text) {
  return h("div", { class: "card placeholder" }, text);
}

/** Explain rows: name, formula, source key; `citations` maps keys to full references. */
export function explain(terms, citations, valueOf, open = false) {
  return h("details", { class: "explain card", open, "data-testid": "explain" },
    h("summary", {}, "Explain: every term, its formula and source"),
    table([{ label: "term" }, { label: "value", num: true }, { label: "formula", wrap: true }, { label: "source" }],
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
