// Section renderers: each takes the API's report (the CLI's --json) and draws it. No arithmetic on
// the model here beyond shares of a total for display.
import { barChart } from "./charts.js";
import { big, card, count, exact, explain, h, pct, shortCount, signedPct, swatch, table, tip } from "./ui.js";
import { t, tr } from "./i18n.js";

export function modelLine(rep) {
  const origin = { preset: t("preset"), config: t("uploaded config.json"), knobs: t("architecture knobs") }[rep.origin] || rep.origin;
  return `${rep.model} · ${rep.model_type} · ${origin || t("model")}`;
}

export function renderParams(rep, ctx) {
  const total = rep.total_params;
  const [v, unit] = shortCount(total);
  const moe = !!(ctx.spec && ctx.spec.moe);
  const vision = rep.vision_params || 0;
  const head = card(null, h("div", { class: "headline" },
    h("div", {}, h("div", { class: "k card-title" }, t("Total parameters")), big(v, unit, { "data-testid": "params-total" }),
      h("p", { class: "sub" }, t("{n} parameters, exactly as PyTorch counts them", { n: exact(total) }))),
    moe ? h("div", {}, h("div", { class: "card-title" }, t("Active per token")), big(...shortCount(rep.active_params)),
      h("p", { class: "sub" }, t("{p} of weights (top-k + shared experts)", { p: pct(rep.active_params / total) }), tip("MoE", t("A mixture of experts routes each token through a few of many feed-forward blocks (top-k): all are stored, only those run.")))) : null,
    vision ? h("div", {}, h("div", { class: "card-title" }, t("Vision tower")), big(...shortCount(vision)),
      h("p", { class: "sub" }, t("{p} of weights (image encoder + projector)", { p: pct(vision / total) }))) : null),
  h("p", { class: "sub" }, modelLine(rep)),
  rep.source ? h("p", { class: "src" }, t("Config: "), h("a", { href: rep.source.url.split(" via ")[0], rel: "noreferrer" },
    rep.source.repo), rep.source.verbatim ? t(" (verbatim copy)") : t(" (assembled)"), t(", retrieved {date}", { date: rep.source.retrieved })) : null,
  rep.buffers ? h("p", { class: "note" }, t("Plus {n} persistent buffer values (not parameters in PyTorch; many published counts include them): {total}", { n: exact(rep.buffers), total: exact(rep.total_with_buffers) })) : null,
  ...(rep.notes || []).map((n) => h("p", { class: "note" }, tr(n))));

  const terms = rep.terms.map((x) => ({ ...x, name: tr(x.name) }));
  const chart = barChart({
    bars: terms.map((t, i) => ({ label: t.name, value: t.params, colour: i,
      text: `${count(t.params)} · ${pct(t.params / total)}` })),
    fmt: count, width: ctx.width, label: t("Parameters by part: ") + `${terms.map((t) => `${t.name} ${count(t.params)}`).join(", ")}`,
  });
  const cols = [{ label: t("term") }, { label: t("parameters"), num: true }, { label: t("share"), num: true }];
  if (ctx.explain) cols.push({ label: t("formula") }, { label: t("source") });
  const rows = terms.map((t, i) => {
    const r = [h("span", {}, swatch(i), t.name), exact(t.params), pct(t.params / total)];
    if (ctx.explain) r.push(h("span", { class: "formula" }, t.formula), h("span", { class: "src" }, t.source));
    return r;
  });
  const where = card(t("Where the parameters are"), chart, table(cols, rows, { caption: t("Parameter terms") }));

  const extra = [];
  if (rep.layer_kinds.length > 1) {
    extra.push(card(t("Layers by kind"), table([{ label: t("kind") }, { label: t("layers") }, { label: t("params each"), num: true }],
      rep.layer_kinds.map((k) => [tr(k.kind), ranges(k.layers), exact(k.params)]))));
  }
  extra.push(card(t("Rules of thumb vs exact"), h("p", { class: "sub" }, t("What quick formulas elsewhere would say.")),
    table([{ label: t("rule") }, { label: t("parameters"), num: true }, { label: t("error"), num: true }, { label: t("source") }],
      rep.approximations.map((a) => [h("span", { class: "formula" }, a.formula), count(a.params), signedPct(a.error),
        h("span", { class: "src" }, a.source)]))));
  if (rep.checkpoint) {
    const ck = rep.checkpoint;
    extra.push(card(t("Checkpoint"), h("p", {}, t("{n} values in {b} bytes", { n: exact(ck.stored_values), b: exact(ck.bytes) }))));
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
    [t("Layers"), exact(sp.num_layers), layers && Object.keys(sp.layer_types).length > 1 ? layers : ""],
    [t("Hidden d"), exact(sp.hidden_size), ""],
    [t("Attention"), t("{n} heads", { n: a.num_heads }), `${kind}${kind !== "MHA" && !a.kv_lora_rank ? `, ${a.num_kv_heads} KV` : ""} · d_h ${a.head_dim}`],
    [e ? t("Experts") : t("FFN f"), e ? `${e.num_experts} × ${exact(e.expert_intermediate_size)}` : exact(m.intermediate_size),
      e ? `top-${e.top_k}${e.shared_intermediate_size ? t(" + shared {n}", { n: exact(e.shared_intermediate_size) }) : ""}` : `${m.kind} · ${m.activation}`],
    [t("Vocab V"), exact(sp.vocab_size), sp.tie_word_embeddings ? t("tied head") : t("untied head")],
    [t("Context"), exact(sp.max_position_embeddings), `${sp.position}${sp.sliding_window ? t(" · window {n}", { n: exact(sp.sliding_window) }) : ""}`],
  ];
  if (sp.dtype) facts.push([t("Stored as"), sp.dtype, sp.norms.kind]);
  const gqa = tip("GQA", t("Grouped-query attention: several query heads share one key/value head, so the KV cache shrinks by heads ÷ KV heads. MQA shares one; MLA stores a compressed latent."));
  return card(t("Architecture"), h("dl", { class: "facts" }, facts.map(([k, v, sub], i) =>
    h("div", {}, h("dt", {}, k, i === 2 ? gqa : null), h("dd", {}, v, sub ? h("small", {}, sub) : null)))));
}
