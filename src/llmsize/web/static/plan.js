// GPU planning (`llmsize plan --json`) and cost (`llmsize cost --json`) sections.
import { barChart } from "./charts.js";
import { longContext, raw, w } from "./sections2.js";
import { decimal, quantity } from "./fields.js";
import { big, bytes, card, duration, exact, h, money, rate, table } from "./ui.js";
import { num, t, tr } from "./i18n.js";
import { fitView, verdict } from "./memory.js";

/** The planner's name for a weight format: its short serving name where it has one (gptq-int4 for
 * gptq-int4-g128), else the `quant` format itself (GGUF types included); null: the checkpoint's own. */
function serveWeights(ctx, key) {
  if (raw(ctx.state, "weights", ctx.meta) === "native") return null;  // absent: the checkpoint's own format
  const names = ctx.meta.options.serve_weights || [];
  return names.find((n) => n === key || `${n}-g128` === key) || key;
}

// The serving engines the planner times (`--engine`), as the API names them
export const SERVE_ENGINES = [["vllm", "vLLM"], ["sglang", "SGLang"], ["trt-llm", "TensorRT-LLM"], ["llama.cpp", "llama.cpp"],
  ["transformers", "transformers"]];
/** The serving engine that times GPU planning and Cost: the one chosen there, else the runtime's (llama.cpp
 * for llama.cpp, vLLM for the others, the command line's default). */
export function serveEngine(ctx) {
  const e = ctx.state.w.serve_engine;
  if (SERVE_ENGINES.some(([k]) => k === e)) return e;
  return w(ctx.state, "runtime", ctx.meta) === "llamacpp" ? "llama.cpp" : "vllm";
}
// the KV menu's types as each engine's --kv-cache-dtype names them (vLLM's for SGLang, TensorRT-LLM, transformers)
const KV = { bf16: "auto", fp16: "auto", fp8: "fp8", fp8_e4m3: "fp8_e4m3", fp8_e5m2: "fp8_e5m2" };
const LLAMA_KV = { fp16: "f16", bf16: "bf16", fp32: "f32", q8_0: "q8_0", q4_0: "q4_0", q4_1: "q4_1", q5_0: "q5_0",
  q5_1: "q5_1", iq4_nl: "iq4_nl" };
const kvOf = (engine, kv) => (engine === "llama.cpp" ? LLAMA_KV : KV)[kv] || null;

/** Why the planner cannot take the current inputs, or null. */
export function unplannable(ctx) {
  if (ctx.state.mode === "train") {
    return w(ctx.state, "method", ctx.meta) === "full" ? null
      : t("GPU planning and Cost plan full training runs; a LoRA or QLoRA fine-tune runs on the GPUs the Memory tab checks.");
  }
  const kv = w(ctx.state, "kv", ctx.meta), engine = serveEngine(ctx);
  const offline = w(ctx.state, "offline", ctx.meta) === "1";
  if (offline && (engine === "llama.cpp" || engine === "transformers")) {
    return t("An offline run (every request queued) is a paged-KV engine's (vLLM, SGLang, TensorRT-LLM); {engine} serves a fixed number of sequences: choose another engine or untick Offline run.",
      { engine: SERVE_ENGINES.find(([k]) => k === engine)[1] });
  }
  if (offline && w(ctx.state, "ttft", ctx.meta) && !w(ctx.state, "rate", ctx.meta)) {
    return t("A first-token limit needs requests that arrive over time: offline, every request is queued at once and its wait grows through the run. Give a request rate, or untick Offline run.");
  }
  if (!kvOf(engine, kv)) {
    return engine === "llama.cpp" ? t("llama.cpp has no {kv} KV cache; its cache types are f16, bf16, f32, q8_0, q4_0, q4_1, q5_0, q5_1 and iq4_nl.", { kv })
      : t("{engine} keeps its KV cache in the model's dtype or fp8; {kv} is a llama.cpp cache type: choose llama.cpp as the serving engine.",
        { kv, engine: SERVE_ENGINES.find(([k]) => k === engine)[1] });
  }
  return null;
}

