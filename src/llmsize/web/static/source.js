// The model source controls: preset search (a combobox), config.json upload, architecture knobs.
import { $, $$, h, replace } from "./ui.js";
import { num, t } from "./i18n.js";

export function setSource(state, src) {
  state.src = src;
  for (const r of $$('input[name="src"]')) r.checked = r.value === src;
  for (const p of $$(".src-panel")) p.hidden = p.dataset.src !== src;
}

const describe = (p) => `${p.params}${p.family ? ` · ${p.family}` : ""}`;

export function syncSource(state) {
  setSource(state, state.src);
  const input = $("#preset-input");
  if (input) input.value = state.m;
  const cur = (state.presets || []).find((p) => p.name === state.m);
  $("#preset-meta").textContent = cur ? `${cur.repo} · ${describe(cur)}` : "";
  if (state.cfg) $("#config-meta").textContent = state.name ? t("config from the link ({name})", { name: state.name }) : t("config from the link");
}

export function initSource(state, presets, update, showError) {
  state.presets = presets;
  for (const r of $$('input[name="src"]')) r.addEventListener("change", () => { setSource(state, r.value); update(); });
  const file = $("#config-file");
  const take = async (f) => {
    if (!f) return;
    if (f.size > 512 * 1024) {
      showError(t("{name} is {kib} KiB; a config.json is a few KB.", { name: f.name, kib: num(Math.round(f.size / 1024)) }));
      return;
    }
    state.cfg = await f.text();
    state.name = f.name === "config.json" ? "" : f.name.replace(/\.json$/, "");
    $("#config-meta").textContent = t("{name} · {n} bytes", { name: f.name, n: num(f.size) });
    setSource(state, "config");
    update();
  };
  file.addEventListener("change", () => take(file.files[0]));
  const drop = $("#drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); take(e.dataTransfer.files[0]); });
}

export function initPresets(state, presets, update) {
  const input = $("#preset-input"), list = $("#preset-list");
  let shown = [], active = -1;
  const filter = () => {
    const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    const exactHit = presets.some((p) => p.name.toLowerCase() === input.value.toLowerCase());
    shown = presets.filter((p) => exactHit || words.every((w) => p.search.includes(w)));
    active = shown.length ? 0 : -1;
    replace(list, shown.length ? shown.map((p, i) => h("li", { role: "option", id: `opt-${i}`,
      "aria-selected": String(i === active), onmousedown: (e) => { e.preventDefault(); choose(p); } },
    h("span", {}, p.name), h("small", {}, describe(p)))) : h("li", { class: "empty", role: "option", "aria-disabled": "true" },
      t("No preset matches; try a family (llama, qwen) or a size (70B)")));
    input.setAttribute("aria-activedescendant", active >= 0 ? `opt-${active}` : "");
  };
  const open = (on) => { list.hidden = !on; input.setAttribute("aria-expanded", String(on)); if (on) filter(); };
  const choose = (p) => {
    state.m = p.name;
    input.value = p.name;
    $("#preset-meta").textContent = `${p.repo} · ${describe(p)}`;
    open(false);
    setSource(state, "preset");
    update();
  };
  const move = (d) => {
    if (!shown.length) return;
    active = (active + d + shown.length) % shown.length;
    $$("li", list).forEach((li, i) => li.setAttribute("aria-selected", String(i === active)));
    input.setAttribute("aria-activedescendant", `opt-${active}`);
    $(`#opt-${active}`)?.scrollIntoView({ block: "nearest" });
  };
  input.addEventListener("focus", () => { input.select(); open(true); });
  input.addEventListener("input", () => open(true));
  input.addEventListener("blur", () => { open(false); input.value = state.m; });
  input.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown") { e.preventDefault(); if (list.hidden) open(true); else move(1); }
    else if (e.key === "ArrowUp") { e.preventDefault(); move(-1); }
    else if (e.key === "Enter" && active >= 0 && !list.hidden) { e.preventDefault(); choose(shown[active]); }
    else if (e.key === "Escape") { open(false); input.value = state.m; }
  });
}
