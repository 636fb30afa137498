// The workload and hardware inputs, the summary strip, and the sections that need a workload.
import { h, shortCount, stat, tip } from "./ui.js";
import { t, tr } from "./i18n.js";
import { checkInt, checkQuantity, checkRate, forget, mark } from "./fields.js";
import { renderQuant } from "./quant.js";
import { renderMemory, memoryBody, memoryEndpoint, memoryStats } from "./memory.js";
import { renderPlan, renderCost, planBody, costBody } from "./plan.js";
import { designBody, designError, renderDesign } from "./design.js";
import { guideBody, renderGuide } from "./guide.js";

export const SECTIONS = {
  memory: { title: () => t("memory"), endpoint: memoryEndpoint, body: memoryBody, render: renderMemory },
  quant: { title: () => t("quantization"), endpoint: () => "/quant", body: quantBody, render: renderQuant },
  plan: { title: () => t("planner"), endpoint: () => "/plan", body: planBody, render: renderPlan },
  cost: { title: () => t("cost"), endpoint: () => "/cost", body: costBody, render: renderCost },
  design: { title: () => t("design"), endpoint: () => "/design", body: designBody, render: renderDesign, error: designError },
  guide: { title: () => t("guide"), needs: "memory", endpoint: () => "/train", body: guideBody, render: renderGuide },
};

// ---- inputs --------------------------------------------------------------------------------
const MAX_CONTEXT = 1 << 24, MAX_BATCH = 1 << 16;
const num = (k, label, def, more = {}) => ({ k, label, type: "int", def, ...more });
const sel = (k, label, def, options, more = {}) => ({ k, label, type: "select", def, options, ...more });

// The checkpoint's own weight format (POST /spec's `weights`): what "native", the Weights menu's
// default, means for the current model, as every command's default (llmsize.quant.native).
let native = "bf16";
/** Set the current model's own format; true when it changed. */
export function setNative(weights) {
  const f = (weights && weights.format) || "bf16";
  const changed = f !== native;
  native = f;
  return changed;
}
export const nativeLabel = () => t("{f} · the checkpoint's own", { f: native });

