// The quantization section: one row per weight format from `llmsize quant --json`.
import { barChart } from "./charts.js";
import { big, bytes, bytesParts, card, exact, h, table } from "./ui.js";
import { num, t, tr } from "./i18n.js";
import { fitView, verdict } from "./memory.js";
import { w } from "./sections2.js";

export function renderQuant(rep, ctx) {
  const best = rep.rows.find((r) => r.format === rep.best);
  const cap = rep.gpu_bytes;
  // the row of the user's own format carries the one verdict (the Memory estimate the summary shows)
  const mine = w(ctx.state, "weights", ctx.meta);
  const you = ctx.memory && ctx.state.mode !== "train" ? fitView(ctx.memory) : null;
  const rows0 = rep.rows.map((r) => (r.format === mine && you && you.fits != null ? { ...r, total_bytes: you.total, fits: you.fits, yours: true } : r));
  rep = { ...rep, rows: rows0 };
  const head = card(null, h("div", { class: "headline" },
    h("div", {}, h("div", { class: "card-title" }, rep.gpu ? t("Best format that fits {gpu}", { gpu: rep.gpu }) : t("Weight formats")),
      best ? big(best.format, "", { "data-testid": "quant-best" }) : big(t("Nothing fits"), "", { "data-testid": "quant-best" }),
      h("p", { class: "sub" }, best ? t("{label}: {total} at {tokens} tokens × {batch}", { label: tr(best.label), total: bytes(best.total_bytes), tokens: exact(rep.context), batch: rep.batch })
        + (cap ? t(" of {cap} usable", { cap: bytes(cap) }) : "")
        : t("Try a shorter context, a quantized KV cache or a bigger GPU."))),
    you ? h("div", {}, h("div", { class: "card-title" }, t("Your format, {f}", { f: mine })), verdict(you, "quant-verdict", true),
      h("p", { class: "sub" }, t("{total}, as the Memory tab and the summary say", { total: bytes(you.total) }))) : null,
    best && best.decode_tokens_per_s ? h("div", {}, h("div", { class: "card-title" }, t("Decode bound")),
      big(num(Math.round(best.decode_tokens_per_s)), "tok/s"),
      h("p", { class: "sub" }, t("memory bandwidth ÷ bytes read per token"))) : null));

  const chart = barChart({
    bars: rep.rows.map((r) => ({ label: r.format, value: r.total_bytes, tone: r.fits === false ? "bad" : r.fits ? "good" : undefined,
      text: `${bytes(r.total_bytes)}${r.fits === false ? " ✗" : r.fits ? " ✓" : ""}` })),
    fmt: (v) => bytes(v), width: ctx.width, cap: cap ? { value: cap, label: `${rep.gpu} ${bytes(cap)}` } : null,
    label: t("Memory by weight format") + (cap ? t(" against {cap} usable on {gpu}", { cap: bytes(cap), gpu: rep.gpu }) : "") + ": " +
      rep.rows.map((r) => `${r.format} ${bytes(r.total_bytes)}${r.fits === false ? t(" does not fit") : ""}`).join("; "),
  });
  const cols = [{ label: t("format") }, { label: t("weights"), num: true }, { label: t("bits/weight"), num: true },
    { label: t("total"), num: true }];
  if (rep.gpu) cols.push({ label: t("fits") }, { label: t("max context"), num: true }, { label: t("decode ≤ tok/s"), num: true });
  cols.push({ label: t("Δ perplexity"), num: true });
  const rows = rep.rows.map((r) => {
    const row = [h("span", { title: tr(r.label) }, h("strong", {}, r.format), r.yours ? h("small", {}, t(" (yours)")) : null),
      bytes(r.weight_bytes), num(r.bits_per_weight, 2), bytes(r.total_bytes)];
    if (rep.gpu) {
      row.push(h("span", { class: `verdict ${r.fits ? "fits" : "nofit"}` }, r.fits ? t("✓ fits") : t("✗ no")),
        r.max_context == null ? "—" : exact(r.max_context),
        r.decode_tokens_per_s == null ? "—" : num(Math.round(r.decode_tokens_per_s)));
    }
    row.push(r.quality ? h("span", { title: `${r.quality.metric} @ ${r.quality.reference} (${r.quality.source})` },
      `${r.quality.value >= 0 ? "+" : ""}${num(r.quality.value, 4)}`) : "—");
    return row;
  });
  const kv = rep.rows[0] ? bytesParts(rep.rows[0].kv_bytes).join(" ") : "";
  return [head,
    card(t("Memory by weight format"), h("p", { class: "sub" },
      t("Weights in each format plus the {kv} KV cache ({bytes}) at {tokens} tokens × {batch}", { kv: rep.kv_dtype, bytes: kv, tokens: exact(rep.context), batch: rep.batch }) +
      (cap ? t("; the dashed line is {gpu}'s usable memory.", { gpu: rep.gpu }) : ".") +
      (you ? t(" Your format's row shows the Memory estimate for your runtime ({total}), the same answer as every tab.", { total: bytes(you.total) }) : "")), chart),
    card(t("Formats"), h("p", { class: "sub" }, t("Hover a format for its full name; Δ perplexity is the published increase over 16-bit where one is cited.")), table(cols, rows, { caption: t("Weight formats"), rowClass: (i) => (rep.rows[i].format === rep.best ? "chosen" : null) }),
      ...(rep.notes || []).map((n) => h("p", { class: "note" }, tr(n))),
      rep.skipped && rep.skipped.length ? h("p", { class: "src" }, t("Skipped: "),
        rep.skipped.map((s) => `${s.format} (${tr(s.why)})`).join("; ")) : null),
  ];
}
