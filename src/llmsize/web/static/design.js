// Architecture design: shapes for a budget (`llmsize design --json`) and what-ifs on the current
// model (`llmsize whatif --json`). "Use this shape" loads a candidate as knobs.
import { barChart } from "./charts.js";
import { w } from "./sections2.js";
import { big, bytes, card, count, exact, h, money, rate, replace, table } from "./ui.js";

const d = (ctx, k, def) => ctx.state.w[`d_${k}`] ?? def;

function setting(ctx) {
  const s = ctx.state, m = ctx.meta;
  return { gpu: w(s, "gpu", m), context: Number(w(s, "prompt", m)) + Number(w(s, "output", m)), batch: Number(w(s, "batch", m)) };
}

export function designBody(_model, ctx) {
  const kind = d(ctx, "kind", "params");
  return { [kind]: d(ctx, "budget", kind === "params" ? "7B" : kind === "compute" ? "1e23" : "100000"),
    law: d(ctx, "law", "chinchilla"), setting: setting(ctx) };
}

function field(ctx, label, key, def, input) {
  const id = `d-${key}`;
  const set = (v) => { ctx.state.w[`d_${key}`] = v; ctx.update(); };
  const el = input === "select" ? null : h("input", { id, type: "text", value: d(ctx, key, def), spellcheck: "false",
    onchange: (e) => set(e.target.value.trim()) });
  return [h("label", { for: id, class: "lbl" }, label), el || h("select", { id, onchange: (e) => set(e.target.value) },
    def.map(([v, l]) => h("option", { value: v, selected: v === d(ctx, key, def[0][0]) }, l)))];
}

function useShape(ctx, c) {
  Object.assign(ctx.state.knobs, { hidden: String(c.hidden), layers: String(c.layers), heads: String(c.heads),
    kv_heads: String(c.kv_heads), ffn: String(c.ffn), vocab: String(c.vocab), experts: "", top_k: "", gated: "1", tied: "0" });
  ctx.state.src = "knobs";
  ctx.state.tab = "params";
  location.search = new URLSearchParams({ src: "knobs", ...ctx.state.knobs, tab: "params", mode: ctx.state.mode }).toString();
}

