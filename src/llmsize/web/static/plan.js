// GPU planning (`llmsize plan --json`) and cost (`llmsize cost --json`) sections.
import { barChart } from "./charts.js";
import { w } from "./sections2.js";
import { big, bytes, card, exact, h, money, rate, table } from "./ui.js";

/** The planner's name for a weight format (it plans what vLLM serves), or null when it has none. */
function serveWeights(ctx, key) {
  const names = ctx.meta.options.serve_weights || [];
  return names.find((n) => n === key || `${n}-g128` === key) || null;
}
const KV = { bf16: "auto", fp16: "auto", fp8: "fp8", fp8_e4m3: "fp8_e4m3", fp8_e5m2: "fp8_e5m2" };

/** Why the planner cannot take the current inputs, or null. */
export function unplannable(ctx) {
  if (ctx.state.mode === "train") return null;
  const wts = w(ctx.state, "weights", ctx.meta), kv = w(ctx.state, "kv", ctx.meta);
  if (!serveWeights(ctx, wts)) {
    return `GPU planning covers the weight formats vLLM serves (${(ctx.meta.options.serve_weights || []).join(", ")}); ` +
      `${wts} is not one of them. The Memory and Quantization tabs show what ${wts} needs.`;
  }
  if (!KV[kv]) return `GPU planning models vLLM's KV cache (bf16 or fp8); ${kv} is a llama.cpp cache type.`;
  return null;
}

/** The planner job the workload inputs describe (the same fields as `--serve`/`--train`). */
export function job(ctx) {
  const s = ctx.state, m = ctx.meta, n = (k) => Number(w(s, k, m));
  if (s.mode === "train") {
    const tokens = Number(w(s, "tokens", m).replace(/[,_\s]/g, "").replace(/T$/i, "e12").replace(/B$/i, "e9"));
    return { mode: "train", seq: n("seq"), micro_batch: n("micro_batch"), global_batch: n("global_batch"),
      precision: w(s, "precision", m), recompute: w(s, "recompute", m) === "1",
      tokens: Number.isFinite(tokens) && tokens > 0 ? tokens : null };
  }
  return { mode: "serve", prompt: n("prompt"), output: n("output"), concurrency: n("batch"),
    weights: serveWeights(ctx, w(s, "weights", m)), kv_dtype: KV[w(s, "kv", m)] };
}

export const planBody = (model, ctx) => (unplannable(ctx) ? null : { model, job: job(ctx), top: 15 });
const gpuCount = (ctx) => Math.max(1, Number(w(ctx.state, "n", ctx.meta)) || 1);
export const costBody = (model, ctx) => (unplannable(ctx) ? null
  : { model, job: job(ctx), counts: [...new Set([1, 8, gpuCount(ctx)])].sort((a, b) => a - b) });
const why = (ctx) => [h("div", { class: "card placeholder" }, unplannable(ctx))];

const dur = (s) => (s == null ? "—" : s >= 86400 ? `${(s / 86400).toFixed(1)} d` : s >= 3600 ? `${(s / 3600).toFixed(1)} h`
  : s >= 1 ? `${s.toFixed(2)} s` : `${(s * 1000).toFixed(0)} ms`);

function setupCard(title, r, serve, testid) {
  return card(title, r ? [big(`${r.gpus} × ${r.gpu}`, "", { "data-testid": testid }), h("p", { class: "sub" }, `${r.layout} · ${r.precision}`),
    h("p", { class: "sub" }, `${bytes(r.memory_per_gpu_bytes)} per GPU, ${bytes(r.headroom_bytes)} free` +
      (r.tokens_per_s ? ` · ${rate(r.tokens_per_s)}` : "") + (r.usd != null ? ` · ${money(r.usd)}${serve ? " per 1M out" : ""}` : ""))]
    : h("p", { class: "sub", "data-testid": testid }, "No feasible setup of this kind."));
}

/** A card filled by its own planner question (e.g. the best single-GPU setup). */
function askCard(title, ctx, extra, serve, testid) {
  const el = card(title, h("p", { class: "sub" }, "Loading…"));
  ctx.api("/plan", { ...planBody(ctx.modelRef, ctx), ...extra, top: 1 })
    .then((r) => el.replaceWith(setupCard(title, r.setups[0], serve, testid)),
      (e) => el.replaceWith(card(title, h("p", { class: "error" }, e.message))));
  return el;
}