const engineLabel = (ctx) => SERVE_ENGINES.find(([k]) => k === serveEngine(ctx))[1];

/** The engine choice of GPU planning and Cost (serving): whose measured efficiencies time the setups. */
export function engineChoice(ctx) {
  const engine = serveEngine(ctx);
  return h("div", { class: "seg seg-inline", role: "radiogroup", "aria-label": t("Serving engine") },
    SERVE_ENGINES.map(([e, label]) => h("label", {}, h("input", { type: "radio", name: "serve-engine", value: e, checked: e === engine,
      onchange: () => { ctx.state.w.serve_engine = e; ctx.update(); } }), h("span", {}, label))));
}

/** The planner job the workload inputs describe (the same fields as `--serve`/`--train`). */
export function job(ctx) {
  const s = ctx.state, m = ctx.meta, n = (k) => Number(w(s, k, m));
  if (s.mode === "train") {
    const tokens = quantity(w(s, "tokens", m));  // with the suffixes the field accepts (K, M, B, T)
    return { mode: "train", seq_len: n("seq"), batch: n("micro_batch"), global_batch: n("global_batch"),
      precision: w(s, "precision", m), grad_checkpointing: w(s, "recompute", m) === "1",
      tokens: Number.isFinite(tokens) && tokens > 0 ? tokens : null,
      ...(w(s, "max_days", m) ? { max_days: n("max_days") } : {}), ...longContext(ctx) };
  }
  const engine = serveEngine(ctx);
  // a request rate with Concurrent sequences left alone: the server's default, the engine's own cap (as the CLI)
  const batch = w(s, "offline", m) === "1" ? { batch: "max" } : w(s, "rate", m) && s.w.batch === undefined ? {} : { batch: n("batch") };
  return { mode: "serve", seq_len: n("prompt"), new_tokens: n("output"), ...batch, engine,
    weights: serveWeights(ctx, w(s, "weights", m)), kv_cache_dtype: kvOf(engine, w(s, "kv", m)),
    ...(w(s, "ttft", m) ? { ttft: n("ttft") / 1000 } : {}), ...(w(s, "tpot", m) ? { tpot: n("tpot") } : {}),
    ...(w(s, "rate", m) ? { request_rate: decimal(w(s, "rate", m)) } : {}), ...longContext(ctx) };
}

/** A setup's layout as people say it, as the CLI prints it (`parallel.spoken_label`): no "DP1", "1 GPU" for a
 * single GPU, and the replicas a target or a GPU count runs ("TP4 ×2 replicas"). */
export function spoken(r) {
  return layoutParts(r) || t("1 GPU");
}

/** `spoken` without the "1 GPU" of a single GPU: beside "1× GPU", where it would say it twice. */
function layoutParts(r) {
  const parts = String(r.layout || "").split(" ").filter((p) => p && p !== "DP1").join(" ");
  const reps = r.replicas > 1 ? t("×{n} replicas", { n: num(r.replicas) }) : "";
  return [parts, reps].filter(Boolean).join(" ");
}

const gpuCount = (ctx) => Math.max(1, Number(w(ctx.state, "n", ctx.meta)) || 1);
// every setup up to Most GPUs; the table then keeps the best of each GPU type, so its rows differ
export const planBody = (model, ctx) => (unplannable(ctx) ? null : { model, job: job(ctx), top: 60, max_gpus: gpuCount(ctx) });
export const costBody = (model, ctx) => (unplannable(ctx) ? null
  : { model, job: job(ctx), counts: [...new Set([1, 8, gpuCount(ctx)])].filter((c) => c <= gpuCount(ctx)).sort((a, b) => a - b) });
