// The quantization section: one row per weight format from `llmsize quant --json`.
import { barChart } from "./charts.js";
import { big, bytes, bytesParts, card, exact, h, table } from "./ui.js";

export function renderQuant(rep, ctx) {
  const best = rep.rows.find((r) => r.format === rep.best);
  const cap = rep.gpu_bytes;
  const head = card(null, h("div", { class: "headline" },
    h("div", {}, h("div", { class: "card-title" }, rep.gpu ? `Best format that fits ${rep.gpu}` : "Weight formats"),
      best ? big(best.format, "", { "data-testid": "quant-best" }) : big("Nothing fits", "", { "data-testid": "quant-best" }),
      h("p", { class: "sub" }, best ? `${best.label}: ${bytes(best.total_bytes)} at ${exact(rep.context)} tokens × ${rep.batch}`
        + (cap ? ` of ${bytes(cap)} usable` : "")
        : "Try a shorter context, a quantized KV cache or a bigger GPU.")),
    best && best.decode_tokens_per_s ? h("div", {}, h("div", { class: "card-title" }, "Decode bound"),
      big(Math.round(best.decode_tokens_per_s).toLocaleString("en-US"), "tok/s"),
      h("p", { class: "sub" }, "memory bandwidth ÷ bytes read per token")) : null));

  const chart = barChart({
    bars: rep.rows.map((r) => ({ label: r.format, value: r.total_bytes, tone: r.fits === false ? "bad" : r.fits ? "good" : undefined,
      text: `${bytes(r.total_bytes)}${r.fits === false ? " ✗" : r.fits ? " ✓" : ""}` })),
    fmt: (v) => bytes(v), width: ctx.width, cap: cap ? { value: cap, label: `${rep.gpu} ${bytes(cap)}` } : null,
    label: `Memory by weight format${cap ? ` against ${bytes(cap)} usable on ${rep.gpu}` : ""}: ` +
      rep.rows.map((r) => `${r.format} ${bytes(r.total_bytes)}${r.fits === false ? " does not fit" : ""}`).join("; "),
  });
  const cols = [{ label: "format" }, { label: "weights", num: true }, { label: "bits/weight", num: true },
    { label: "total", num: true }];
  if (rep.gpu) cols.push({ label: "fits" }, { label: "max context", num: true }, { label: "decode ≤ tok/s", num: true });
  cols.push({ label: "Δ perplexity", num: true });
  const rows = rep.rows.map((r) => {
    const row = [h("span", { title: r.label }, h("strong", {}, r.format)),
      bytes(r.weight_bytes), r.bits_per_weight.toFixed(2), bytes(r.total_bytes)];
    if (rep.gpu) {
      row.push(h("span", { class: `verdict ${r.fits ? "fits" : "nofit"}` }, r.fits ? "fits" : "no"),
        r.max_context == null ? "—" : exact(r.max_context),
        r.decode_tokens_per_s == null ? "—" : Math.round(r.decode_tokens_per_s).toLocaleString("en-US"));
    }
    row.push(r.quality ? h("span", { title: `${r.quality.metric} @ ${r.quality.reference} (${r.quality.source})` },
      `${r.quality.value >= 0 ? "+" : ""}${r.quality.value.toFixed(4)}`) : "—");
    return row;
  });
  const kv = rep.rows[0] ? bytesParts(rep.rows[0].kv_bytes).join(" ") : "";
  return [head,
    card("Memory by weight format", h("p", { class: "sub" },
      `Weights in each format plus the ${rep.kv_dtype} KV cache (${kv}) at ${exact(rep.context)} tokens × ${rep.batch}` +
      (cap ? `; the dashed line is ${rep.gpu}'s usable memory.` : ".")), chart),
    card("Formats", h("p", { class: "sub" }, "Hover a format for its full name; Δ perplexity is the published increase over 16-bit where one is cited."), table(cols, rows, { caption: "Weight formats", rowClass: (i) => (rep.rows[i].format === rep.best ? "chosen" : null) }),
      ...(rep.notes || []).map((n) => h("p", { class: "note" }, n)),
      rep.skipped && rep.skipped.length ? h("p", { class: "src" }, "Skipped: ",
        rep.skipped.map((s) => `${s.format} (${s.why})`).join("; ")) : null),
  ];
}
