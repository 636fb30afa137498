// The guide: how to use the calculator, the questions people ask (each answered with llmsize's own
// numbers for the current model), and the references. Numbers come from the API: /train (a full
// mixed-precision AdamW step), /infer (the KV cache at the current context), /quant (INT8 and INT4).
import { bytes, card, exact, h, replace, table } from "./ui.js";
import { num, t, tr } from "./i18n.js";
import { w } from "./sections2.js";

/** The full-training step the first answer explains: bf16 autocast, AdamW, batch 1, 2,048 tokens. */
export const guideBody = (model) => ({ model, precision: "bf16-mixed", optimizer: "adamw", batch: 1, seq_len: 2048, grad_checkpointing: true });

const STEPS = () => [
  t("Pick a model: search the presets, upload its config.json, or describe it with knobs (layers, hidden size, heads)."),
  t("Choose the workload: inference (weight format, KV cache, prompt and output tokens, concurrent sequences) or training (full, LoRA or QLoRA)."),
  t("Choose the GPU and the most GPUs you can use."),
  t("Read the verdict at the top: it is the same on every tab, and the same as the command line's."),
  t("Open a tab for detail: parameters, memory, quantization, GPU planning, cost, or a design for a budget."),
  t("Share the calculation: Copy link keeps every input; Back and Forward step through what you tried."),
];

const REFS = [
  ["Quentin Anthony, Stella Biderman, Hailey Schoelkopf (EleutherAI, 2023). Transformer Math 101.", "https://blog.eleuther.ai/transformer-math/"],
  ["kipply (Carol Chen, 2022). LLM Parameter Counting.", "https://kipp.ly/transformer-param-count/"],
  ["kipply (Carol Chen, 2022). Transformer Inference Arithmetic.", "https://kipp.ly/transformer-inference-arithmetic/"],
  ["Rajbhandari et al. (2020). ZeRO: Memory Optimizations Toward Training Trillion Parameter Models.", "https://arxiv.org/abs/1910.02054"],
  ["Dettmers et al. (2023). QLoRA: Efficient Finetuning of Quantized LLMs.", "https://arxiv.org/abs/2305.14314"],
];

function qa(q, ...a) {
  return h("details", { class: "faq" }, h("summary", {}, q), h("div", {}, ...a));
}

/** Bytes per parameter of each persistent term of a training step (a share of the total, for display). */
function perParam(rep, params) {
  return rep.terms.filter((x) => ["master_weights", "weights", "gradients", "optimizer"].includes(x.category) && x.bytes > 1024)
    .map((x) => [tr(x.name), bytes(x.bytes), num(x.bytes / params, 1)]);
}

export function renderGuide(rep, ctx) {
  const P = ctx.params.total_params, model = ctx.params.model;
  const rows = perParam(rep, P);
  const persistent = rep.terms.filter((x) => ["master_weights", "weights", "gradients", "optimizer"].includes(x.category))
    .reduce((a, x) => a + x.bytes, 0);
  const kv = h("div", { "data-testid": "faq-kv" }, h("p", {}, t("Loading…")));
  const q = h("div", { "data-testid": "faq-quant" }, h("p", {}, t("Loading…")));
  fill(kv, q, ctx);
  return [
    card(t("What llmsize answers"), h("p", {}, t("How many parameters a transformer language model has, how much GPU memory it needs to run or to train, which weight format and how many GPUs it takes, how fast it goes and what it costs: from the model's config.json, before you rent or buy anything. Every number comes from a named formula with its source, and the command line gives the same numbers.")),
      h("ol", { class: "steps", "data-testid": "howto" }, STEPS().map((s) => h("li", {}, s)))),
    card(t("Questions"),
      qa(t("Why does training need 16 to 20 bytes per parameter?"),
        h("p", {}, t("Mixed-precision training with Adam keeps, for every parameter, an fp32 master weight (4 bytes), its gradient (4 bytes, or 2 in bf16) and Adam's two moments (8 bytes): 16 bytes before activations, temporaries and fragmentation, which bring it towards 20.")),
        h("p", {}, t("For {model} ({n} parameters), llmsize counts, for one step of 2,048 tokens:", { model, n: exact(P) })),
        table([{ label: t("term") }, { label: t("bytes"), num: true }, { label: t("bytes per parameter"), num: true }], rows,
          { caption: t("Training memory per parameter") }),
        h("p", { "data-testid": "faq-train" }, t("Together {b}: {per} bytes per parameter; the whole step peaks at {peak}.",
          { b: bytes(persistent), per: num(persistent / P, 1), peak: bytes(rep.peak_bytes) }))),
      qa(t("What is the KV cache?"), h("p", {}, t("When a model writes, each new token attends to every earlier one. Rather than recompute the keys and values of those tokens at every step, it keeps them: that store is the KV cache. It grows with layers × KV heads × head size × tokens × sequences, so long contexts and many users fill a GPU even when the weights fit.")), kv),
      qa(t("What do INT8 and INT4 mean?"), h("p", {}, t("Quantized weights: each weight stored in 8 or about 4 bits with a scale per group, instead of 16. The model needs about half or a quarter of the memory and reads less per token, so it decodes faster, at a small cost in quality (the Quantization tab shows the published perplexity increase where there is one).")), q),
      qa(t("Why do the rules of thumb differ from llmsize?"), h("p", {}, t("Quick formulas (2 bytes per parameter to serve, 16 to train) leave out the KV cache, activations, the CUDA context and the allocator's reserve, or count terms a LoRA run does not have. llmsize shows them beside its own estimate, with their error, where they apply.")))),
    card(t("References"), h("ul", { class: "refs" }, REFS.map(([text, url]) => h("li", {}, text, " ", h("a", { href: url, rel: "noreferrer" }, url))))),
  ];
}

async function fill(kvEl, qEl, ctx) {
  const s = ctx.state, m = ctx.meta;
  const context = Number(w(s, "prompt", m)) || 8192, batch = Number(w(s, "batch", m)) || 1;
  try {
    const rep = await ctx.api("/infer", { model: ctx.modelRef, seq_len: context, new_tokens: 0, batch, weights: "bf16", kv_cache_dtype: "bf16" });
    const kvTerm = rep.terms.find((x) => /KV cache/i.test(x.name));
    replace(kvEl, h("p", {}, kvTerm ? t("For {model} at {tokens} tokens × {batch} sequences in bf16, llmsize counts a KV cache of {kv}, beside {w} of weights.",
      { model: ctx.params.model, tokens: exact(context), batch: exact(batch), kv: bytes(kvTerm.bytes),
        w: bytes(rep.terms.filter((x) => x.name.startsWith("weights")).reduce((a, x) => a + x.bytes, 0)) }) : t("This model keeps no KV cache.")));
  } catch (e) { replace(kvEl, h("p", { class: "error" }, e.message)); }
  try {
    const rep = await ctx.api("/quant", { model: ctx.modelRef, formats: ["bf16", "int8", "gptq-int4-g128"], seq_len: context, batch });
    replace(qEl, table([{ label: t("format") }, { label: t("weights"), num: true }, { label: t("bits/weight"), num: true }],
      rep.rows.map((r) => [r.format, bytes(r.weight_bytes), num(r.bits_per_weight, 2)]), { caption: t("Weights of {model} by format", { model: ctx.params.model }) }));
  } catch (e) { replace(qEl, h("p", { class: "error" }, e.message)); }
}