// the reason, and the engine choice where the engine is what to change
const why = (ctx) => [h("div", { class: "card placeholder" }, unplannable(ctx), ctx.state.mode === "train" ? null : engineChoice(ctx))];

/** A setup as a card: GPUs, layout, then time beside cost (a run's length and price, or TTFT and $ per 1M out). */
function setupCard(title, r, serve, testid) {
  return card(title, r ? [big(`${r.gpus} × ${r.gpu}`, "", { "data-testid": testid }), h("p", { class: "sub" }, `${spoken(r)} · ${r.precision}`),
    h("dl", { class: "pair", "data-testid": `${testid}-time` },
      h("div", {}, h("dt", {}, serve ? t("first token") : t("time")), h("dd", {}, duration(serve ? r.ttft_s ?? r.seconds : r.seconds))),
      h("div", {}, h("dt", {}, serve ? t("per 1M out") : t("cost")), h("dd", {}, money(r.usd)))),
    h("p", { class: "sub" }, t("{mem} per GPU, {free} free", { mem: bytes(r.memory_per_gpu_bytes), free: bytes(r.headroom_bytes) }) +
      (r.tokens_per_s ? ` · ${rate(r.tokens_per_s)}` : ""))]
    : h("p", { class: "sub", "data-testid": testid }, t("No feasible setup of this kind within the limits (Most GPUs, time limit).")));
}

/** The best setup of each GPU type, in the planner's order. */
function varied(rows, n = 15) {
  const seen = new Set();
  return rows.filter((r) => !seen.has(r.gpu) && seen.add(r.gpu)).slice(0, n);
}

/** A card filled by its own planner question (e.g. the best single-GPU setup). */
function askCard(title, ctx, extra, serve, testid) {
  const el = card(title, h("p", { class: "sub" }, t("Loading…")));
  ctx.api("/plan", { ...planBody(ctx.modelRef, ctx), top: 1, ...extra })
    .then((r) => el.replaceWith(setupCard(title, r.setups[0], serve, testid)),
      (e) => el.replaceWith(card(title, h("p", { class: "error" }, e.message))));
  return el;
}

const ENGINE_NAMES = { vllm: "vLLM", llamacpp: "llama.cpp", deepspeed: "DeepSpeed", fsdp: "FSDP", torchrun: "torchrun",
  megatron: "Megatron-LM", torchtitan: "torchtitan" };

/** The engine's command line or config for a setup (`llmsize export`): serving writes the row's replica layout;
 * training asks the planner for its best layout for that engine on the row's GPUs (as `export ENGINE MODEL
 * --gpu GPU --gpus N`), with the page's job, and says which layout it wrote. */