export function fields(mode, meta, state) {
  const o = meta.options || {};
  const formats = (o.formats || [{ key: "bf16", label: "BF16" }]).map((f) => [f.key, `${f.key} · ${tr(f.label)}`]);
  formats.splice(1, 0, ["fp16", "fp16 · FP16"], ["fp32", "fp32 · FP32"]);
  formats.unshift(["native", nativeLabel()]);
  if (mode === "train") {
    const method = state ? w(state, "method", meta) : "full";
    return [
      sel("method", t("Fine-tuning"), "full", [["full", t("Full training")], ["lora", "LoRA"], ["qlora", t("QLoRA (4-bit base)")]],
        { wide: true, tip: t("LoRA trains small adapter matrices beside frozen weights; QLoRA also stores the frozen base in 4 bits (NF4).") }),
      method === "full" ? sel("precision", t("Precision"), "bf16-mixed", (o.train_precisions || ["bf16-mixed"]).map((p) => [p, p]),
        { tip: t("bf16-mixed keeps fp32 master weights and computes in bf16 (torch.autocast).") })
        : method === "lora" ? sel("base", t("Base weights"), "bf16", [["bf16", t("bf16 (as usually loaded)")], ["fp16", "fp16"], ["fp32", "fp32"]]) : null,
      method !== "qlora" ? sel("optimizer", t("Optimizer"), "adamw", [["adamw", "AdamW"], ["sgd", "SGD"]]) : null,
      num("seq", t("Sequence length"), 4096, { max: MAX_CONTEXT }),
      num("micro_batch", t("Micro-batch"), 1, { max: MAX_BATCH, tip: t("Sequences each GPU processes in one forward and backward pass.") }),
      method !== "full" ? num("lora", t("LoRA rank"), 16, { max: 1 << 16, tip: t("The rank r of each adapter: r·(d_in + d_out) trainable parameters per adapted matrix.") }) : null,
      method === "full" ? num("global_batch", t("Global batch"), 1024, { max: 1 << 24 }) : null,
      method === "full" ? { k: "tokens", label: t("Training tokens"), type: "quantity", def: "1T", placeholder: t("e.g. 1T, 15e12") } : null,
      method === "full" ? num("max_days", t("Time limit (days)"), "", { max: 100000, optional: true, placeholder: t("none"),
        tip: t("GPU planning and Cost skip setups that would take longer than this.") }) : null,
      { k: "recompute", label: t("Activation checkpointing"), type: "checkbox", def: "1",
        tip: t("Keep only each layer's input and recompute the rest during the backward pass: less memory, about a third more compute.") },
      LONG(),
    ].filter(Boolean);
  }
  return [
    { ...sel("weights", t("Weights"), "native", formats), wide: true, tip: t("The checkpoint's own format by default (its quantization_config, else its dtype), as the command line. INT8 and INT4 formats store each weight in 8 or about 4 bits plus scales: half or a quarter of bf16's bytes, at a small quality cost.") },
    sel("kv", t("KV cache"), "bf16", (o.kv_dtypes || ["bf16"]).map((k) => [k, k]),
      { tip: t("The keys and values of every past token, kept so each new token does not recompute them: 2 × layers × KV heads × head size × tokens × bytes.") }),
    num("prompt", t("Prompt tokens"), 8192, { max: MAX_CONTEXT }),
    num("output", t("Output tokens"), 512, { max: MAX_CONTEXT }),
    num("batch", t("Concurrent sequences"), 1, { max: MAX_BATCH }),
    { k: "offline", label: t("Offline run: every request queued at once"), type: "checkbox", def: "0",
      tip: t("GPU planning and Cost time a max-throughput run (vllm bench throughput): as many requests in flight as the KV cache and the engine's max sequences hold, instead of Concurrent sequences. vLLM, SGLang and TensorRT-LLM only.") },
    sel("runtime", t("Runtime"), "torch", [["torch", "PyTorch"], ["vllm", "vLLM"], ["llamacpp", "llama.cpp"]]),
    num("ttft", t("First-token limit (ms)"), "", { max: 100000000, optional: true, placeholder: t("none"),
      tip: t("GPU planning and Cost skip setups whose time to first token exceeds this.") }),
    num("tpot", t("Per-token limit (ms)"), "", { max: 1000000, optional: true, placeholder: t("none"),
      tip: t("GPU planning and Cost skip setups whose time per output token exceeds this.") }),
    { k: "rate", label: t("Request rate (req/s)"), type: "rate", def: "", max: 1000000, optional: true, placeholder: t("none"),
      tip: t("Requests per second arriving at each replica: GPU planning and Cost then time the queue (median time to first token with its wait) and Concurrent sequences caps the batch; none: Concurrent sequences at once.") },
    LONG(),
  ];
}

// the command line's --allow-long-context: size a context past the model's trained one instead of refusing it
const LONG = () => ({ k: "long", label: t("Past the trained context"), type: "checkbox", def: "0",
  tip: t("Size a context longer than the model was trained for (as with RoPE scaling): memory and speed are worked out, the quality at that length is not.") });

/** The request field that lets a context pass the model's trained length, when the box is ticked. */
export const longContext = (ctx) => (w(ctx.state, "long", ctx.meta) === "1" ? { allow_long_context: true } : {});

function hwFields(meta) {
  const gpus = (meta.gpus || []).map((g) => [g.name, `${g.name} · ${Math.round(g.memory_bytes / 2 ** 30)} GiB`]);
  return [{ ...sel("gpu", t("GPU"), "RTX-4090", gpus.length ? gpus : [["RTX-4090", "RTX-4090"]]), wide: true },
    num("n", t("Most GPUs"), 8, { max: 65536, tip: t("GPU planning and Cost consider setups of up to this many GPUs.") })];
}

const allFields = (meta) => [...fields("infer", meta), ...fields("train", meta, { w: { method: "full" } }),
  ...fields("train", meta, { w: { method: "lora" } }), ...hwFields(meta)];

/** The value of a workload input as its control shows it (URL state, else its default). */
export function raw(state, k, meta) {
  if (state.w[k] !== undefined) return state.w[k];
  const f = allFields(meta).find((x) => x.k === k);
  return f ? String(f.def) : "";
}

