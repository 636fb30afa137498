// A small, offline API reference built from /openapi.json, with a "try it" box per endpoint.
import { h, replace } from "./ui.js";

function resolveRef(spec, schema) {
  return schema && schema.$ref ? spec.components.schemas[schema.$ref.split("/").pop()] : schema;
}

function example(spec, schema, depth = 0) {
  schema = resolveRef(spec, schema);
  if (!schema || depth > 4) return null;
  if (schema.examples) return schema.examples[0];
  if (schema.enum) return schema.enum[0];
  if (schema.default !== undefined) return schema.default;
  if (schema.anyOf) return example(spec, schema.anyOf.find((x) => x.type !== "null"), depth + 1);
  if (schema.type === "object" || schema.properties) {
    const out = {};
    for (const k of schema.required || []) out[k] = example(spec, schema.properties[k], depth + 1);
    return out;
  }
  return schema.type === "integer" ? 1 : schema.type === "string" ? "" : null;
}

const EXAMPLES = { model: { preset: "Llama-3.1-8B" } };
const EXTRA = { "/api/v1/infer/sweep": { contexts: [1024, 8192], batches: [1, 8] },
  "/api/v1/train/sweep": { contexts: [1024, 4096], batches: [1, 2] }, "/api/v1/design": { params: "7B" },
  "/api/v1/scaling": { compute: "5.76e23" }, "/api/v1/export": { model_name: "meta-llama/Llama-3.1-8B" },
  "/api/v1/compare": { models: [{ model: { preset: "Llama-3.1-8B" } }, { design: "8B" }] },
  "/api/v1/fit": { gpu: "H100" }, "/api/v1/speed": { gpu: "H100" }, "/api/v1/whatif": { what: "attention" } };

async function main() {
  const spec = await (await fetch("/openapi.json")).json();
  const cards = [];
  for (const [path, ops] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const body = op.requestBody?.content?.["application/json"]?.schema;
      let ex = body ? example(spec, body) : null;
      if (ex && "model" in ex) ex = { ...ex, ...EXAMPLES };
      if (ex && EXTRA[path]) ex = { ...ex, ...EXTRA[path] };
      const out = h("pre", { class: "docs-out", "aria-live": "polite" });
      const area = body ? h("textarea", { rows: 6, "aria-label": `Request body for ${path}`, spellcheck: "false" },
        JSON.stringify(ex, null, 2)) : null;
      const q = (op.parameters || []).map((p) => p.name).join(", ");
      const go = async () => {
        const res = await fetch(path, body ? { method: "POST", headers: { "content-type": "application/json" },
          body: area.value } : {});
        out.textContent = `${res.status}\n${JSON.stringify(await res.json(), null, 2).slice(0, 20000)}`;
      };
      cards.push(h("section", { class: "card" },
        h("h2", { class: "endpoint" }, h("span", { class: `method ${method}` }, method.toUpperCase()), " ", h("code", {}, path)),
        h("p", {}, op.summary || ""), q ? h("p", { class: "sub" }, `Query: ${q}`) : null, area,
        h("button", { type: "button", class: "ghost", onclick: go }, "Try it"), out));
    }
  }
  replace(document.getElementById("endpoints"), cards);
}
main();