/** The engine's command line or config for a setup (`llmsize export`). */
function exportCard(r, ctx, serve) {
  const engines = serve ? ["vllm", "llamacpp"] : ["deepspeed", "fsdp", "torchrun"];
  const engine = engines.includes(ctx.state.w.engine) ? ctx.state.w.engine : engines[0];
  const preset = ctx.state.src === "preset" ? ctx.state.m : null;
  const repo = (ctx.meta.presets || []).find((p) => p.name === preset)?.repo || ctx.params.model;
  const out = h("pre", { class: "export", "data-testid": "export" }, "…");
  const s = ctx.state, m = ctx.meta;
  const body = { engine, model_name: repo, layout: { gpus: r.gpus, tp: r.tp, pp: r.pp, cp: r.cp, ep: r.ep, zero: r.zero || 0 } };
  if (serve) Object.assign(body, { max_model_len: Number(w(s, "prompt", m)) + Number(w(s, "output", m)), max_num_seqs: Number(w(s, "batch", m)) });
  ctx.api("/export", body).then((x) => { out.textContent = x.text; }, (e) => { out.textContent = e.message; });
  const copy = h("button", { type: "button", class: "ghost small", onclick: async (e) => {
    try { await navigator.clipboard.writeText(out.textContent); e.target.textContent = "Copied"; } catch { e.target.textContent = "Select and copy"; }
  } }, "Copy");
  return card(`Run the best setup (${r.gpus} × ${r.gpu}, ${r.layout})`, h("div", { class: "row-between" },
    h("div", { class: "seg seg-inline", role: "radiogroup", "aria-label": "Engine" }, engines.map((e) => h("label", {},
      h("input", { type: "radio", name: "engine", value: e, checked: e === engine, onchange: () => { ctx.state.w.engine = e; ctx.update(); } }),
      h("span", {}, { vllm: "vLLM", llamacpp: "llama.cpp", deepspeed: "DeepSpeed", fsdp: "FSDP", torchrun: "torchrun" }[e])))), copy), out);
}

export function renderPlan(rep, ctx) {
  if (!rep) return why(ctx);
  const serve = rep.mode === "serve";
  const rows = rep.setups;
  const gpu = w(ctx.state, "gpu", ctx.meta);
  const head = h("div", { class: "cols cols3" }, setupCard("Best overall", rows[0], serve, "plan-best"),
    askCard("Best on one GPU", ctx, { max_gpus: 1 }, serve, "plan-single"),
    askCard(gpuCount(ctx) > 1 ? `Best on up to ${gpuCount(ctx)} × ${gpu}` : `Best on one ${gpu}`, ctx,
      { gpus: [gpu], max_gpus: gpuCount(ctx) }, serve, "plan-yours"));
  const chart = rows.length ? barChart({
    bars: rows.slice(0, 12).map((r) => ({ label: `${r.gpus}× ${r.gpu} ${r.layout}`, value: r.tokens_per_s || 0, colour: r.gpus > 1 ? 5 : 0,
      text: r.tokens_per_s ? rate(r.tokens_per_s) : "—" })),
    fmt: (v) => rate(v), width: ctx.width, label: "Tokens per second of the best setups" }) : null;
  const table1 = table([{ label: "GPU" }, { label: "GPUs", num: true }, { label: "layout" }, { label: "precision" },
    { label: "memory / GPU", num: true }, { label: "headroom", num: true }, { label: "tokens/s", num: true },
    { label: serve ? "TTFT" : "time", num: true }, { label: serve ? "$ / 1M out" : "cost", num: true }],
  rows.map((r) => [r.gpu, r.gpus, r.layout, r.precision, bytes(r.memory_per_gpu_bytes), bytes(r.headroom_bytes),
    r.tokens_per_s ? Math.round(r.tokens_per_s).toLocaleString("en-US") : "—", dur(r.seconds), money(r.usd)]));
  const rej = Object.entries(rep.rejected.counts || {});
  const exp = rows[0] ? exportCard(rows[0], ctx, serve) : null;
  return [
    card(null, h("div", { class: "headline" }, h("div", {}, h("div", { class: "card-title" }, `${rep.model} · ${serve ? "serving" : "training"}`),
      big(exact(rep.feasible), `of ${exact(rep.searched)} setups fit`, { "data-testid": "plan-feasible" }),
      h("p", { class: "sub" }, "Every GPU type × count × parallel layout × precision the planner tried; single GPU and multi-GPU side by side.")))),
    head,
    exp,
    chart ? card("Throughput of the best setups (multi-GPU in blue)", chart) : null,
    card("Feasible setups, best first", table1),
    rej.length ? card("Rejected", table([{ label: "why" }, { label: "setups", num: true }, { label: "for example", wrap: true }],
      rej.map(([k, n]) => [k, exact(n), (rep.rejected.examples[k] || []).slice(0, 2).map((e) => `${e.gpus}× ${e.gpu} ${e.layout}: ${e.reason}`).join("; ")]))) : null,
  ];
}

