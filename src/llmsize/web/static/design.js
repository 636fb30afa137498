// Architecture design: shapes for a budget (`llmsize design --json`) and what-ifs on the current
// model (`llmsize whatif --json`). "Use this shape" loads a candidate as knobs.
import { barChart } from "./charts.js";
import { w } from "./sections2.js";
import { big, bytes, card, count, exact, h, money, rate, replace, table } from "./ui.js";
import { num, t, tr } from "./i18n.js";
import { checkQuantity, mark } from "./fields.js";

const d = (ctx, k, def) => ctx.state.w[`d_${k}`] ?? def;

function setting(ctx) {
  const s = ctx.state, m = ctx.meta;
  return { gpu: w(s, "gpu", m), seq_len: Number(w(s, "prompt", m)) + Number(w(s, "output", m)), batch: Number(w(s, "batch", m)) };
}

export function designBody(_model, ctx) {
  const kind = d(ctx, "kind", "params");
  return { [kind]: d(ctx, "budget", DEF_BUDGET[kind]),
    law: d(ctx, "law", "chinchilla"), setting: setting(ctx) };
}

const KINDS = () => [["params", t("parameters")], ["compute", t("training FLOPs")], ["gpu_hours", t("GPU-hours")]];
const LAWS = () => [["chinchilla", t("Chinchilla (20 tokens/param)")], ["approach3", t("Chinchilla Approach 3")],
  ["besiroglu", "Besiroglu 2024"], ["kaplan", "Kaplan 2020"]];
const DEF_BUDGET = { params: "7B", compute: "1e23", gpu_hours: "100000" };

function select(ctx, label, key, options) {
  const id = `d-${key}`;
  return [h("label", { for: id, class: "lbl" }, label), h("select", { id, onchange: (e) => { ctx.state.w[`d_${key}`] = e.target.value; ctx.update(); } },
    options.map(([v, l]) => h("option", { value: v, selected: v === d(ctx, key, options[0][0]) }, l)))];
}

/** The budget form: always on the page, whatever the last answer was; a bad amount is marked where it was typed. */
function designForm(ctx) {
  const label = t("Amount (7B, 1e23, 100000)");
  const input = h("input", { id: "d-budget", type: "text", value: d(ctx, "budget", DEF_BUDGET[d(ctx, "kind", "params")]),
    spellcheck: "false", autocomplete: "off", onchange: (e) => {
      const v = e.target.value.trim();
      if (mark(e.target, label, checkQuantity(v))) { ctx.state.w.d_budget = v; ctx.update("d_budget"); }
    } });
  return card(t("Budget"), h("div", { class: "design-form" },
    h("div", { class: "field" }, select(ctx, t("Budget in"), "kind", KINDS())),
    h("div", { class: "field" }, h("label", { for: "d-budget", class: "lbl" }, label), input),
    h("div", { class: "field" }, select(ctx, t("Compute-optimal law"), "law", LAWS()))));
}

/** The server refused the budget: the form stays, with its message beside the amount. */
export function designError(e, ctx) {
  const form = designForm(ctx);
  const input = form.querySelector("#d-budget");
  input.setAttribute("aria-invalid", "true");
  const msg = h("span", { class: "field-msg", id: "d-budget-msg", role: "alert" }, `${t("Amount (7B, 1e23, 100000)")}: ${e.message}`);
  input.setAttribute("aria-describedby", "d-budget-msg");
  input.after(msg);
  return [form, h("div", { class: "card placeholder" }, t("No shapes until the budget is one llmsize can read."))];
}

function useShape(ctx, c) {
  Object.assign(ctx.state.knobs, { hidden: String(c.hidden), layers: String(c.layers), heads: String(c.heads),
    kv_heads: String(c.kv_heads), ffn: String(c.ffn), vocab: String(c.vocab), experts: "", top_k: "", gated: "1", tied: "0" });
  ctx.state.src = "knobs";
  ctx.state.tab = "params";
  location.search = new URLSearchParams({ ...(ctx.state.lang ? { lang: ctx.state.lang } : {}), src: "knobs", ...ctx.state.knobs, tab: "params", mode: ctx.state.mode }).toString();
}

