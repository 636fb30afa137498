// The workload and hardware inputs, the summary strip, and the sections that need a workload.
import { h, shortCount, stat } from "./ui.js";
import { renderQuant } from "./quant.js";
import { renderMemory, memoryBody, memoryEndpoint, memoryStats } from "./memory.js";
import { renderPlan, renderCost, planBody, costBody } from "./plan.js";
import { designBody, renderDesign } from "./design.js";

export const SECTIONS = {
  memory: { title: "memory", endpoint: memoryEndpoint, body: memoryBody,
    render: renderMemory },
  quant: { title: "quantization", endpoint: () => "/quant", body: quantBody, render: renderQuant },
  plan: { title: "planner", endpoint: () => "/plan", body: planBody, render: renderPlan },
  cost: { title: "cost", endpoint: () => "/cost", body: costBody, render: renderCost },
  design: { title: "design", endpoint: () => "/design", body: designBody, render: renderDesign },
};

// ---- inputs --------------------------------------------------------------------------------
const num = (k, label, def, more = {}) => ({ k, label, type: "number", def, ...more });
const sel = (k, label, def, options) => ({ k, label, type: "select", def, options });

function fields(mode, meta) {
  const o = meta.options || {};
  const formats = (o.formats || [{ key: "bf16", label: "BF16" }]).map((f) => [f.key, `${f.key} · ${f.label}`]);
  formats.splice(1, 0, ["fp16", "fp16 · FP16"], ["fp32", "fp32 · FP32"]);
  if (mode === "train") {
    return [
      sel("precision", "Precision", "bf16-mixed", (o.train_precisions || ["bf16-mixed"]).map((p) => [p, p])),
      sel("optimizer", "Optimizer", "adamw", [["adamw", "AdamW"], ["sgd", "SGD"]]),
      num("seq", "Sequence length", 4096, { max: 1 << 24 }),
      num("micro_batch", "Micro-batch", 1, { max: 65536 }),
      num("global_batch", "Global batch", 1024, { max: 1 << 24 }),
      num("lora", "LoRA rank", "", { placeholder: "full fine-tune" }),
      { k: "tokens", label: "Training tokens", type: "text", def: "1T", placeholder: "e.g. 1T, 15e12" },
      { k: "recompute", label: "Activation checkpointing", type: "checkbox", def: "1" },
    ];
  }
  return [
    { ...sel("weights", "Weights", "bf16", formats), wide: true },
    sel("kv", "KV cache", "bf16", (o.kv_dtypes || ["bf16"]).map((k) => [k, k])),
    num("prompt", "Prompt tokens", 8192, { max: 1 << 24 }),
    num("output", "Output tokens", 512, { max: 1 << 24 }),
    num("batch", "Concurrent sequences", 1, { max: 65536 }),
    sel("runtime", "Runtime", "torch", [["torch", "PyTorch"], ["vllm", "vLLM"], ["llamacpp", "llama.cpp"]]),
  ];
}

/** The current value of a workload input (URL state, else its default). */
export function w(state, k, meta) {
  if (state.w[k] !== undefined) return state.w[k];
  const f = [...fields("infer", meta), ...fields("train", meta), ...hwFields(meta)].find((x) => x.k === k);
  return f ? String(f.def) : "";
}

function control(f, state, meta, update) {
  const id = `w-${f.k}`;
  const value = w(state, f.k, meta);
  const set = (v) => { state.w[f.k] = v; update(); };
  if (f.type === "checkbox") {
    return h("label", { class: "field wide check" }, h("input", { type: "checkbox", id, checked: value === "1",
      onchange: (e) => set(e.target.checked ? "1" : "0") }), f.label);
  }
  let input;
  if (f.type === "select") {
    input = h("select", { id, onchange: (e) => set(e.target.value) },
      f.options.map(([v, label]) => h("option", { value: v, selected: v === value }, label)));
  } else {
    input = h("input", { id, type: f.type, value, min: f.type === "number" ? 1 : null, max: f.max || null,
      placeholder: f.placeholder || null, inputmode: f.type === "number" ? "numeric" : null,
      oninput: (e) => { if (e.target.checkValidity()) set(e.target.value); } });
  }
  return h("div", { class: `field${f.wide ? " wide" : ""}` }, h("label", { for: id }, f.label), input);
}

export function workloadFields(state, meta, update) {
  return fields(state.mode, meta).map((f) => control(f, state, meta, update));
}

function hwFields(meta) {
  const gpus = (meta.gpus || []).map((g) => [g.name, `${g.name} · ${Math.round(g.memory_bytes / 2 ** 30)} GiB`]);
  return [{ ...sel("gpu", "GPU", "RTX-4090", gpus.length ? gpus : [["RTX-4090", "RTX-4090"]]), wide: true },
    num("n", "Most GPUs", 8, { max: 65536 })];
}

export function hardwareFields(state, meta, update) {
  return hwFields(meta).map((f) => control(f, state, meta, update));
}

export function gpuInfo(ctx) {
  const name = w(ctx.state, "gpu", ctx.meta);
  return (ctx.meta.gpus || []).find((g) => g.name === name) || { name, memory_bytes: 0 };
}

function quantBody(model, ctx) {
  const s = ctx.state, m = ctx.meta;
  return { model, gpu: w(s, "gpu", m), context: Number(w(s, "prompt", m)) + Number(w(s, "output", m)),
    batch: Number(w(s, "batch", m)), kv_cache: w(s, "kv", m) };
}

// ---- summary strip ---------------------------------------------------------------------------
export function summaryStats(params, section, ctx) {
  const [v, u] = shortCount(params.total_params);
  const out = [stat("Parameters", v, u, params.model, { "data-testid": "sum-params" })];
  if (ctx.spec && ctx.spec.moe) {
    const [a, au] = shortCount(params.active_params);
    out.push(stat("Active per token", a, au, `top-${ctx.spec.moe.top_k} of ${ctx.spec.moe.num_experts} experts`));
  }
  if (section) out.push(...memoryStats(section, ctx));
  return out;
}

export const mode = (ctx) => ctx.state.mode;
export { h };
