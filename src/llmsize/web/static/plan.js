// GPU planning (`llmsize plan --json`) and cost (`llmsize cost --json`) sections.
import { barChart } from "./charts.js";
import { w } from "./sections2.js";
import { big, bytes, card, exact, h, money, rate, table } from "./ui.js";

/** The planner job the workload inputs describe (the same fields as `--serve`/`--train`). */
export function job(ctx) {
  const s = ctx.state, m = ctx.meta, n = (k) => Number(w(s, k, m));
  if (s.mode === "train") {
    const tokens = Number(w(s, "tokens", m).replace(/[,_\s]/g, "").replace(/T$/i, "e12").replace(/B$/i, "e9"));
    return { mode: "train", seq: n("seq"), micro_batch: n("micro_batch"), global_batch: n("global_batch"),
      precision: w(s, "precision", m), recompute: w(s, "recompute", m) === "1",
      tokens: Number.isFinite(tokens) && tokens > 0 ? tokens : null };
  }
  return { mode: "serve", prompt: n("prompt"), output: n("output"), concurrency: n("batch"), weights: w(s, "weights", m),
    kv_dtype: w(s, "kv", m) };
}

export const planBody = (model, ctx) => ({ model, job: job(ctx), top: 15 });
export const costBody = (model, ctx) => ({ model, job: job(ctx), counts: [1, 8] });

const dur = (s) => (s == null ? "—" : s >= 86400 ? `${(s / 86400).toFixed(1)} d` : s >= 3600 ? `${(s / 3600).toFixed(1)} h`
  : s >= 1 ? `${s.toFixed(2)} s` : `${(s * 1000).toFixed(0)} ms`);

export function renderPlan(rep, ctx) {
  const serve = rep.mode === "serve";
  const rows = rep.setups;
  const single = rows.find((r) => r.gpus === 1);
  const multi = rows.find((r) => r.gpus > 1);
  const best = rows[0];
  const pick = (title, r) => card(title, r ? [big(`${r.gpus} × ${r.gpu}`, ""), h("p", { class: "sub" }, `${r.layout} · ${r.precision}`),
    h("p", { class: "sub" }, `${bytes(r.memory_per_gpu_bytes)} per GPU, ${bytes(r.headroom_bytes)} free · ` +
      (r.tokens_per_s ? rate(r.tokens_per_s) : "") + (r.usd != null ? ` · ${money(r.usd)}${serve ? " per 1M out" : ""}` : ""))]
    : h("p", { class: "sub" }, "No feasible setup of this kind."));
  const head = h("div", { class: "cols" }, pick("Best overall", best), pick("Best on one GPU", single), pick("Best multi-GPU", multi));
  const chart = rows.length ? barChart({
    bars: rows.slice(0, 12).map((r, i) => ({ label: `${r.gpus}× ${r.gpu} ${r.layout}`, value: r.tokens_per_s || 0, colour: i % 2 ? 5 : 0,
      text: r.tokens_per_s ? rate(r.tokens_per_s) : "—" })),
    fmt: (v) => rate(v), width: ctx.width, label: "Tokens per second of the best setups" }) : null;
  const table1 = table([{ label: "GPU" }, { label: "GPUs", num: true }, { label: "layout" }, { label: "precision" },
    { label: "memory / GPU", num: true }, { label: "headroom", num: true }, { label: "tokens/s", num: true },
    { label: serve ? "TTFT" : "time", num: true }, { label: serve ? "$ / 1M out" : "cost", num: true }],
  rows.map((r) => [r.gpu, r.gpus, r.layout, r.precision, bytes(r.memory_per_gpu_bytes), bytes(r.headroom_bytes),
    r.tokens_per_s ? Math.round(r.tokens_per_s).toLocaleString("en-US") : "—", dur(r.seconds), r.usd == null ? "—" : money(r.usd)]));
  const rej = Object.entries(rep.rejected.counts || {});
  return [
    card(null, h("div", { class: "headline" }, h("div", {}, h("div", { class: "card-title" }, `${rep.model} · ${serve ? "serving" : "training"}`),
      big(exact(rep.feasible), `of ${exact(rep.searched)} setups fit`, { "data-testid": "plan-feasible" }),
      h("p", { class: "sub" }, "Every GPU type × count × parallel layout × precision the planner tried."))), ),
    head,
    chart ? card("Throughput of the best setups", chart) : null,
    card("Feasible setups, best first", table1),
    rej.length ? card("Rejected", table([{ label: "why" }, { label: "setups", num: true }, { label: "for example", wrap: true }],
      rej.map(([k, n]) => [k, exact(n), (rep.rejected.examples[k] || []).slice(0, 2).map((e) => `${e.gpus}× ${e.gpu} ${e.layout}: ${e.reason}`).join("; ")]))) : null,
  ];
}

