// The page's language: English strings are the keys, es.json maps each to Spanish. The server renders
// index.html in the page's language (?lang=, else the browser's Accept-Language); this module reads
// that choice from <html lang> and loads the catalog for the strings the scripts build.
export const LANGS = { en: "English", es: "Español" };
let LANG = "en";
let CAT = {};
const missing = new Set();
globalThis.__i18nMissing = missing;  // read by the browser tests: every string shown must have a translation

export const lang = () => LANG;
export const locale = () => (LANG === "es" ? "es-ES" : "en-US");

export async function initLang() {
  const l = document.documentElement.lang;
  LANG = LANGS[l] ? l : "en";
  if (LANG !== "en") {
    CAT = await (await fetch(`/static/${LANG}.json`)).json();
    const r = CAT["@report"] || {};
    REPORT = { exact: r.exact || {}, patterns: (r.patterns || []).map(([re, es]) => [new RegExp(re), es]) };
  }
}

/** t("{n} parameters", {n: "8"}): the string in the page's language, placeholders filled. */
export function t(s, vars) {
  let out = s;
  if (LANG !== "en") {
    if (Object.prototype.hasOwnProperty.call(CAT, s)) out = CAT[s];
    else missing.add(s);
  }
  return vars ? out.replace(/\{(\w+)\}/g, (m, k) => (vars[k] === undefined ? m : String(vars[k]))) : out;
}

const formats = new Map();
/** A number in the page's locale: fixed decimals, or whole with grouping. */
export function num(x, digits = 0) {
  const key = `${LANG}:${digits}`;
  if (!formats.has(key)) {
    formats.set(key, new Intl.NumberFormat(locale(), { minimumFractionDigits: digits, maximumFractionDigits: digits }));
  }
  return formats.get(key).format(x);
}

// Report strings: what the library's JSON says (term names, notes, reasons, labels) stays English in the
// API (it is the CLI's --json); es.json's "@report" renders it: exact strings first, then anchored patterns
// whose captured parts are kept ({1}), translated themselves ({1|t}) or given Spanish separators ({1|n}).
let REPORT = { exact: {}, patterns: [] };
const HOLE = /\{(\d+)(?:\|([tn]))?\}/g;
const esNumber = (v) => v.replace(/[.,]/g, (c) => (c === "." ? "," : "."));

function render(s) {
  if (Object.prototype.hasOwnProperty.call(REPORT.exact, s)) return REPORT.exact[s];
  for (const [re, es] of REPORT.patterns) {
    const m = re.exec(s);
    if (!m) continue;
    let ok = true;
    const out = es.replace(HOLE, (_, i, how) => {
      const v = m[Number(i)];
      const r = how === "t" ? render(v) : how === "n" ? esNumber(v) : v;
      if (r == null) ok = false;
      return r ?? v;
    });
    return ok ? out : null;
  }
  if (s.includes("; ")) {  // a planner reason lists its problems joined by "; "
    const parts = s.split("; ").map(render);
    return parts.includes(null) ? null : parts.join("; ");
  }
  return null;
}

/** tr("working set: layer 31"): a string from a report, in the page's language. */
export function tr(s) {
  if (LANG === "en" || s == null || s === "") return s;
  const out = render(String(s));
  if (out == null) { missing.add(`report: ${s}`); return s; }
  return out;
}