export function renderDesign(rep, ctx) {
  const b = rep.budget;
  const best = rep.candidates.find((c) => c.recommended) || rep.candidates[0];
  const form = designForm(ctx);
  form.append(h("p", { class: "sub" }, t("{p} parameters on {tok} tokens ({per} per parameter), {flops} FLOPs",
    { p: count(b.params), tok: count(b.tokens), per: num(b.tokens_per_param, 1), flops: b.flops.toExponential(2) }) + (b.note ? ` · ${tr(b.note)}` : "")));
  const head = card(null, h("div", { class: "headline" },
    h("div", {}, h("div", { class: "card-title" }, t("Recommended shape")),
      big(`${best.hidden} × ${best.layers}`, "d × L", { "data-testid": "design-best" }),
      h("p", { class: "sub" }, t("{p} parameters · {heads} heads ({kv} KV) · FFN {ffn} · d/L {aspect} (successful models this size: {ref})",
        { p: exact(best.params), heads: best.heads, kv: best.kv_heads, ffn: exact(best.ffn), aspect: num(best.aspect), ref: num(rep.reference_aspect.d_over_L) }))),
    h("div", {}, h("button", { type: "button", class: "primary", onclick: () => useShape(ctx, best) }, t("Use this shape")))));
  const rows = rep.candidates.map((c) => [c.recommended ? h("strong", {}, "★ ") : "", `${c.hidden} × ${c.layers}`,
    `${c.heads}/${c.kv_heads}`, c.head_dim, exact(c.ffn), exact(c.params), `${num(100 * c.params_error, 1)}%`,
    bytes(c.weight_bytes), c.decode_tokens_per_s ? rate(c.decode_tokens_per_s) : "—",
    num(Math.round(c.gpu_hours)), c.train_cost_usd == null ? "—" : money(c.train_cost_usd),
    c.loss ? num(c.loss.chinchilla, 3) : "—",
    h("button", { type: "button", class: "ghost small", onclick: () => useShape(ctx, c), "aria-label": t("Use {d} by {l}", { d: c.hidden, l: c.layers }) }, t("Use"))]);
  const cands = card(t("Candidates"), table(["", "d × L", t("heads/KV"), "d_h", "FFN", t("parameters"), t("vs budget"), t("weights"),
    t("decode"), t("GPU-hours"), t("cost"), t("loss"), ""].map((l, i) => ({ label: l, num: i >= 3 && i <= 11 })), rows,
  { rowClass: (i) => (rep.candidates[i].recommended ? "chosen" : null) }),
  h("p", { class: "src" }, t("Serving {dtype} at {ctx} tokens on {gpu}; training on {tok} tokens. Loss: Chinchilla fit (N and D only).",
    { dtype: rep.setting.dtype, ctx: exact(rep.setting.context), gpu: rep.setting.gpu, tok: count(b.tokens) })));
  const train = trainCard(rep);
  const laws = Object.values(rep.scaling);
  const alloc = card(t("How each law splits this compute"), barChart({ bars: laws.map((a, i) => ({ label: a.method, value: a.params,
    colour: i, text: t("{p} on {tok} tokens", { p: count(a.params), tok: count(a.tokens) }) })), fmt: count, width: ctx.width,
  label: t("Compute-optimal parameters by scaling law") }));
  const wi = h("div", { class: "card" }, h("h3", {}, t("What if this model changed")), h("p", { class: "sub" }, t("Loading…")));
  drawWhatIf(wi, ctx);
  return [form, head, cands, train, alloc, wi, card(t("Notes"), ...(rep.notes || []).map((n) => h("p", { class: "src" }, tr(n))))];
}