function exportCard(r, ctx, serve) {
  const engines = serve ? ["vllm", "llamacpp"] : ["deepspeed", "fsdp", "torchrun", "megatron", "torchtitan"];
  const engine = engines.includes(ctx.state.w.engine) ? ctx.state.w.engine : serve && serveEngine(ctx) === "llama.cpp" ? "llamacpp"
    : engines.includes(r.engine) ? r.engine : !serve && (r.tp > 1 || r.pp > 1 || r.cp > 1) ? "megatron" : engines[0];
  const preset = ctx.state.src === "preset" ? ctx.state.m : null;
  const repo = (ctx.meta.presets || []).find((p) => p.name === preset)?.repo || ctx.params.model;
  const out = h("pre", { class: "export", "data-testid": "export" }, "…");
  const wrote = h("p", { class: "sub", "data-testid": "export-layout" });
  const s = ctx.state, m = ctx.meta;
  let body;
  if (serve) {
    // llama.cpp reads a GGUF file: the name such files carry (MODEL-Q4_K_M.gguf) stands for the one to pass
    const wts = w(s, "weights", m), kv = kvOf(engine === "llamacpp" ? "llama.cpp" : "vllm", w(s, "kv", m));
    const gguf = `${preset || ctx.params.model}-${{ bf16: "BF16", fp16: "F16", fp32: "F32" }[wts] || wts}.gguf`;
    body = { engine, model_name: engine === "llamacpp" ? gguf : repo,
      layout: { gpus: r.gpus, tp: r.tp, pp: r.pp, cp: r.cp, ep: r.ep, zero: r.zero || 0 },
      max_model_len: Number(w(s, "prompt", m)) + Number(w(s, "output", m)),
      // an offline run: the engine's default cap on sequences that the plan assumed (export --gpu --batch max)
      ...(w(s, "offline", m) === "1" && engine === "vllm" ? { batch: "max", gpu: r.gpu }
        // a request rate with Concurrent sequences left alone: the plan took vLLM's own cap, so no --max-num-seqs
        : w(s, "rate", m) && s.w.batch === undefined && engine === "vllm" ? {} : { max_num_seqs: Number(w(s, "batch", m)) }),
      ...(kv ? { kv_cache_dtype: kv } : {}), ...longContext(ctx) };
  } else {
    const j = job(ctx);
    body = { engine, model_name: repo, gpu: r.gpu, layout: { gpus: r.gpus }, seq_len: j.seq_len, batch: j.batch,
      global_batch: j.global_batch, precision: j.precision, grad_checkpointing: j.grad_checkpointing, ...longContext(ctx) };
  }
  ctx.api("/export", body).then((x) => {
    out.textContent = x.text;
    if (!serve && x.memory_per_gpu_bytes) wrote.textContent = t("Written for {layout}, {mem} per GPU", { layout: x.layout, mem: bytes(x.memory_per_gpu_bytes) });
  }, (e) => { out.textContent = e.message; });
  const copy = h("button", { type: "button", class: "ghost small", onclick: async (e) => {
    try { await navigator.clipboard.writeText(out.textContent); e.target.textContent = t("Copied"); } catch { e.target.textContent = t("Select and copy"); }
  } }, t("Copy"));
  return card(t("Run the best setup ({gpus} × {gpu}, {layout})", { gpus: r.gpus, gpu: r.gpu, layout: spoken(r) }), h("div", { class: "row-between" },
    h("div", { class: "seg seg-inline", role: "radiogroup", "aria-label": t("Engine") }, engines.map((e) => h("label", {},
      h("input", { type: "radio", name: "engine", value: e, checked: e === engine, onchange: () => { ctx.state.w.engine = e; ctx.update(); } }),
      h("span", {}, ENGINE_NAMES[e])))), copy), wrote, out);
}

/** The one verdict, here too: your setup on one of your GPUs, as the Memory tab and the summary say. */
function yours(ctx) {
  const v = ctx.memory ? fitView(ctx.memory) : null;
  if (!v || v.fits == null) return null;
  return h("div", {}, h("div", { class: "card-title" }, t("Your setup on one {gpu}", { gpu: w(ctx.state, "gpu", ctx.meta) })),
    verdict(v, "plan-verdict", true), h("p", { class: "sub" }, t("Memory estimate: {total}", { total: bytes(v.total) })));
}

