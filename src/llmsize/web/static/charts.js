// Hand-drawn SVG charts: a stacked bar against a capacity line, a line chart, horizontal bars.
// Each is an <svg role="img"> with an aria-label that says what it shows, plus a legend list.
import { colour, h, s } from "./ui.js";

// Line series differ in dash and marker shape as well as colour (readable in grey, and by anyone).
const DASHES = ["", "7 4", "2 3", "10 3 2 3", "4 2", "1 2"];
const MARKS = ["circle", "square", "triangle", "diamond", "circle", "square"];

function marker(kind, x, y, cls, title) {
  const r = 4;
  const shape = kind === "square" ? s("rect", { x: x - r, y: y - r, width: 2 * r, height: 2 * r, class: cls })
    : kind === "triangle" ? s("path", { d: `M${x},${y - r - 1}L${x + r + 1},${y + r}L${x - r - 1},${y + r}Z`, class: cls })
      : kind === "diamond" ? s("path", { d: `M${x},${y - r - 1}L${x + r + 1},${y}L${x},${y + r + 1}L${x - r - 1},${y}Z`, class: cls })
        : s("circle", { cx: x, cy: y, r: r, class: cls });
  shape.append(s("title", {}, title));
  return shape;
}

function lineLegend(series) {
  return h("ul", { class: "legend" }, series.map((sr, k) => h("li", {},
    s("svg", { class: "key", viewBox: "0 0 30 12", width: 30, height: 12, "aria-hidden": "true" },
      s("path", { d: "M1,6H29", class: `line ${colour(k)}`, "stroke-dasharray": DASHES[k % DASHES.length] || null }),
      marker(MARKS[k % MARKS.length], 15, 6, colour(k), "")), sr.label)));
}

function niceTicks(max, n = 4) {
  if (!(max > 0)) return [0, 1];
  const raw = max / n, mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((st) => st >= raw) || raw;
  const out = [];
  for (let v = 0; v <= max + step * 0.001; v += step) out.push(v);
  if (out[out.length - 1] < max) out.push(out[out.length - 1] + step);
  return out;
}

/** Draw in the container's own pixels so text stays 11px on a phone and on a wide screen. */
export function chartWidth(width) {
  return Math.round(Math.max(300, Math.min(width || 640, 960)));
}

function legend(items) {
  return h("ul", { class: "legend" }, items.map(([cls, label]) =>
    h("li", {}, h("span", { class: `swatch ${cls}`, "aria-hidden": "true" }), label)));
}

/**
 * Stacked horizontal bar of parts against a capacity.
 * parts: [{label, value, text}], capacity: number | null, fmt: value -> string
 */
export function stackedBar({ parts, capacity, capLabel, fmt, label, width, unit = 1 }) {
  const W = chartWidth(width), H = 92, x0 = 4, x1 = W - 4, barY = 26, barH = 34;
  const total = parts.reduce((a, p) => a + p.value, 0);
  const max = Math.max(total, capacity || 0) * 1.04 || 1;
  const sx = (v) => x0 + (x1 - x0) * (v / max);
  const svg = s("svg", { class: "chart stacked", viewBox: `0 0 ${W} ${H}`, role: "img", "data-chart": "stacked",
    "aria-label": label || `${parts.map((p) => `${p.label} ${fmt(p.value)}`).join(", ")}; total ${fmt(total)}` +
      (capacity ? ` of ${fmt(capacity)} ${capLabel || "capacity"}` : "") });
  svg.append(s("rect", { x: x0, y: barY, width: x1 - x0, height: barH, rx: 8, class: "track", fill: "var(--card-2)",
    stroke: "var(--border)" }));
  let acc = 0;
  parts.forEach((p, i) => {
    if (p.value <= 0) return;
    const w = Math.max(sx(acc + p.value) - sx(acc), 0.5);
    svg.append(s("rect", { x: sx(acc), y: barY, width: w, height: barH, class: `seg-fill ${colour(i)}` },
      s("title", {}, `${p.label}: ${fmt(p.value)}`)));
    acc += p.value;
  });
  for (const t of niceTicks(max / 1.04 / unit, 5).map((x) => x * unit)) {
    if (t > max) continue;
    svg.append(s("text", { x: sx(t), y: barY + barH + 18, "text-anchor": "middle" }, fmt(t, true)));
  }
  if (capacity) {
    const cx = sx(capacity);
    svg.append(s("line", { x1: cx, x2: cx, y1: barY - 8, y2: barY + barH + 6, class: "cap" }));
    svg.append(s("text", { x: Math.min(Math.max(cx, 60), W - 60), y: barY - 12, "text-anchor": "middle",
      class: "cap-label" }, `${capLabel || "capacity"} ${fmt(capacity)}`));
  }
  return h("figure", { class: "fig" }, svg,
    legend(parts.map((p, i) => [colour(i), `${p.label} · ${p.text || fmt(p.value)}`])));
}

/**
 * Line chart over categorical x (e.g. context lengths 1K..128K).
 * xs: [labels], series: [{label, ys: [number|null]}], cap: {value, label} | null, fmt: y -> string
 */
