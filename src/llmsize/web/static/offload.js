// llama.cpp partial offload, as `llmsize fit MODEL --gpu GPU --find ngl` answers it (POST /api/v1/ngl): how
// many layers llama.cpp can keep on the GPU (-ngl), the GPU and host bytes by llama.cpp buffer, and the
// decode/prefill speed with the host layers timed from the host's memory bandwidth. Shown in the Memory tab
// for inference with the llama.cpp runtime or a GGUF format. Nothing is computed here: the API answers.
import { big, bytes, card, exact, h, table } from "./ui.js";
import { num, t } from "./i18n.js";
import { longContext, w } from "./sections2.js";

const GGUF = /^(I?Q\d\w*|BF16|F16|F32)$/;  // the page's llama.cpp presets (Q4_K_M, IQ4_XS, ...)
const FLOAT = { bf16: "BF16", fp16: "F16", fp32: "F32" };
const KV = { fp32: "f32", fp16: "f16", bf16: "bf16", q8_0: "q8_0", q4_0: "q4_0", q4_1: "q4_1", q5_0: "q5_0", q5_1: "q5_1", iq4_nl: "iq4_nl" };
export const DEFAULT_HOST = "DDR5-5600-2ch";
let hosts = null;  // GET /api/v1/hosts, once

/** Whether the Memory tab asks the llama.cpp question: inference with llama.cpp or GGUF weights. */
export function offloadWanted(ctx) {
  const s = ctx.state, m = ctx.meta;
  return s.mode === "infer" && (w(s, "runtime", m) === "llamacpp" || GGUF.test(w(s, "weights", m)));
}

/** The request `llmsize fit --find ngl` would get, or the reason llama.cpp cannot take these inputs. */
export function nglBody(ctx) {
  const s = ctx.state, m = ctx.meta, weights = w(s, "weights", m), kv = w(s, "kv", m);
  if (!GGUF.test(weights) && !FLOAT[weights]) return { why: t("llama.cpp runs GGUF weights: pick a Q… format (e.g. Q4_K_M) or bf16 to see how many layers fit.") };
  if (!KV[kv]) return { why: t("llama.cpp has no {kv} KV cache: pick fp16/bf16 or a q8_0/q4_0 cache to see how many layers fit.", { kv }) };
  return { model: ctx.modelRef, gpu: w(s, "gpu", m), weights: FLOAT[weights] || weights, kv_cache_dtype: KV[kv],
    seq_len: Number(w(s, "prompt", m)) + Number(w(s, "output", m)), batch: Number(w(s, "batch", m)),
    host: s.w.host || DEFAULT_HOST, ...longContext(ctx) };
}

export function offloadCard(ctx) {
  const el = h("section", { class: "card", "data-testid": "offload" }, h("h3", {}, t("llama.cpp: layers on the GPU (-ngl)")),
    h("p", { class: "sub" }, t("Loading…")));
  draw(el, ctx);
  return el;
}

const KIND = () => ({ "partial offload": t("partial offload"), "all on the GPU": t("all on the GPU"), "nothing fits the GPU": t("nothing fits the GPU") });

function hostPicker(ctx, chosen) {
  const set = (e) => { ctx.state.w.host = e.target.value; ctx.update("host"); };
  const opts = (hosts || []).filter((x) => !x.unified).map((x) => h("option", { value: x.name, selected: x.name === chosen },
    `${x.name} · ${num(x.bandwidth_bytes_per_s / 1e9)} GB/s`));
  return h("div", { class: "field" }, h("label", { for: "ngl-host" }, t("Host memory (CPU)")),
    h("select", { id: "ngl-host", onchange: set }, opts));
}

async function draw(el, ctx) {
  const title = h("h3", {}, t("llama.cpp: layers on the GPU (-ngl)"));
  const body = nglBody(ctx);
  if (body.why) { el.replaceChildren(title, h("p", { class: "sub" }, body.why)); return; }
  try {
    if (!hosts) hosts = (await ctx.api("/hosts")).hosts;
    const rep = await ctx.api("/ngl", body);
    el.replaceChildren(title, ...render(rep, ctx, body));
  } catch (e) {
    el.replaceChildren(title, hosts ? hostPicker(ctx, body.host) : null, h("p", { class: "error", role: "alert" }, e.message));
  }
}

function render(rep, ctx, body) {
  const s = rep.split, all = rep.all_on_gpu;
  const head = h("div", { class: "headline" },
    h("div", {}, h("div", { class: "card-title" }, t("-ngl for {gpu}", { gpu: rep.gpu })),
      big(exact(rep.ngl), t("of {n} layers", { n: rep.layers }), { "data-testid": "ngl" }),
      h("p", { class: "sub" }, h("strong", { "data-testid": "ngl-kind" }, KIND()[rep.verdict] || rep.verdict))),
    h("div", {}, h("div", { class: "card-title" }, t("Decode")), big(num(s.decode_tokens_per_s, 1), "tok/s", { "data-testid": "ngl-decode" }),
      h("p", { class: "sub" }, t("prefill {n} tok/s", { n: num(Math.round(s.prefill_tokens_per_s)) }))),
    hostPicker(ctx, rep.host));
  const rows = [[t("model weights"), bytes(s.gpu_model), bytes(s.host_model)], [t("KV cache"), bytes(s.gpu_kv), bytes(s.host_kv)],
    [t("compute buffers"), bytes(s.gpu_compute), bytes(s.host_compute)], [t("output buffer"), "—", bytes(s.output_buffer)],
    [h("strong", {}, t("total")), h("strong", { "data-testid": "ngl-gpu-total" }, bytes(s.gpu_total)), h("strong", { "data-testid": "ngl-host-total" }, bytes(s.host_total))]];
  const split = table([{ label: t("llama.cpp buffer") }, { label: t("GPU"), num: true }, { label: t("host"), num: true }], rows,
    { caption: t("GPU and host bytes at -ngl {n}", { n: rep.ngl }) });
  return [head,
    h("p", { class: "sub" }, t("{n} of {layers} layers (the output layer counts as one) on {gpu}: {used} of the {budget} llama.cpp may use ({margin} kept free); the rest runs on the CPU from {host} memory.",
      { n: rep.ngl, layers: rep.layers, gpu: rep.gpu, used: bytes(s.gpu_total), budget: bytes(s.gpu_budget), margin: bytes(rep.fit_margin_bytes), host: rep.host })),
    split,
    rep.ngl < rep.layers ? h("p", { class: "sub" }, t("All layers on the GPU would need {bytes} and decode at {n} tok/s.", { bytes: bytes(all.gpu_total), n: num(all.decode_tokens_per_s, 1) })) : null,
    h("p", { class: "src" }, t("As `llmsize fit --find ngl`: {weights} weights, {kv} KV cache, {ctx} tokens × {slots} slots.",
      { weights: rep.weights, kv: rep.kv_type, ctx: exact(body.seq_len), slots: exact(body.batch) }))];
}