export function renderDesign(rep, ctx) {
  const b = rep.budget;
  const best = rep.candidates.find((c) => c.recommended) || rep.candidates[0];
  const form = card("Budget", h("div", { class: "design-form" },
    h("div", { class: "field" }, field(ctx, "Budget in", "kind", [["params", "parameters"], ["compute", "training FLOPs"],
      ["gpu_hours", "GPU-hours"]], "select")),
    h("div", { class: "field" }, field(ctx, "Amount (7B, 1e23, 100000)", "budget", d(ctx, "kind", "params") === "params" ? "7B"
      : d(ctx, "kind", "params") === "compute" ? "1e23" : "100000")),
    h("div", { class: "field" }, field(ctx, "Compute-optimal law", "law", [["chinchilla", "Chinchilla (20 tokens/param)"],
      ["approach3", "Chinchilla Approach 3"], ["besiroglu", "Besiroglu 2024"], ["kaplan", "Kaplan 2020"]], "select"))),
  h("p", { class: "sub" }, `${count(b.params)} parameters on ${count(b.tokens)} tokens (${b.tokens_per_param.toFixed(1)} per parameter), ` +
    `${b.flops.toExponential(2)} FLOPs${b.note ? ` · ${b.note}` : ""}`));
  const head = card(null, h("div", { class: "headline" },
    h("div", {}, h("div", { class: "card-title" }, "Recommended shape"),
      big(`${best.hidden} × ${best.layers}`, "d × L", { "data-testid": "design-best" }),
      h("p", { class: "sub" }, `${exact(best.params)} parameters · ${best.heads} heads (${best.kv_heads} KV) · FFN ${exact(best.ffn)} · ` +
        `d/L ${best.aspect.toFixed(0)} (successful models this size: ${rep.reference_aspect.d_over_L.toFixed(0)})`)),
    h("div", {}, h("button", { type: "button", class: "primary", onclick: () => useShape(ctx, best) }, "Use this shape"))));
  const rows = rep.candidates.map((c) => [c.recommended ? h("strong", {}, "★ ") : "", `${c.hidden} × ${c.layers}`,
    `${c.heads}/${c.kv_heads}`, c.head_dim, exact(c.ffn), exact(c.params), `${(100 * c.params_error).toFixed(1)}%`,
    bytes(c.weight_bytes), c.decode_tokens_per_s ? rate(c.decode_tokens_per_s) : "—",
    Math.round(c.gpu_hours).toLocaleString("en-US"), c.train_cost_usd == null ? "—" : money(c.train_cost_usd),
    c.loss ? c.loss.chinchilla.toFixed(3) : "—",
    h("button", { type: "button", class: "ghost small", onclick: () => useShape(ctx, c), "aria-label": `Use ${c.hidden} by ${c.layers}` }, "Use")]);
  const cands = card("Candidates", table(["", "d × L", "heads/KV", "d_h", "FFN", "parameters", "vs budget", "weights",
    "decode", "GPU-hours", "cost", "loss", ""].map((l, i) => ({ label: l, num: i >= 3 && i <= 11 })), rows,
  { rowClass: (i) => (rep.candidates[i].recommended ? "chosen" : null) }),
  h("p", { class: "src" }, `Serving ${rep.setting.dtype} at ${exact(rep.setting.context)} tokens on ${rep.setting.gpu}; ` +
    `training on ${count(b.tokens)} tokens. Loss: Chinchilla fit (N and D only).`));
  const train = trainCard(rep);
  const laws = Object.values(rep.scaling);
  const alloc = card("How each law splits this compute", barChart({ bars: laws.map((a, i) => ({ label: a.method, value: a.params,
    colour: i, text: `${count(a.params)} on ${count(a.tokens)} tokens` })), fmt: count, width: ctx.width,
  label: "Compute-optimal parameters by scaling law" }));
  const wi = h("div", { class: "card" }, h("h3", {}, "What if this model changed"), h("p", { class: "sub" }, "Loading…"));
  drawWhatIf(wi, ctx);
  return [form, head, cands, train, alloc, wi, card("Notes", ...(rep.notes || []).map((n) => h("p", { class: "src" }, n)))];
}

const days = (x) => (x == null ? "—" : x >= 10 ? Math.round(x).toLocaleString("en-US") : x.toFixed(1));
const usd = (x) => (x != null && x >= 1000 ? `$${Math.round(x).toLocaleString("en-US")}` : money(x));

