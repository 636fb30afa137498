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
  if (LANG !== "en") CAT = await (await fetch(`/static/${LANG}.json`)).json();
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
