// The memory section. Float weights: `llmsize infer/train --json` (every term, and with a GPU the device
// view: CUDA context, allocator reserve, runtime buffers). Quantized weights: `llmsize quant --format F`
// (exact weight bytes, KV cache, the rest). Plus memory vs context length for several batch sizes.
import { lineChart, stackedBar } from "./charts.js";
import { gpuInfo, longContext, raw, w } from "./sections2.js";
import { big, bytes, bytesParts, card, exact, explain, h, pct, stat, swatch, table, tickBytes } from "./ui.js";
import { num, t, tr } from "./i18n.js";
import { offloadCard, offloadWanted } from "./offload.js";

const FLOAT = ["bf16", "fp16", "fp32"];
const INFER_KV = ["bf16", "fp16", "fp32", "fp8"];

/** Which report answers the current inputs: "infer", "quant" or "train". */
export function memoryKind(ctx) {
  const s = ctx.state, m = ctx.meta;
  if (s.mode === "train") return w(s, "method", m) === "qlora" ? "qlora" : "train";
  const wts = raw(s, "weights", m);  // native: the checkpoint's own format, sized by /infer as the CLI does
  return (wts === "native" || FLOAT.includes(wts)) && INFER_KV.includes(w(s, "kv", m)) ? "infer" : "quant";
}

// the form's runtime menu -> the API's engine names (docs/vocabulary.md)
const ENGINE = { torch: "transformers", vllm: "vllm", llamacpp: "llama.cpp" };

const nativeOr = (wts) => (wts === "native" ? null : wts);

export const memoryEndpoint = (ctx) => ({ infer: "/infer", train: "/train", quant: "/quant", qlora: "/quant" })[memoryKind(ctx)];

export function memoryBody(model, ctx) {
  const s = ctx.state, m = ctx.meta, n = (k) => Number(w(s, k, m));
  const kind = memoryKind(ctx);
  if (kind === "qlora") {  // `llmsize quant --qlora --gpu`: a 4-bit (NF4) base, fp32 adapters, paged AdamW
    return { model, qlora: true, lora_r: n("lora"), seq_len: n("seq"), batch: n("micro_batch"), gpu: w(s, "gpu", m), ...longContext(ctx) };
  }
  if (kind === "train") {
    const lora = w(s, "method", m) === "lora";
    // LoRA: the frozen base in the dtype people load it in (bf16 by default), adapters in fp32 (peft)
    const p = lora ? w(s, "base", m) : w(s, "precision", m);
    return { model, batch: n("micro_batch"), seq_len: n("seq"), precision: p,
      optimizer: w(s, "optimizer", m), grad_checkpointing: w(s, "recompute", m) === "1",
      lora_r: lora ? n("lora") : null, gpu: w(s, "gpu", m), ...longContext(ctx) };
  }
  if (kind === "quant") {
    return { model, gpu: w(s, "gpu", m), seq_len: n("prompt") + n("output"), batch: n("batch"), kv_cache_dtype: w(s, "kv", m),
      formats: [w(s, "weights", m)], ...longContext(ctx) };
  }
  return { model, batch: n("batch"), seq_len: n("prompt"), new_tokens: n("output"), weights: nativeOr(raw(s, "weights", m)),
    kv_cache_dtype: w(s, "kv", m), engine: ENGINE[w(s, "runtime", m)], gpu: w(s, "gpu", m), ...longContext(ctx) };
}

/** One shape for the three reports: total, terms, capacity, fits, notes; the report's words in the page's language. */
function view(rep) {
  const v = view0(rep);
  return { ...v, terms: v.terms.map((x) => ({ ...x, name: tr(x.name) })) };
}