/** Each candidate's `train_plan`: the planner's fewest GPUs that train it, layout, memory per GPU, days, cost. */
function trainCard(rep) {
  const gpu = rep.setting.gpu;
  const missing = new Set();
  const rows = rep.candidates.map((c) => {
    const p = c.train_plan, shape = [c.recommended ? h("strong", {}, "★ ") : "", `${c.hidden} × ${c.layers}`];
    if (!p) {
      missing.add(((c.notes || []).find((n) => n.startsWith("training setup")) || "no training setup from the planner")
        .replace(/^training setup \(planner\): /, ""));
      return [...shape, "—", "—", "—", "—", "—", "—"];
    }
    return [...shape, exact(p.gpus), p.layout, h("span", { title: `${bytes(p.headroom_bytes)} headroom of ${bytes(p.budget_bytes)}` },
      bytes(p.memory_per_gpu_bytes)), days(p.days), p.gpu_hours == null ? "—" : Math.round(p.gpu_hours).toLocaleString("en-US"),
    usd(p.usd)];
  });
  const plans = rep.candidates.map((c) => c.train_plan).filter(Boolean);
  const off = plans.map((p) => p.fewest_with_offload).filter(Boolean);
  const job = plans.length ? plans[0].job : null;
  const lines = [...missing].map((m) => `No training setup: ${m}.`);
  if (job) {
    lines.push(`The planner's training search ranked by GPU count (llmsize fit --train --find gpus): ${job.precision}, ` +
      `${job.optimizer}, ${job.recompute ? "activation recomputation, " : ""}micro-batch ${job.micro_batch} × ` +
      `${exact(job.seq_len)} tokens, ${exact(job.global_batch)} sequences per step, MFU ${job.mfu}; its time counts the ` +
      `recomputed forward, so its GPU-hours exceed the candidates table's.`);
  }
  if (off.length) {
    const o = off.reduce((a, b) => (b.gpus < a.gpus ? b : a));
    const slow = Math.max(...off.map((x) => x.offload_slowdown || 1));
    lines.push(`With CPU offload (${o.layout}) ${off.length === rows.length ? "each" : `${off.length} of them`} fits ` +
      `${o.gpus} ${gpu}: ${bytes(o.host_bytes_per_node)} of ${bytes(o.host_memory_bytes)} host memory per node, each step up ` +
      `to ${slow.toFixed(2)}× its GPU compute (PCIe and the host's optimizer step). The table keeps the model in GPU memory.`);
  }
  return h("section", { class: "card", "data-testid": "design-train" }, h("h3", {}, `Training setup: fewest ${gpu}`),
    plans.length === 0 ? null : table([{ label: "" }, { label: "d × L" }, { label: "GPUs", num: true }, { label: "layout" },
      { label: "memory / GPU", num: true }, { label: "days", num: true }, { label: "GPU-hours", num: true },
      { label: "cost", num: true }], rows, { caption: `Fewest ${gpu} that train each candidate`,
      rowClass: (i) => (rep.candidates[i].recommended ? "chosen" : null) }),
    ...lines.map((l) => h("p", { class: "src" }, l)));
}

const WHATS = [["attention", "attention (MHA / GQA / MQA / MLA)"], ["vocab", "vocabulary size"], ["shape", "depth vs width"],
  ["moe", "dense → mixture of experts"], ["quant", "quantized weights"], ["sparse24", "2:4 sparsity"]];
const ROWS = [["params", "parameters", exact], ["weight_bytes", "weights", bytes], ["kv_bytes_per_token", "KV cache / token", bytes],
  ["kv_bytes", "KV cache at context", bytes], ["flops_per_token", "FLOPs / token", (v) => count(v)],
  ["decode_tokens_per_s", "decode bound", (v) => rate(v)], ["gpu_hours", "training GPU-hours", (v) => Math.round(v).toLocaleString("en-US")],
  ["train_cost_usd", "training cost", money]];

async function drawWhatIf(el, ctx) {
  const what = d(ctx, "what", "attention");
  const pick = h("select", { id: "d-what", onchange: (e) => { ctx.state.w.d_what = e.target.value; ctx.update(); } },
    WHATS.map(([v, l]) => h("option", { value: v, selected: v === what }, l)));
  const top = [h("h3", {}, `What if ${ctx.params.model} changed`), h("div", { class: "field narrow" }, h("label", { for: "d-what", class: "lbl" }, "Change"), pick)];
  try {
    const rep = await ctx.api("/whatif", { what, model: ctx.modelRef, setting: setting(ctx) });
    const vs = rep.variants || [rep.before, rep.after];
    const labels = rep.variants ? vs.map((v) => v.label) : ["before", "after"];
    const hot = new Set((rep.differences || []).map((x) => x.field));
    const rows = ROWS.map(([k, label, f]) => [hot.has(k) ? h("strong", {}, label) : label, ...vs.map((v) => (v[k] == null ? "—" : f(v[k])))]);
    replace(el, ...top, rep.description ? h("p", { class: "sub" }, rep.description) : null,
      table([{ label: "" }, ...labels.map((l) => ({ label: l, num: true }))], rows),
      ...(rep.notes || []).map((n) => h("p", { class: "src" }, n)));
  } catch (e) {
    replace(el, ...top, h("p", { class: "error" }, e.message));
  }
}