export function renderPlan(rep, ctx) {
  if (!rep) return why(ctx);
  const serve = rep.mode === "serve";
  const rows = varied(rep.setups);
  const gpu = w(ctx.state, "gpu", ctx.meta), n = gpuCount(ctx);
  const head = h("div", { class: "cols cols3" }, setupCard(t("Best on up to {n} GPUs", { n }), rep.setups[0], serve, "plan-best"),
    askCard(t("Best on one GPU"), ctx, { max_gpus: 1 }, serve, "plan-single"),
    askCard(n > 1 ? t("Best on up to {n} × {gpu}", { n, gpu }) : t("Best on one {gpu}", { gpu }), ctx,
      { gpu: [gpu], max_gpus: n }, serve, "plan-yours"));
  const chart = rows.length ? barChart({
    bars: rows.slice(0, 12).map((r) => ({ label: `${r.gpus}× ${r.gpu} ${layoutParts(r)}`.trim(), value: r.tokens_per_s || 0, colour: r.gpus > 1 ? 2 : 0,
      text: r.tokens_per_s ? rate(r.tokens_per_s) : "—" })),
    fmt: (v) => rate(v), width: ctx.width, label: t("Tokens per second of the best setup of each GPU type") }) : null;
  // layout and precision share one wrapping column, so time and cost stay in view on a laptop screen
  const table1 = table([{ label: t("GPU") }, { label: t("GPUs"), num: true }, { label: `${t("layout")} · ${t("precision")}`, wrap: true },
    { label: t("memory / GPU"), num: true }, { label: t("headroom"), num: true }, { label: t("tokens/s"), num: true },
    { label: serve ? t("first token") : t("time"), num: true }, { label: serve ? t("$ / 1M out") : t("cost"), num: true }],
  rows.map((r) => [r.gpu, r.gpus, `${spoken(r)} · ${r.precision}`, bytes(r.memory_per_gpu_bytes), bytes(r.headroom_bytes),
    r.tokens_per_s ? num(Math.round(r.tokens_per_s)) : "—", duration(serve ? r.ttft_s ?? r.seconds : r.seconds), money(r.usd)]),
  { caption: t("Best setup of each GPU type") });
  const rej = Object.entries(rep.rejected.counts || {});
  const exp = rep.setups[0] ? exportCard(rep.setups[0], ctx, serve) : null;
  return [
    card(null, h("div", { class: "headline" }, h("div", {}, h("div", { class: "card-title" }, `${rep.model} · ${serve ? t("serving") : t("training")}`),
      big(exact(rep.feasible), t("of {n} setups fit", { n: exact(rep.searched) }), { "data-testid": "plan-feasible" }),
      h("p", { class: "sub" }, serve ? t("Every GPU type × count (up to Most GPUs) × parallel layout the planner tried, timed with {engine}'s measured efficiencies and sized as {engine} allocates memory (vLLM: paged KV within its memory share; llama.cpp: its own buffers, layers split over the GPUs); the fit verdict above is the Memory estimate for your runtime.",
        { engine: engineLabel(ctx) })
        : t("Every GPU type × count (up to Most GPUs) × parallel layout × precision the planner tried for the training run; the fit verdict above is the Memory estimate for your runtime.")),
      serve ? engineChoice(ctx) : null),
    yours(ctx))),
    head,
    exp,
    chart ? card(t("Throughput, best setup of each GPU type (multi-GPU bars in orange)"), chart) : null,
    card(t("Feasible setups: the best of each GPU type, best first"), table1, rep.note ? h("p", { class: "src" }, tr(rep.note)) : null),
    rej.length ? card(t("Rejected"), table([{ label: t("why") }, { label: t("setups"), num: true }, { label: t("for example"), wrap: true }],
      rej.map(([k, c]) => [tr(k), exact(c), (rep.rejected.examples[k] || []).slice(0, 2).map((e) => `${`${e.gpus}× ${e.gpu} ${layoutParts(e)}`.trim()}: ${tr(e.reason)}`).join("; ")]))) : null,
  ];
}