function view0(rep) {
  if (rep.peak && rep.lora_params !== undefined) {  // llmsize quant --qlora --gpu: the peak of one step, on the GPU
    const dev = rep.device;
    return { total: dev ? dev.total_bytes : rep.peak.peak_bytes, peak: rep.peak.peak_bytes, phase: rep.peak.phase,
      terms: dev ? dev.terms : rep.peak.terms, cap: dev ? dev.gpu_memory_bytes : null, fits: dev ? dev.fits : null,
      where: dev ? t("QLoRA on the GPU with {runtime}", { runtime: dev.runtime }) : t("QLoRA, PyTorch tensors at the peak"),
      notes: [...(dev ? dev.notes : []), ...(rep.notes || [])].map(tr) };
  }
  if (rep.rows) {  // llmsize quant, one format
    const r = rep.rows[0];
    const terms = [{ name: `weights (${r.format})`, bytes: r.weight_bytes, formula: `${r.bits_per_weight.toFixed(2)} bits/weight`, source: r.label },
      { name: `KV cache (${rep.kv_dtype})`, bytes: r.kv_bytes, formula: "", source: "llama-kv-cache" }];
    if (r.other_bytes) terms.push({ name: "activations and working sets", bytes: r.other_bytes, formula: "", source: "llmsize.memory" });
    return { total: r.total_bytes, peak: r.total_bytes, terms, cap: rep.gpu_bytes, fits: r.fits, where: t("weights + KV cache + activations"),
      notes: [...(r.notes || []), ...(rep.notes || []).filter((x) => !x.startsWith("decode tokens/s"))].map(tr) };
  }
  const dev = rep.device;
  const terms = dev ? dev.terms : rep.terms;
  return { total: dev ? dev.total_bytes : rep.peak_bytes, peak: rep.peak_bytes, phase: rep.peak_phase, terms,
    cap: dev ? dev.gpu_memory_bytes : null, fits: dev ? dev.fits : null, runtime: dev && dev.runtime,
    where: dev ? t("on the GPU with {runtime}", { runtime: dev.runtime }) : t("PyTorch tensors at the peak"), notes: dev ? dev.notes.map(tr) : [],
    // the rules of thumb are for full training (16-20 bytes/param) and plain serving: none applies to LoRA
    rules: rep.workload?.lora ? null : rep.rules_of_thumb, phases: rep.phases, dev };
}

export function memoryStats(rep, ctx) {
  const v = view(rep);
  const [n, u] = bytesParts(v.total);
  const g = gpuInfo(ctx).name;
  const out = [stat(ctx.state.mode === "train" ? t("Training memory") : t("Inference memory"), n, u, v.where, { "data-testid": "sum-memory" })];
  out.push(stat(t("Does it fit?"), verdict(v, "verdict"), "", v.fits == null ? t("no GPU in this estimate")
    : v.fits ? t("{free} free of {cap} on {gpu}", { free: bytes(v.cap - v.total), cap: bytes(v.cap), gpu: g })
      : t("{over} over {cap} on {gpu}", { over: bytes(v.total - v.cap), cap: bytes(v.cap), gpu: g }), { class: "stat verdict-stat" }));
  return out;
}

/** The one fit answer every tab shows: the Memory estimate (`llmsize infer/train --gpu`, or `quant --format`). */
export function verdict(v, testid, big = false) {
  if (v.fits == null) return h("span", { class: "verdict none", "data-testid": testid }, "—");
  return h("span", { class: `verdict ${big ? "big-verdict " : ""}${v.fits ? "fits" : "nofit"}`, "data-testid": testid },
    v.fits ? t("✓ Fits") : t("✗ Does not fit"));
}
export const fitView = view;