export function renderCost(rep, ctx) {
  const serve = rep.mode === "serve";
  const ok = rep.rows.filter((r) => !r.note && (serve ? r.usd_per_1m_output != null : r.usd != null));
  const cheapest = ok.slice().sort((a, b) => (serve ? a.usd_per_1m_output - b.usd_per_1m_output : a.usd - b.usd))[0];
  const lab = (r) => `${r.gpus}× ${r.gpu}`;
  const charts = [];
  if (serve) {
    const byTps = ok.slice().sort((a, b) => b.output_tokens_per_s - a.output_tokens_per_s);
    charts.push(card("Output tokens/s by GPU", barChart({ bars: byTps.map((r, i) => ({ label: lab(r), value: r.output_tokens_per_s,
      colour: r.gpus > 1 ? 5 : 0, text: rate(r.output_tokens_per_s) })), fmt: (v) => rate(v), width: ctx.width,
    label: "Output tokens per second by GPU" })));
    const byUsd = ok.slice().sort((a, b) => a.usd_per_1m_output - b.usd_per_1m_output);
    charts.push(card("Cost per 1M output tokens", barChart({ bars: byUsd.map((r) => ({ label: lab(r), value: r.usd_per_1m_output,
      colour: r.gpus > 1 ? 5 : 0, text: money(r.usd_per_1m_output) })), fmt: money, width: ctx.width,
    label: "Dollars per million output tokens by GPU" })));
  } else {
    const byUsd = ok.slice().sort((a, b) => a.usd - b.usd);
    charts.push(card("Cost of the training run", barChart({ bars: byUsd.map((r) => ({ label: lab(r), value: r.usd,
      colour: r.gpus > 1 ? 5 : 0, text: money(r.usd) })), fmt: money, width: ctx.width, label: "Training cost by GPU" })));
    charts.push(card("Days to train", barChart({ bars: byUsd.map((r) => ({ label: lab(r), value: r.days, colour: 2,
      text: `${r.days.toFixed(1)} d` })), fmt: (v) => `${v.toFixed(1)} d`, width: ctx.width, label: "Days by GPU" })));
  }
  const cols = serve ? ["GPU", "GPUs", "$ / GPU-h", "layout", "out tok/s", "$ / 1M in", "$ / 1M out"]
    : ["GPU", "GPUs", "$ / GPU-h", "days", "GPU-hours", "cost"];
  const rows = rep.rows.map((r) => {
    const headc = [r.gpu, r.gpus, r.usd_per_gpu_hour == null ? "—" : money(r.usd_per_gpu_hour)];
    if (r.note) return [...headc, r.note, ...Array(cols.length - 4).fill("")];
    return serve ? [...headc, r.layout, Math.round(r.output_tokens_per_s).toLocaleString("en-US"), money(r.usd_per_1m_input), money(r.usd_per_1m_output)]
      : [...headc, r.days.toFixed(1), Math.round(r.gpu_hours).toLocaleString("en-US"), r.usd == null ? "—" : money(r.usd)];
  });
  return [
    card(null, h("div", { class: "headline" }, h("div", {}, h("div", { class: "card-title" }, serve ? "Cheapest per 1M output tokens" : "Cheapest training run"),
      cheapest ? big(money(serve ? cheapest.usd_per_1m_output : cheapest.usd), "", { "data-testid": "cost-best" }) : big("—", ""),
      h("p", { class: "sub" }, cheapest ? `${lab(cheapest)}${serve ? ` · ${rate(cheapest.output_tokens_per_s)}` : ` · ${cheapest.days.toFixed(1)} days`}` : "No priced GPU can run this.")))),
    h("div", { class: "cols" }, charts),
    card("All GPUs", table(cols.map((c, i) => ({ label: c, num: i > 0 && c !== "layout" })), rows), rep.note ? h("p", { class: "src" }, rep.note) : null),
  ];
}