export function lineChart({ xs, series, cap, fmt, xTitle, label, width, yLog = false, point = null }) {
  const W = chartWidth(width), H = Math.round(Math.min(300, Math.max(220, W * 0.42))), L = 70, R = 16, T = 18, B = 42;
  const ally = [...series.flatMap((sr) => sr.ys.filter((y) => y != null && y > 0)), ...(point && point.y > 0 ? [point.y] : [])];
  const top = Math.max(...ally, cap ? cap.value : 0, 1) * (yLog ? 1.3 : 1.08);
  let ticks, py;
  if (yLog) {  // powers of two of the smallest value's power-of-two floor, at most 7 ticks
    const lo = 2 ** Math.floor(Math.log2(Math.min(...ally, cap ? cap.value : Infinity)));
    const span = Math.log2(top / lo), step = Math.max(1, Math.ceil(span / 6));
    ticks = [];
    for (let k = 0; lo * 2 ** k <= top * 2 ** step; k += step) ticks.push(lo * 2 ** k);
    const hi = ticks[ticks.length - 1];
    py = (v) => T + (H - T - B) * (1 - Math.log2(Math.max(v, lo) / lo) / Math.log2(hi / lo));
  } else {
    ticks = niceTicks(top, 4);
    const ymax = ticks[ticks.length - 1];
    py = (v) => T + (H - T - B) * (1 - v / ymax);
  }
  const px = (i) => L + (W - L - R) * (xs.length === 1 ? 0.5 : i / (xs.length - 1));
  const svg = s("svg", { class: "chart line-chart", viewBox: `0 0 ${W} ${H}`, role: "img", "data-chart": "line",
    "aria-label": (label || "") + (point ? `; ${point.label}` : "") });
  for (const t of ticks) {
    svg.append(s("line", { x1: L, x2: W - R, y1: py(t), y2: py(t), class: "gridline" }));
    svg.append(s("text", { x: L - 8, y: py(t) + 4, "text-anchor": "end" }, fmt(t, true)));
  }
  const every = Math.ceil(xs.length / Math.max(2, Math.floor((W - L - R) / 46)));
  xs.forEach((x, i) => { if (i % every === 0) svg.append(s("text", { x: px(i), y: H - B + 18, "text-anchor": "middle" }, x)); });
  if (xTitle) svg.append(s("text", { x: (L + W - R) / 2, y: H - 6, "text-anchor": "middle" }, xTitle));
  if (cap) {
    svg.append(s("line", { x1: L, x2: W - R, y1: py(cap.value), y2: py(cap.value), class: "cap" }));
    svg.append(s("text", { x: W - R, y: py(cap.value) - 6, "text-anchor": "end", class: "cap-label" }, cap.label));
  }
  series.forEach((sr, k) => {
    const pts = sr.ys.map((y, i) => (y == null ? null : [px(i), py(y)]));
    let d = "";
    pts.forEach((p, i) => { if (p) d += `${d && pts[i - 1] ? "L" : "M"}${p[0].toFixed(1)},${p[1].toFixed(1)}`; });
    svg.append(s("path", { d, class: `line ${colour(k)}`, fill: "none", "stroke-dasharray": DASHES[k % DASHES.length] || null }));
    pts.forEach((p, i) => p && svg.append(marker(MARKS[k % MARKS.length], p[0], p[1], colour(k), `${sr.label}, ${xs[i]}: ${fmt(sr.ys[i])}`)));
  });
  let note = null;
  if (point && point.x >= 0 && point.x <= xs.length - 1 && point.y > 0) {  // the user's own setup, ringed
    const cx = L + (W - L - R) * (point.x / Math.max(1, xs.length - 1)), cy = py(point.y);
    svg.append(s("g", { class: "you", "data-testid": "your-point" }, s("circle", { cx, cy, r: 9, class: "you-ring" }),
      s("circle", { cx, cy, r: 3, class: "you-dot" }), s("title", {}, point.label)));
    note = h("p", { class: "sub you-note" }, h("span", { class: "you-key", "aria-hidden": "true" }, "◎ "), point.label);
  } else if (point) note = h("p", { class: "sub you-note" }, point.label);
  return h("figure", { class: "fig" }, svg, lineLegend(series), note);
}

/**
 * Horizontal bars, one per row. bars: [{label, value, text, tone: "good"|"bad"|undefined, chosen}]
 */
const clip = (t, n) => (t.length > n ? t.slice(0, n - 1) + "…" : t);

export function barChart({ bars, fmt, label, cap, width }) {
  const W = chartWidth(width), row = 30, L = Math.min(170, Math.round(W * 0.3)), R = 96, T = 6;
  const H = T * 2 + row * bars.length;
  const max = Math.max(...bars.map((b) => b.value), cap ? cap.value : 0, 1e-9);
  const sx = (v) => (W - L - R) * (v / max);
  const svg = s("svg", { class: "chart bars", viewBox: `0 0 ${W} ${H}`, role: "img", "data-chart": "bars",
    "aria-label": label || bars.map((b) => `${b.label} ${b.text || fmt(b.value)}`).join("; ") });
  bars.forEach((b, i) => {
    const y = T + i * row;
    svg.append(s("text", { x: L - 10, y: y + row / 2 + 4, "text-anchor": "end",
      class: b.chosen ? "cap-label" : null }, clip(b.label, Math.floor(L / 6.5))));
    svg.append(s("rect", { x: L, y: y + 6, width: Math.max(sx(b.value), 1), height: row - 12, rx: 4,
      class: b.tone === "bad" ? "bad" : b.tone === "good" ? "good" : colour(b.colour ?? 0) },
    s("title", {}, `${b.label}: ${b.text || fmt(b.value)}`)));
    svg.append(s("text", { x: L + sx(b.value) + 6, y: y + row / 2 + 4, class: "val" }, b.text || fmt(b.value)));
  });
  if (cap) {
    const cx = L + sx(cap.value);
    svg.append(s("line", { x1: cx, x2: cx, y1: 0, y2: H, class: "cap" }));
    if (cap.label) svg.append(s("text", { x: cx - 4, y: H - 4, "text-anchor": "end", class: "cap-label" }, cap.label));
  }
  return h("figure", { class: "fig" }, svg);
}