export function renderCost(rep, ctx) {
  if (!rep) return why(ctx);
  const serve = rep.mode === "serve";
  const counts = [...new Set(rep.rows.map((r) => r.gpus))];
  const n = Number(ctx.state.w.cost_n || counts[0]);
  const price = (r) => (serve ? r.usd_per_1m_output : r.usd);
  const ok = rep.rows.filter((r) => !r.note && price(r) != null);
  const cheapest = ok.slice().sort((a, b) => price(a) - price(b))[0];
  const lab = (r) => `${r.gpus}× ${r.gpu}`;
  const here = ok.filter((r) => r.gpus === n);
  const pick = h("div", { class: "seg seg-inline", role: "radiogroup", "aria-label": "GPUs per setup" },
    counts.map((c) => h("label", {}, h("input", { type: "radio", name: "cost-n", value: c, checked: c === n,
      onchange: () => { ctx.state.w.cost_n = String(c); ctx.update(); } }), h("span", {}, c === 1 ? "1 GPU" : `${c} GPUs`))));
  const top = (rows, key, dir) => rows.slice().sort((a, b) => dir * (key(b) - key(a))).slice(0, 15);
  const charts = [];
  if (serve) {
    charts.push(card(`Output tokens/s, ${n === 1 ? "one GPU" : `${n} GPUs`}`, barChart({ bars: top(here, (r) => r.output_tokens_per_s, 1)
      .map((r) => ({ label: r.gpu, value: r.output_tokens_per_s, colour: 0, text: rate(r.output_tokens_per_s) })),
    fmt: (v) => rate(v), width: ctx.width, label: "Output tokens per second by GPU" })));
    charts.push(card(`Cost per 1M output tokens, ${n === 1 ? "one GPU" : `${n} GPUs`}`, barChart({ bars: top(here, price, -1)
      .map((r) => ({ label: r.gpu, value: price(r), colour: 1, text: money(price(r)) })), fmt: money, width: ctx.width,
    label: "Dollars per million output tokens by GPU, cheapest first" })));
  } else {
    charts.push(card(`Cost of the training run, ${n} GPUs`, barChart({ bars: top(here, price, -1).map((r) => ({ label: r.gpu,
      value: r.usd, colour: 1, text: `${money(r.usd)} · ${r.days.toFixed(1)} d` })), fmt: money, width: ctx.width,
    label: "Training cost by GPU, cheapest first" })));
  }
  const cols = serve ? ["GPU", "GPUs", "$ / GPU-h", "layout", "out tok/s", "$ / 1M in", "$ / 1M out"]
    : ["GPU", "GPUs", "$ / GPU-h", "days", "GPU-hours", "cost"];
  const rows = ok.slice().sort((a, b) => price(a) - price(b)).map((r) => {
    const headc = [r.gpu, r.gpus, money(r.usd_per_gpu_hour)];
    return serve ? [...headc, r.layout, rate(r.output_tokens_per_s, ""), money(r.usd_per_1m_input), money(r.usd_per_1m_output)]
      : [...headc, r.days.toFixed(1), Math.round(r.gpu_hours).toLocaleString("en-US"), money(r.usd)];
  });
  const not = rep.rows.filter((r) => r.note || price(r) == null);
  return [
    card(null, h("div", { class: "headline" }, h("div", {}, h("div", { class: "card-title" }, serve ? "Cheapest per 1M output tokens" : "Cheapest training run"),
      cheapest ? big(money(price(cheapest)), "", { "data-testid": "cost-best" }) : big("—", ""),
      h("p", { class: "sub" }, cheapest ? `${lab(cheapest)}${serve ? ` · ${rate(cheapest.output_tokens_per_s)}` : ` · ${cheapest.days.toFixed(1)} days`}` : "No priced GPU can run this.")),
    pick)),
    ...charts,
    card("Every priced setup, cheapest first", table(cols.map((c, i) => ({ label: c, num: i > 0 && c !== "layout" })), rows),
      not.length ? h("p", { class: "src" }, "Not possible or not priced: ", not.map((r) => `${lab(r)} (${r.note || "no price"})`).join(", ")) : null,
      rep.note ? h("p", { class: "src" }, rep.note) : null),
  ];
}
