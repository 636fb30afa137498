// Section renderers: each takes the API's report (the CLI's --json) and draws it. No arithmetic on
// the model here beyond shares of a total for display.
import { barChart } from "./charts.js";
import { big, card, count, exact, explain, h, pct, shortCount, signedPct, swatch, table } from "./ui.js";

export function modelLine(rep) {
  const origin = { preset: "preset", config: "uploaded config.json", knobs: "architecture knobs" }[rep.origin] || rep.origin;
  return `${rep.model} · ${rep.model_type} · ${origin || "model"}`;
}

export function renderParams(rep, ctx) {
  const total = rep.total_params;
  const [v, unit] = shortCount(total);
  const moe = !!(ctx.spec && ctx.spec.moe);
  const vision = rep.vision_params || 0;
  const head = card(null, h("div", { class: "headline" },
    h("div", {}, h("div", { class: "k card-title" }, "Total parameters"), big(v, unit, { "data-testid": "params-total" }),
      h("p", { class: "sub" }, `${exact(total)} parameters, exactly as PyTorch counts them`)),
    moe ? h("div", {}, h("div", { class: "card-title" }, "Active per token"), big(...shortCount(rep.active_params)),
      h("p", { class: "sub" }, `${pct(rep.active_params / total)} of weights (top-k + shared experts)`)) : null,
    vision ? h("div", {}, h("div", { class: "card-title" }, "Vision tower"), big(...shortCount(vision)),
      h("p", { class: "sub" }, `${pct(vision / total)} of weights (image encoder + projector)`)) : null),
  h("p", { class: "sub" }, modelLine(rep)),
  rep.source ? h("p", { class: "src" }, "Config: ", h("a", { href: rep.source.url.split(" via ")[0], rel: "noreferrer" },
    rep.source.repo), rep.source.verbatim ? " (verbatim copy)" : " (assembled)", `, retrieved ${rep.source.retrieved}`) : null,
  rep.buffers ? h("p", { class: "note" }, `Plus ${exact(rep.buffers)} persistent buffer values (not parameters in ` +
    `PyTorch; many published counts include them): ${exact(rep.total_with_buffers)}`) : null,
  ...(rep.notes || []).map((n) => h("p", { class: "note" }, n)));

  const terms = rep.terms;
  const chart = barChart({
    bars: terms.map((t, i) => ({ label: t.name, value: t.params, colour: i,
      text: `${count(t.params)} · ${pct(t.params / total)}` })),
    fmt: count, width: ctx.width, label: `Parameters by part: ${terms.map((t) => `${t.name} ${count(t.params)}`).join(", ")}`,
  });
  const cols = [{ label: "term" }, { label: "parameters", num: true }, { label: "share", num: true }];
  if (ctx.explain) cols.push({ label: "formula" }, { label: "source" });
  const rows = terms.map((t, i) => {
    const r = [h("span", {}, swatch(i), t.name), exact(t.params), pct(t.params / total)];
    if (ctx.explain) r.push(h("span", { class: "formula" }, t.formula), h("span", { class: "src" }, t.source));
    return r;
  });
  const where = card("Where the parameters are", chart, table(cols, rows, { caption: "Parameter terms" }));

  const extra = [];
  if (rep.layer_kinds.length > 1) {
    extra.push(card("Layers by kind", table([{ label: "kind" }, { label: "layers" }, { label: "params each", num: true }],
      rep.layer_kinds.map((k) => [k.kind, ranges(k.layers), exact(k.params)]))));
  }
  extra.push(card("Rules of thumb vs exact", h("p", { class: "sub" }, "What quick formulas elsewhere would say."),
    table([{ label: "rule" }, { label: "parameters", num: true }, { label: "error", num: true }, { label: "source" }],
      rep.approximations.map((a) => [h("span", { class: "formula" }, a.formula), count(a.params), signedPct(a.error),
        h("span", { class: "src" }, a.source)]))));
  if (rep.checkpoint) {
    const ck = rep.checkpoint;
    extra.push(card("Checkpoint", h("p", {}, `${exact(ck.stored_values)} values in ${exact(ck.bytes)} bytes`)));
  }
  const out = [head, ctx.spec ? architecture(ctx.spec) : null, where, h("div", { class: "cols" }, extra)];
  out.push(explain(terms, rep.citations, (t) => exact(t.params), ctx.explain));
  return out;
}

function ranges(ix) {
  const out = [];
  let start = ix[0];
  ix.forEach((a, i) => {
    if (ix[i + 1] !== a + 1) { out.push(start === a ? `${a}` : `${start}–${a}`); start = ix[i + 1]; }
  });
  return out.join(", ");
}

/** The spec's facts as a grid of label/value pairs (what the formulas read). */
export function architecture(sp) {
  const a = sp.attention, m = sp.mlp, e = sp.moe;
  const kind = a.kv_lora_rank ? "MLA" : a.num_kv_heads === 1 ? "MQA" : a.num_kv_heads < a.num_heads ? "GQA" : "MHA";
  const layers = Object.entries(sp.layer_types).map(([k, n]) => `${n} ${k}`).join(" + ");
  const facts = [
    ["Layers", exact(sp.num_layers), layers && Object.keys(sp.layer_types).length > 1 ? layers : ""],
    ["Hidden d", exact(sp.hidden_size), ""],
    ["Attention", `${a.num_heads} heads`, `${kind}${kind !== "MHA" && !a.kv_lora_rank ? `, ${a.num_kv_heads} KV` : ""} · d_h ${a.head_dim}`],
    [e ? "Experts" : "FFN f", e ? `${e.num_experts} × ${exact(e.expert_intermediate_size)}` : exact(m.intermediate_size),
      e ? `top-${e.top_k}${e.shared_intermediate_size ? ` + shared ${exact(e.shared_intermediate_size)}` : ""}` : `${m.kind} · ${m.activation}`],
    ["Vocab V", exact(sp.vocab_size), sp.tie_word_embeddings ? "tied head" : "untied head"],
    ["Context", exact(sp.max_position_embeddings), `${sp.position}${sp.sliding_window ? ` · window ${exact(sp.sliding_window)}` : ""}`],
  ];
  if (sp.dtype) facts.push(["Stored as", sp.dtype, sp.norms.kind]);
  return card("Architecture", h("dl", { class: "facts" }, facts.map(([k, v, sub]) =>
    h("div", {}, h("dt", {}, k), h("dd", {}, v, sub ? h("small", {}, sub) : null)))));
}