const days = (x) => (x == null ? "—" : num(x, x >= 10 ? 0 : 1));
const usd = money;

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
    return [...shape, exact(p.gpus), p.layout, h("span", { title: t("{free} headroom of {cap}", { free: bytes(p.headroom_bytes), cap: bytes(p.budget_bytes) }) },
      bytes(p.memory_per_gpu_bytes)), days(p.days), p.gpu_hours == null ? "—" : num(Math.round(p.gpu_hours)),
    usd(p.usd)];
  });
  const plans = rep.candidates.map((c) => c.train_plan).filter(Boolean);
  const off = plans.map((p) => p.fewest_with_offload).filter(Boolean);
  const job = plans.length ? plans[0].job : null;
  const lines = [...missing].map((m) => t("No training setup: {why}.", { why: tr(m) }));
  if (job) {
    lines.push(t("The planner's training search ranked by GPU count (llmsize fit --train --find gpus): {precision}, {optimizer}, {recompute}micro-batch {mb} × {seq} tokens, {gb} sequences per step, MFU {mfu}; its time counts the recomputed forward, so its GPU-hours exceed the candidates table's.",
      { precision: job.precision, optimizer: job.optimizer, recompute: job.recompute ? t("activation recomputation, ") : "", mb: job.micro_batch,
        seq: exact(job.seq_len), gb: exact(job.global_batch), mfu: num(job.mfu, 2) }));
  }
  if (off.length) {
    const o = off.reduce((a, b) => (b.gpus < a.gpus ? b : a));
    const slow = Math.max(...off.map((x) => x.offload_slowdown || 1));
    lines.push(t("With CPU offload ({layout}) {which} fits {n} {gpu}: {host} of {hostcap} host memory per node, each step up to {slow}× its GPU compute (PCIe and the host's optimizer step). The table keeps the model in GPU memory.",
      { layout: o.layout, which: off.length === rows.length ? t("each") : t("{n} of them", { n: off.length }), n: o.gpus, gpu,
        host: bytes(o.host_bytes_per_node), hostcap: bytes(o.host_memory_bytes), slow: num(slow, 2) }));
  }
  return h("section", { class: "card", "data-testid": "design-train" }, h("h3", {}, t("Training setup: fewest {gpu}", { gpu })),
    plans.length === 0 ? null : table([{ label: "" }, { label: "d × L" }, { label: t("GPUs"), num: true }, { label: t("layout") },
      { label: t("memory / GPU"), num: true }, { label: t("days"), num: true }, { label: t("GPU-hours"), num: true },
      { label: t("cost"), num: true }], rows, { caption: t("Fewest {gpu} that train each candidate", { gpu }),
      rowClass: (i) => (rep.candidates[i].recommended ? "chosen" : null) }),
    ...lines.map((l) => h("p", { class: "src" }, l)));
}

const WHATS = () => [["attention", t("attention (MHA / GQA / MQA / MLA)")], ["vocab", t("vocabulary size")], ["shape", t("depth vs width")],
  ["moe", t("dense → mixture of experts")], ["quant", t("quantized weights")], ["sparse24", t("2:4 sparsity")]];
const ROWS = () => [["params", t("parameters"), exact], ["weight_bytes", t("weights"), bytes], ["kv_bytes_per_token", t("KV cache / token"), bytes],
  ["kv_bytes", t("KV cache at context"), bytes], ["flops_per_token", t("FLOPs / token"), (v) => count(v)],
  ["decode_tokens_per_s", t("decode bound"), (v) => rate(v)], ["gpu_hours", t("training GPU-hours"), (v) => num(Math.round(v))],
  ["train_cost_usd", t("training cost"), money]];

async function drawWhatIf(el, ctx) {
  const what = d(ctx, "what", "attention");
  const pick = h("select", { id: "d-what", onchange: (e) => { ctx.state.w.d_what = e.target.value; ctx.update(); } },
    WHATS().map(([v, l]) => h("option", { value: v, selected: v === what }, l)));
  const top = [h("h3", {}, t("What if {model} changed", { model: ctx.params.model })), h("div", { class: "field narrow" }, h("label", { for: "d-what", class: "lbl" }, t("Change")), pick)];
  try {
    const rep = await ctx.api("/whatif", { what, model: ctx.modelRef, setting: setting(ctx) });
    const vs = rep.variants || [rep.before, rep.after];
    const labels = rep.variants ? vs.map((v) => tr(v.label)) : [t("before"), t("after")];
    const hot = new Set((rep.differences || []).map((x) => x.field));
    const rows = ROWS().map(([k, label, f]) => [hot.has(k) ? h("strong", {}, label) : label, ...vs.map((v) => (v[k] == null ? "—" : f(v[k])))]);
    replace(el, ...top, rep.description ? h("p", { class: "sub" }, tr(rep.description)) : null,
      table([{ label: "" }, ...labels.map((l) => ({ label: l, num: true }))], rows),
      ...(rep.notes || []).map((n) => h("p", { class: "src" }, tr(n))));
  } catch (e) {
    replace(el, ...top, h("p", { class: "error" }, e.message));
  }
}