export function renderCost(rep, ctx) {
  if (!rep) return why(ctx);
  const serve = rep.mode === "serve";
  const counts = [...new Set(rep.rows.map((r) => r.gpus))];
  // the count chosen, while it is among those costed (Most GPUs may have dropped it): else the first
  const n = counts.includes(Number(ctx.state.w.cost_n)) ? Number(ctx.state.w.cost_n) : counts[0];
  const price = (r) => (serve ? r.usd_per_1m_output : r.usd);
  const ok = rep.rows.filter((r) => !r.note && price(r) != null);
  const cheapest = ok.slice().sort((a, b) => price(a) - price(b))[0];
  const lab = (r) => `${r.gpus}× ${r.gpu}`;
  const here = ok.filter((r) => r.gpus === n);
  const pick = h("div", { class: "seg seg-inline", role: "radiogroup", "aria-label": t("GPUs per setup") },
    counts.map((c) => h("label", {}, h("input", { type: "radio", name: "cost-n", value: c, checked: c === n,
      onchange: () => { ctx.state.w.cost_n = String(c); ctx.update(); } }), h("span", {}, c === 1 ? t("1 GPU") : t("{n} GPUs", { n: c })))));
  const top = (rows, key, dir) => rows.slice().sort((a, b) => dir * (key(b) - key(a))).slice(0, 15);
  const charts = [];
  if (serve) {
    charts.push(card(n === 1 ? t("Output tokens/s, one GPU") : t("Output tokens/s, {n} GPUs", { n }), barChart({ bars: top(here, (r) => r.output_tokens_per_s, 1)
      .map((r) => ({ label: r.gpu, value: r.output_tokens_per_s, colour: 0, text: rate(r.output_tokens_per_s) })),
    fmt: (v) => rate(v), width: ctx.width, label: t("Output tokens per second by GPU") })));
    charts.push(card(n === 1 ? t("Cost per 1M output tokens, one GPU") : t("Cost per 1M output tokens, {n} GPUs", { n }), barChart({ bars: top(here, price, -1)
      .map((r) => ({ label: r.gpu, value: price(r), colour: 1, text: money(price(r)) })), fmt: money, width: ctx.width,
    label: t("Dollars per million output tokens by GPU, cheapest first") })));
  } else {
    charts.push(card(t("Cost of the training run, {n} GPUs", { n }), barChart({ bars: top(here, price, -1).map((r) => ({ label: r.gpu,
      value: r.usd, colour: 1, text: `${money(r.usd)} · ${duration(r.days * 86400)}` })), fmt: money, width: ctx.width,
    label: t("Training cost by GPU, cheapest first") })));
  }
  const cols = serve ? [t("GPU"), t("GPUs"), t("$ / GPU-h"), t("layout"), t("out tok/s"), t("$ / 1M in"), t("$ / 1M out")]
    : [t("GPU"), t("GPUs"), t("$ / GPU-h"), t("time"), t("GPU-hours"), t("cost")];
  const rows = ok.slice().sort((a, b) => price(a) - price(b)).map((r) => {
    const headc = [r.gpu, r.gpus, money(r.usd_per_gpu_hour)];
    return serve ? [...headc, spoken(r), rate(r.output_tokens_per_s, ""), money(r.usd_per_1m_input), money(r.usd_per_1m_output)]
      : [...headc, duration(r.days * 86400), num(Math.round(r.gpu_hours)), money(r.usd)];
  });
  const not = rep.rows.filter((r) => r.note || price(r) == null);
  return [
    card(null, h("div", { class: "headline" }, h("div", {}, h("div", { class: "card-title" }, serve ? t("Cheapest per 1M output tokens") : t("Cheapest training run")),
      cheapest ? big(money(price(cheapest)), "", { "data-testid": "cost-best" }) : big("—", ""),
      h("p", { class: "sub" }, cheapest ? `${lab(cheapest)}${serve ? ` · ${rate(cheapest.output_tokens_per_s)}` : ` · ${duration(cheapest.days * 86400)}`}` : t("No priced GPU can run this."))),
    serve ? h("div", {}, engineChoice(ctx), pick) : pick)),
    ...charts,
    card(t("Every priced setup, cheapest first"), table(cols.map((c, i) => ({ label: c, num: i > 0 && i !== (serve ? 3 : -1) })), rows),
      not.length ? h("p", { class: "src" }, t("Not possible or not priced: "), not.map((r) => `${lab(r)} (${r.note ? tr(r.note) : t("no price")})`).join(", ")) : null,
      rep.note ? h("p", { class: "src" }, tr(rep.note)) : null),
  ];
}