/** The current value of a workload input; weights "native" is the model's own format. */
export function w(state, k, meta) {
  const v = raw(state, k, meta);
  return k === "weights" && v === "native" ? native : v;
}

const OTHER = { engine: ["vllm", "llamacpp", "deepspeed", "fsdp", "torchrun", "megatron", "torchtitan"],
  serve_engine: ["vllm", "sglang", "trt-llm", "llama.cpp", "transformers"], d_kind: ["params", "compute", "gpu_hours"],
  d_law: ["chinchilla", "approach3", "besiroglu", "kaplan"], d_what: ["attention", "vocab", "shape", "moe", "quant", "sparse24"] };

/** Why a `w.` value of a link is refused (null: the page has a control for it). */
export function knownValue(k, v, meta) {
  if (OTHER[k]) return OTHER[k].includes(v) ? null : t("not one of the page's choices");
  if (k === "cost_n" || k === "d_budget" || k === "host") return null;  // host: the llama.cpp offload card's, checked by the API
  const f = allFields(meta).find((x) => x.k === k);
  if (!f) return t("not a setting of this page");
  if (f.type === "select" && !f.options.some(([o]) => o === v)) return t("not one of the page's choices");
  if (f.type === "checkbox" && v !== "0" && v !== "1") return t("not one of the page's choices");
  return null;  // numbers: the field shows what is wrong with them
}

function check(f, value) {
  if (f.type === "int") return checkInt(value, { max: f.max, optional: f.optional });
  if (f.type === "quantity") return checkQuantity(value);
  if (f.type === "rate") return checkRate(value, { max: f.max, optional: f.optional });
  return null;
}

function control(f, state, meta, update) {
  const id = `w-${f.k}`;
  const value = raw(state, f.k, meta);
  const set = (v) => { state.w[f.k] = v; update(f.k); };
  const help = f.tip ? tip(f.label, f.tip) : null;
  if (f.type === "checkbox") {
    return h("div", { class: "field wide check" }, h("label", {}, h("input", { type: "checkbox", id, checked: value === "1",
      onchange: (e) => set(e.target.checked ? "1" : "0") }), f.label), help);
  }
  let input;
  if (f.type === "select") {
    input = h("select", { id, onchange: (e) => {
      state.w[f.k] = e.target.value;
      if (f.k === "method") update.rebuild(); else update(f.k);
    } }, f.options.map(([v, label]) => h("option", { value: v, selected: v === value }, label)));
  } else {
    input = h("input", { id, type: "text", value, placeholder: f.placeholder || null, spellcheck: "false",
      inputmode: f.type === "int" ? "numeric" : f.type === "rate" ? "decimal" : "text", autocomplete: "off",
      oninput: (e) => { const v = e.target.value.trim(); state.w[f.k] = v; if (mark(e.target, f.label, check(f, v))) set(v); } });
  }
  const el = h("div", { class: `field${f.wide ? " wide" : ""}` }, h("div", { class: "lbl-row" }, h("label", { for: id }, f.label), help), input);
  if (f.type !== "select") mark(input, f.label, check(f, value));  // a bad value from a link is shown, not sent
  return el;
}

export function workloadFields(state, meta, update) {
  for (const f of allFields(meta)) forget(`w-${f.k}`);
  return fields(state.mode, meta, state).map((f) => control(f, state, meta, update));
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
  return { model, gpu: w(s, "gpu", m), seq_len: Number(w(s, "prompt", m)) + Number(w(s, "output", m)),
    batch: Number(w(s, "batch", m)), kv_cache_dtype: w(s, "kv", m), ...longContext(ctx) };
}

// ---- summary strip ---------------------------------------------------------------------------
export function summaryStats(params, section, ctx) {
  const [v, u] = shortCount(params.total_params);
  const out = [stat(t("Parameters"), v, u, params.model, { "data-testid": "sum-params" })];
  if (section) out.push(...memoryStats(section, ctx));
  if (ctx.spec && ctx.spec.moe) {
    const [a, au] = shortCount(params.active_params);
    out.push(stat(t("Active per token"), a, au, t("top-{k} of {n} experts", { k: ctx.spec.moe.top_k, n: ctx.spec.moe.num_experts })));
  }
  return out;
}

export { h };
