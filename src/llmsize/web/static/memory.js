// The memory section: every term of the estimate, a stacked bar against the GPU, and memory vs
// context length and batch (each point is the library's estimate, fetched from the sweep endpoint).
import { lineChart, stackedBar } from "./charts.js";
import { gpuInfo, w } from "./sections2.js";
import { big, bytes, bytesParts, card, explain, h, pct, stat, swatch, table } from "./ui.js";

export function memoryBody(model, ctx) {
  const s = ctx.state, m = ctx.meta, n = (k) => Number(w(s, k, m));
  if (s.mode === "train") {
    const lora = w(s, "lora", m);
    return { model, precision: w(s, "precision", m), optimizer: w(s, "optimizer", m), seq: n("seq"),
      micro_batch: n("micro_batch"), recompute: w(s, "recompute", m) === "1", lora_rank: lora ? Number(lora) : null,
      gpu: w(s, "gpu", m) };
  }
  return { model, weights: w(s, "weights", m), kv_cache: w(s, "kv", m), prompt: n("prompt"), output: n("output"),
    batch: n("batch"), gpu: w(s, "gpu", m) };
}

const total = (rep) => rep.total_bytes ?? rep.peak_bytes;
const capacity = (rep, ctx) => rep.gpu_usable_bytes ?? gpuInfo(ctx).usable_bytes ?? gpuInfo(ctx).memory_bytes;

function verdict(rep, ctx) {
  const cap = capacity(rep, ctx), t = total(rep);
  if (!cap) return null;
  const fits = rep.fits ?? t <= cap;
  return { fits, cap, free: cap - t, text: fits ? `Fits on ${gpuInfo(ctx).name}` : `Does not fit on ${gpuInfo(ctx).name}` };
}

export function memoryStats(rep, ctx) {
  const [v, u] = bytesParts(total(rep));
  const vd = verdict(rep, ctx);
  return [stat(ctx.state.mode === "train" ? "Training memory" : "Inference memory", v, u, rep.peak_phase ? `peak: ${rep.peak_phase}` : null,
    { "data-testid": "sum-memory" }),
  vd ? stat("Verdict", h("span", { class: `verdict ${vd.fits ? "fits" : "nofit"}`, "data-testid": "verdict" }, vd.fits ? "✓ Fits" : "✗ Does not fit"), "",
    vd.fits ? `${bytes(vd.free)} free of ${bytes(vd.cap)} on ${gpuInfo(ctx).name}` : `${bytes(-vd.free)} over ${bytes(vd.cap)} on ${gpuInfo(ctx).name}`) : null];
}

export function renderMemory(rep, ctx) {
  const t = total(rep);
  const [v, u] = bytesParts(t);
  const vd = verdict(rep, ctx);
  const terms = (rep.terms || []).filter((x) => x.bytes > 0);
  const head = card(null, h("div", { class: "headline" },
    h("div", {}, h("div", { class: "card-title" }, ctx.state.mode === "train" ? "Peak training memory" : "Peak inference memory"),
      big(v, u, { "data-testid": "memory-total" }),
      h("p", { class: "sub" }, `${t.toLocaleString("en-US")} bytes${rep.peak_phase ? `, at the ${rep.peak_phase} peak` : ""}`)),
    vd ? h("div", {}, h("div", { class: "card-title" }, gpuInfo(ctx).name),
      h("span", { class: `verdict big-verdict ${vd.fits ? "fits" : "nofit"}`, "data-testid": "memory-verdict" }, vd.fits ? "✓ Fits" : "✗ Does not fit"),
      h("p", { class: "sub" }, vd.fits ? `${bytes(vd.free)} to spare of ${bytes(vd.cap)}` : `needs ${bytes(-vd.free)} more than ${bytes(vd.cap)}`)) : null),
  ...(rep.notes || []).map((n) => h("p", { class: "note" }, n)));
  const bar = card("Where the memory goes", stackedBar({ parts: terms.map((x) => ({ label: x.name, value: x.bytes })),
    capacity: vd ? vd.cap : null, capLabel: gpuInfo(ctx).name, fmt: (b, short) => (short ? bytesParts(b)[0] + " " + bytesParts(b)[1] : bytes(b)),
    width: ctx.width }),
  table([{ label: "term" }, { label: "bytes", num: true }, { label: "", num: true }, { label: "share", num: true }],
    terms.map((x, i) => [h("span", {}, swatch(i), x.name), x.bytes.toLocaleString("en-US"), bytes(x.bytes), pct(x.bytes / t)]),
    { caption: "Memory terms" }));
  const sweep = h("div", { class: "card", "data-testid": "sweep" }, h("h3", {}, "Memory vs context length and batch"),
    h("p", { class: "sub" }, "Loading…"));
  drawSweep(sweep, ctx);
  const out = [head, bar, sweep];
  out.push(explain(terms, rep.citations, (x) => bytes(x.bytes), ctx.explain));
  return out;
}

const CONTEXTS = [1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072, 262144, 524288, 1048576];
const BATCHES = [1, 4, 16, 64];

async function drawSweep(el, ctx) {
  const maxc = ctx.spec ? ctx.spec.max_position_embeddings : 131072;
  const xs = CONTEXTS.filter((c) => c <= Math.max(maxc, 4096));
  const body = { ...memoryBody(ctx.modelRef, ctx), contexts: xs, batches: BATCHES };
  try {
    const rep = await ctx.api(ctx.state.mode === "train" ? "/train/sweep" : "/infer/sweep", body);
    const cap = capacity(rep, ctx);
    el.replaceChildren(h("h3", {}, "Memory vs context length and batch"),
      lineChart({ xs: xs.map((c) => (c >= 1024 ? `${c / 1024}K` : String(c))), xTitle: "context length (tokens)",
        series: rep.batches.map((b, i) => ({ label: `batch ${b}`, ys: rep.bytes[i] })), cap: cap ? { value: cap, label: gpuInfo(ctx).name } : null,
        fmt: (b) => bytes(b), width: ctx.width, label: `Memory from ${xs[0]} to ${xs[xs.length - 1]} tokens for batch ${BATCHES.join(", ")}` }));
  } catch (e) {
    el.replaceChildren(h("h3", {}, "Memory vs context length and batch"), h("p", { class: "error" }, e.message));
  }
}
