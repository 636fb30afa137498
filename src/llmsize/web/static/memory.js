// The memory section. Float weights: `llmsize infer/train --json` (every term, and with a GPU the device
// view: CUDA context, allocator reserve, runtime buffers). Quantized weights: `llmsize quant --format F`
// (exact weight bytes, KV cache, the rest). Plus memory vs context length for several batch sizes.
import { lineChart, stackedBar } from "./charts.js";
import { gpuInfo, w } from "./sections2.js";
import { big, bytes, bytesParts, card, exact, explain, h, pct, stat, swatch, table } from "./ui.js";

const FLOAT = ["bf16", "fp16", "fp32"];
const INFER_KV = ["bf16", "fp16", "fp32", "fp8"];

/** Which report answers the current inputs: "infer", "quant" or "train". */
export function memoryKind(ctx) {
  const s = ctx.state, m = ctx.meta;
  if (s.mode === "train") return "train";
  return FLOAT.includes(w(s, "weights", m)) && INFER_KV.includes(w(s, "kv", m)) ? "infer" : "quant";
}

export const memoryEndpoint = (ctx) => ({ infer: "/infer", train: "/train", quant: "/quant" })[memoryKind(ctx)];

export function memoryBody(model, ctx) {
  const s = ctx.state, m = ctx.meta, n = (k) => Number(w(s, k, m));
  const kind = memoryKind(ctx);
  if (kind === "train") {
    const p = w(s, "precision", m), lora = w(s, "lora", m);
    return { model, batch: n("micro_batch"), seq_len: n("seq"), ...(p === "bf16-mixed" ? { amp: "bf16" } : { dtype: p }),
      optimizer: w(s, "optimizer", m), grad_checkpointing: w(s, "recompute", m) === "1",
      lora_r: lora ? Number(lora) : null, gpu: w(s, "gpu", m) };
  }
  if (kind === "quant") {
    return { model, gpu: w(s, "gpu", m), context: n("prompt") + n("output"), batch: n("batch"), kv_cache: w(s, "kv", m),
      formats: [w(s, "weights", m)] };
  }
  return { model, batch: n("batch"), context: n("prompt"), new_tokens: n("output"), dtype: w(s, "weights", m),
    kv_dtype: w(s, "kv", m), runtime: w(s, "runtime", m), gpu: w(s, "gpu", m) };
}

/** One shape for the three reports: total, terms, capacity, fits, notes. */
function view(rep) {
  if (rep.rows) {  // llmsize quant, one format
    const r = rep.rows[0];
    const terms = [{ name: `weights (${r.format})`, bytes: r.weight_bytes, formula: `${r.bits_per_weight.toFixed(2)} bits/weight`, source: r.label },
      { name: `KV cache (${rep.kv_dtype})`, bytes: r.kv_bytes, formula: "", source: "llama-kv-cache" }];
    if (r.other_bytes) terms.push({ name: "activations and working sets", bytes: r.other_bytes, formula: "", source: "llmsize.memory" });
    return { total: r.total_bytes, terms, cap: rep.gpu_bytes, fits: r.fits, where: "weights + KV cache + activations",
      notes: [...(r.notes || []), ...(rep.notes || []).filter((x) => !x.startsWith("decode tokens/s"))] };
  }
  const dev = rep.device;
  const terms = dev ? dev.terms : rep.terms;
  return { total: dev ? dev.total_bytes : rep.peak_bytes, peak: rep.peak_bytes, phase: rep.peak_phase, terms,
    cap: dev ? dev.gpu_memory_bytes : null, fits: dev ? dev.fits : null, runtime: dev && dev.runtime,
    where: dev ? `on the GPU with ${dev.runtime}` : "PyTorch tensors at the peak", notes: dev ? dev.notes : [],
    rules: rep.rules_of_thumb, phases: rep.phases, dev };
}

export function memoryStats(rep, ctx) {
  const v = view(rep);
  const [n, u] = bytesParts(v.total);
  const g = gpuInfo(ctx).name;
  const out = [stat(ctx.state.mode === "train" ? "Training memory" : "Inference memory", n, u, v.where, { "data-testid": "sum-memory" })];
  if (v.fits != null) {
    out.push(stat("Verdict", h("span", { class: `verdict ${v.fits ? "fits" : "nofit"}`, "data-testid": "verdict" },
      v.fits ? "✓ Fits" : "✗ Does not fit"), "", v.fits ? `${bytes(v.cap - v.total)} free of ${bytes(v.cap)} on ${g}`
      : `${bytes(v.total - v.cap)} over ${bytes(v.cap)} on ${g}`));
  }
  return out;
}

