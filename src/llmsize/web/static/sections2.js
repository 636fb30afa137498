// Sections that need a workload (memory, quantization, planning, cost, design), the summary strip,
// and the workload/hardware inputs. Filled in as each library part lands.
import { h, shortCount, stat } from "./ui.js";

export const SECTIONS = {};

export function summaryStats(params, section, ctx) {
  const [v, u] = shortCount(params.total_params);
  const out = [stat("Parameters", v, u, params.model, { "data-testid": "sum-params" })];
  if (params.active_params !== params.total_params) {
    const [a, au] = shortCount(params.active_params);
    out.push(stat("Active per token", a, au, "mixture of experts"));
  }
  return out;
}

export function workloadFields(state, meta, update) {
  return [h("p", { class: "hint field wide" }, "Memory, speed and cost inputs appear here as those parts of llmsize land.")];
}

export function hardwareFields(state, meta, update) {
  return [];
}