export function renderMemory(rep, ctx) {
  const v = view(rep);
  const [n, u] = bytesParts(v.total);
  const g = gpuInfo(ctx).name;
  const terms = v.terms.filter((x) => x.bytes > 0);
  const head = card(null, h("div", { class: "headline" },
    h("div", {}, h("div", { class: "card-title" }, ctx.state.mode === "train" ? t("Training memory, {where}", { where: v.where }) : t("Inference memory, {where}", { where: v.where })),
      big(n, u, { "data-testid": "memory-total" }),
      h("p", { class: "sub" }, t("{n} bytes", { n: exact(v.total) }) + (v.phase && v.peak !== v.total ? t("; PyTorch peak {peak} during {phase}", { peak: bytes(v.peak), phase: tr(v.phase) }) : ""))),
    v.fits != null ? h("div", {}, h("div", { class: "card-title" }, g), verdict(v, "memory-verdict", true),
      h("p", { class: "sub" }, v.fits ? t("{free} to spare of {cap} usable", { free: bytes(v.cap - v.total), cap: bytes(v.cap) })
        : t("needs {over} more than {cap} usable", { over: bytes(v.total - v.cap), cap: bytes(v.cap) }))) : null),
  ...v.notes.map((x) => h("p", { class: "note" }, x)));
  const fmt = (b, tick) => (tick ? tickBytes(b) : bytes(b));
  const bar = card(t("Where the memory goes"), stackedBar({ parts: terms.map((x) => ({ label: x.name, value: x.bytes })),
    capacity: v.cap, capLabel: g, fmt, width: ctx.width, unit: Math.max(v.total, v.cap || 0) >= 2 ** 31 ? 2 ** 30 : 2 ** 20 }),
  table([{ label: t("term") }, { label: t("bytes"), num: true }, { label: "", num: true }, { label: t("share"), num: true }],
    terms.map((x, i) => [h("span", {}, swatch(i), x.name), exact(x.bytes), bytes(x.bytes), pct(x.bytes / v.total)]),
    { caption: t("Memory terms") }));
  const sweep = h("div", { class: "card", "data-testid": "sweep" }, h("h3", {}, t("Memory vs context length and batch")),
    h("p", { class: "sub" }, t("Loading…")));
  if (memoryKind(ctx) === "qlora") sweep.lastChild.textContent = t("No sweep for QLoRA: llmsize sweeps full and LoRA training and inference.");
  else drawSweep(sweep, ctx, v);
  const side = [];
  if (v.phases && Object.keys(v.phases).length > 1) {
    side.push(card(t("Peak of each phase"), table([{ label: t("phase") }, { label: t("bytes"), num: true }],
      Object.entries(v.phases).map(([k, b]) => [k === v.phase ? h("strong", {}, t("{phase} ◀ peak", { phase: tr(k) })) : tr(k), bytes(b)]))));
  }
  if (v.rules) {
    side.push(card(t("Rules of thumb beside this estimate"), table([{ label: t("rule"), wrap: true }, { label: t("bytes"), num: true }, { label: t("error"), num: true }],
      v.rules.map((r) => [tr(r.rule), bytes(r.bytes), `${r.error >= 0 ? "+" : ""}${num(100 * r.error, 1)}%`]))));
  }
  return [head, offloadWanted(ctx) ? offloadCard(ctx) : null, bar, sweep, side.length ? h("div", { class: "cols" }, side) : null,
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
    kv_cache_dtype: w(s, "kv", m), gpu: w(s, "gpu", m) }];
}

/** The user's own point: tokens per sequence and batch of the current inputs, and the estimate's peak. */
function userPoint(ctx, v) {
  const s = ctx.state, m = ctx.meta;
  const train = s.mode === "train";
  const tokens = train ? Number(w(s, "seq", m)) : Number(w(s, "prompt", m)) + Number(w(s, "output", m));
  const batch = Number(w(s, train ? "micro_batch" : "batch", m));
  return { x: Math.log2(tokens / CONTEXTS[0]), y: v.peak ?? v.total,
    label: t("your setup: {tokens} tokens × batch {batch}, {bytes}", { tokens: exact(tokens), batch: exact(batch), bytes: bytes(v.peak ?? v.total) }) };
}

async function drawSweep(el, ctx, v) {
  const maxc = ctx.spec ? ctx.spec.max_position_embeddings : 131072;
  const xs = CONTEXTS.filter((c) => c <= Math.max(maxc, 4096));
  const [path, body] = sweepRequest(ctx, xs);
  const title = h("h3", {}, ctx.state.mode === "train" ? t("Memory vs sequence length and micro-batch") : t("Memory vs context length and batch"));
  try {
    const rep = await ctx.api(path, body);
    const capacity = v.cap || rep.gpu_usable_bytes;
    el.replaceChildren(title, h("p", { class: "sub" }, t("PyTorch peak at each point (no runtime overhead); dashed: the GPU's usable memory; ringed: your setup.")),
      lineChart({ xs: xs.map((c) => (c >= 1024 ? `${c / 1024}K` : String(c))), xTitle: t("tokens per sequence (memory on a log scale)"),
        series: rep.batches.map((b) => ({ label: t("batch {n}", { n: b }), ys: rep.bytes[rep.batches.indexOf(b)] })),
        cap: capacity ? { value: capacity, label: gpuInfo(ctx).name } : null, width: ctx.width, yLog: true,
        fmt: (b, tick) => (tick ? tickBytes(b) : bytes(b)), point: userPoint(ctx, v),
        label: t("Peak memory from {lo} to {hi} tokens for batch {batches}", { lo: exact(xs[0]), hi: exact(xs[xs.length - 1]), batches: BATCHES.join(", ") }) }));
  } catch (e) {
    el.replaceChildren(title, h("p", { class: "error" }, e.message));
  }
}