export function renderMemory(rep, ctx) {
  const v = view(rep);
  const [n, u] = bytesParts(v.total);
  const g = gpuInfo(ctx).name;
  const terms = v.terms.filter((x) => x.bytes > 0);
  const head = card(null, h("div", { class: "headline" },
    h("div", {}, h("div", { class: "card-title" }, `${ctx.state.mode === "train" ? "Training" : "Inference"} memory, ${v.where}`),
      big(n, u, { "data-testid": "memory-total" }),
      h("p", { class: "sub" }, `${exact(v.total)} bytes` + (v.phase ? `; PyTorch peak ${bytes(v.peak)} during ${v.phase}` : ""))),
    v.fits != null ? h("div", {}, h("div", { class: "card-title" }, g),
      h("span", { class: `verdict big-verdict ${v.fits ? "fits" : "nofit"}`, "data-testid": "memory-verdict" }, v.fits ? "✓ Fits" : "✗ Does not fit"),
      h("p", { class: "sub" }, v.fits ? `${bytes(v.cap - v.total)} to spare of ${bytes(v.cap)} usable` : `needs ${bytes(v.total - v.cap)} more than ${bytes(v.cap)} usable`)) : null),
  ...v.notes.map((x) => h("p", { class: "note" }, x)));
  const fmt = (b, tick) => (tick ? bytes(b).replace(".00 ", " ") : bytes(b));
  const bar = card("Where the memory goes", stackedBar({ parts: terms.map((x) => ({ label: x.name, value: x.bytes })),
    capacity: v.cap, capLabel: g, fmt, width: ctx.width, unit: Math.max(v.total, v.cap || 0) >= 2 ** 31 ? 2 ** 30 : 2 ** 20 }),
  table([{ label: "term" }, { label: "bytes", num: true }, { label: "", num: true }, { label: "share", num: true }],
    terms.map((x, i) => [h("span", {}, swatch(i), x.name), exact(x.bytes), bytes(x.bytes), pct(x.bytes / v.total)]),
    { caption: "Memory terms" }));
  const sweep = h("div", { class: "card", "data-testid": "sweep" }, h("h3", {}, "Memory vs context length and batch"),
    h("p", { class: "sub" }, "Loading…"));
  drawSweep(sweep, ctx, v.cap);
  const side = [];
  if (v.phases && Object.keys(v.phases).length > 1) {
    side.push(card("Peak of each phase", table([{ label: "phase" }, { label: "bytes", num: true }],
      Object.entries(v.phases).map(([k, b]) => [k === v.phase ? h("strong", {}, `${k} ◀ peak`) : k, bytes(b)]))));
  }
  if (v.rules) {
    side.push(card("Rules of thumb beside this estimate", table([{ label: "rule", wrap: true }, { label: "bytes", num: true }, { label: "error", num: true }],
      v.rules.map((r) => [r.rule, bytes(r.bytes), `${r.error >= 0 ? "+" : ""}${(100 * r.error).toFixed(1)}%`]))));
  }
  return [head, bar, sweep, side.length ? h("div", { class: "cols" }, side) : null,
    explain(terms, rep.citations || {}, (x) => bytes(x.bytes), ctx.explain)];
}

const CONTEXTS = [1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072, 262144, 524288, 1048576];
const BATCHES = [1, 4, 16, 64];

function sweepRequest(ctx, xs) {
  const body = memoryBody(ctx.modelRef, ctx);
  const kind = memoryKind(ctx);
  if (kind === "train") return ["/train/sweep", { ...body, contexts: xs, batches: BATCHES }];
  if (kind === "infer") return ["/infer/sweep", { ...body, contexts: xs, batches: BATCHES, new_tokens: 0 }];
  const s = ctx.state, m = ctx.meta;
  return ["/infer/sweep", { model: ctx.modelRef, contexts: xs, batches: BATCHES, new_tokens: 0, weights: w(s, "weights", m),
    kv_cache: w(s, "kv", m), gpu: w(s, "gpu", m) }];
}

async function drawSweep(el, ctx, cap) {
  const maxc = ctx.spec ? ctx.spec.max_position_embeddings : 131072;
  const xs = CONTEXTS.filter((c) => c <= Math.max(maxc, 4096));
  const [path, body] = sweepRequest(ctx, xs);
  const title = h("h3", {}, ctx.state.mode === "train" ? "Memory vs sequence length and micro-batch" : "Memory vs context length and batch");
  try {
    const rep = await ctx.api(path, body);
    const capacity = cap || rep.gpu_usable_bytes;
    el.replaceChildren(title, h("p", { class: "sub" }, "PyTorch peak at each point (no runtime overhead); dashed: the GPU's usable memory."),
      lineChart({ xs: xs.map((c) => (c >= 1024 ? `${c / 1024}K` : String(c))), xTitle: "tokens per sequence (memory on a log scale)",
        series: rep.batches.map((b, i) => ({ label: `batch ${b}`, ys: rep.bytes[i] })),
        cap: capacity ? { value: capacity, label: gpuInfo(ctx).name } : null, width: ctx.width, yLog: true,
        fmt: (b, tick) => (tick ? bytes(b).replace(".00 ", " ") : bytes(b)),
        label: `Peak memory from ${xs[0]} to ${xs[xs.length - 1]} tokens for batch ${BATCHES.join(", ")}` }));
  } catch (e) {
    el.replaceChildren(title, h("p", { class: "error" }, e.message));
  }
}
