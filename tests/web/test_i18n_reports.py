"""The Spanish page translates what the library's reports say: every memory term name, note, phase, rule of
thumb, quantization format label, planner rejection reason and cost note that the API emits for a
representative set of models and workloads has a Spanish rendering in es.json's "@report" catalog (exact
strings, or patterns whose captured parts - layer numbers, dtypes, sizes - are kept). The API stays English
(it is the CLI's --json); i18n.js applies the same catalog when it renders a report string, the Design
tab's what-if texts and every error detail (422) the page can cause."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from llmsize.web import page

STATIC = Path(page.__file__).parent / "static"
CAT = json.loads((STATIC / "es.json").read_text(encoding="utf-8"))["@report"]
HOLE = re.compile(r"\{(\d+)(?:\|([tn]))?\}")  # {1} kept as is, {1|t} translated too, {1|n} in Spanish number style

L8 = {"preset": "Llama-3.1-8B"}
MOE = {"preset": "Mixtral-8x7B-v0.1"}
VLM = {"preset": "gemma-3-4b-pt"}
SMALL = {"preset": "Qwen2.5-0.5B"}
MLA = {"preset": "DeepSeek-V3"}
GPUS = ["A10G", "H100-SXM", "RTX-4090", "T4"]


def es_number(v: str) -> str:
    """en-US separators to es-ES ones, as i18n.js does for a captured number: 5,624.5 -> 5.624,5."""
    return v.translate(str.maketrans(",.", ".,"))


def tr(s: str) -> str | None:
    """What i18n.js's tr() shows for a report string, or None when the catalog has no rendering."""
    if s in CAT["exact"]:
        return CAT["exact"][s]
    for pat, es in CAT["patterns"]:
        m = re.fullmatch(pat, s)
        if not m:
            continue
        out, last = [], 0
        for g in HOLE.finditer(es):
            v = m.group(int(g.group(1)))
            v = tr(v) if g.group(2) == "t" else es_number(v) if g.group(2) == "n" else v
            if v is None:
                return None
            out += [es[last:g.start()], v]
            last = g.end()
        return "".join(out) + es[last:]
    if "; " in s:  # a planner reason lists its problems joined by "; "
        parts = [tr(p) for p in s.split("; ")]
        return None if None in parts else "; ".join(parts)
    return None


def translated_parts(strings) -> set[str]:
    """The captured parts that patterns translate themselves ({n|t}) in `strings`."""
    out = set()
    for s in strings:
        for pat, es in CAT["patterns"]:
            m = re.fullmatch(pat, s)
            if m:
                out |= {m.group(int(g.group(1))) for g in HOLE.finditer(es) if g.group(2) == "t"}
                break
    return out


def memory_strings(rep: dict) -> set[str]:
    out = set()
    for terms in (rep.get("terms"), (rep.get("device") or {}).get("terms"), (rep.get("peak") or {}).get("terms")):
        out |= {x["name"] for x in terms or []}
    out |= set(rep.get("notes") or []) | set((rep.get("device") or {}).get("notes") or [])
    out |= {x["rule"] for x in rep.get("rules_of_thumb") or []}
    out |= set(rep.get("phases") or {}) | {p for p in [rep.get("peak_phase"), (rep.get("peak") or {}).get("phase")] if p}
    return out


def quant_strings(rep: dict) -> set[str]:
    out = set(rep.get("notes") or []) | {s["why"] for s in rep.get("skipped") or []}
    for r in rep.get("rows") or []:
        out |= {r["label"], *(r.get("notes") or [])}
    return out


def plan_strings(rep: dict) -> set[str]:
    out = set(rep["rejected"].get("counts") or {})
    out |= {e["reason"] for ex in (rep["rejected"].get("examples") or {}).values() for e in ex}
    return out | ({rep["note"]} if rep.get("note") else set())


def cost_strings(rep: dict) -> set[str]:
    return {s for s in [rep.get("note"), *(r.get("note") for r in rep["rows"])] if s}


def design_strings(rep: dict) -> set[str]:
    missing_setup = {n.removeprefix("training setup (planner): ") for c in rep["candidates"] for n in c.get("notes") or []
                     if n.startswith("training setup (planner): ")}  # the training card's "No training setup: ..."
    return set(rep.get("notes") or []) | ({rep["budget"]["note"]} if rep["budget"].get("note") else set()) | missing_setup


def params_strings(rep: dict) -> set[str]:
    return {x["name"] for x in rep["terms"]} | set(rep.get("notes") or []) | {k["kind"] for k in rep.get("layer_kinds") or []}


def whatif_strings(rep: dict) -> set[str]:
    """What the Design tab's what-if card shows: the description, each variant's label, the notes."""
    return {s for s in [rep.get("description"), *(v["label"] for v in rep.get("variants") or []),
                        *(rep.get("notes") or [])] if s}


K = {"hidden": 4096, "layers": 32, "heads": 32, "vocab": 32000}
CFG = '{"model_type": "llama", "hidden_size": 4096, "num_hidden_layers": 2, "num_attention_heads": 2, "vocab_size": 10'
# requests the page can send that the API refuses (422): an inconsistent model from the knobs or an
# uploaded config.json, a budget the Design tab cannot shape, a what-if that does not apply; the page
# shows each detail, rendered by the same catalog, so each needs a Spanish rendering too
ERROR_CASES = [
    ("params", {"model": {"knobs": {**K, "heads": 3}}}),
    ("params", {"model": {"knobs": {**K, "kv_heads": 3}}}),
    ("params", {"model": {"knobs": {**K, "experts": 8, "top_k": 9}}}),
    ("params", {"model": {"knobs": {**K, "top_k": 2}}}),
    ("params", {"model": {"config_text": '{"a": 1,}'}}),
    ("params", {"model": {"config_text": "", "config_name": "mine.json"}}),
    ("params", {"model": {"config_text": '{"a": 1} x'}}),
    ("params", {"model": {"config_text": '{"a" 1}'}}),
    ("params", {"model": {"config_text": '{"a": 1 "b": 2}'}}),
    ("params", {"model": {"config_text": "[1, 2]"}}),
    ("params", {"model": {"config_text": '{"model_type": "zzz"}'}}),
    ("params", {"model": {"config_text": "{}"}}),
    ("params", {"model": {"config_text": '{"model_type": "llama"}'}}),
    ("params", {"model": {"config_text": CFG.replace("4096", "-1") + "}"}}),
    ("quant", {"model": {"knobs": {**K, "hidden": 100, "heads": 4}}, "context": 1024, "formats": ["gptq-int4-g128"]}),
    ("design", {"params": "999999T"}),
    ("design", {"params": "0.001"}),
    ("design", {"compute": "1"}),
    ("design", {"gpu_hours": "100000", "setting": {"gpu": "T4", "context": 8704, "batch": 1}}),
    ("whatif", {"what": "shape", "model": MOE}),
    ("whatif", {"what": "moe", "model": {"preset": "Qwen3-30B-A3B"}}),
    ("params", {"model": {"knobs": {**K, "hidden": 0}}}),
    ("params", {"model": {"knobs": {**K, "layers": 99999}}}),
]


DESIGN_SETTING = {"gpu": "A10G", "context": 8704, "batch": 1}
CASES = [
    *[("design", {kind: amount, "law": law, "setting": DESIGN_SETTING}, design_strings)
      for kind, amount in [("params", "7B"), ("compute", "1e23"), ("gpu_hours", "100000")]
      for law in ["chinchilla", "approach3", "besiroglu", "kaplan"]],
    ("design", {"gpu_hours": "100000", "tokens": "1T", "setting": DESIGN_SETTING}, design_strings),
    ("design", {"params": "7B", "setting": {**DESIGN_SETTING, "gpu": "T4"}}, design_strings),
    ("design", {"params": "70B", "setting": {**DESIGN_SETTING, "gpu": "RTX-4090"}}, design_strings),
    ("params", {"model": L8}, params_strings),
    ("params", {"model": MOE}, params_strings),
    ("params", {"model": MLA}, params_strings),
    ("params", {"model": VLM}, params_strings),
    ("params", {"model": {"preset": "gpt-oss-20b"}}, params_strings),
    *[("infer", {"model": m, "gpu": g, "context": c, "batch": b, "runtime": rt, "dtype": dt, "kv_dtype": kv}, memory_strings)
      for m in (L8, MOE, MLA) for g, c, b, rt, dt, kv in [
          ("A10G", 8192, 1, "torch", "bf16", "bf16"), ("H100-SXM", 30720, 8, "vllm", "bf16", "fp8"),
          ("RTX-4090", 4096, 1, "llamacpp", "fp16", "fp16"), ("T4", 2048, 4, "torch", "fp32", "fp32")]],
    ("infer", {"model": L8, "batch": 2, "context": 1024}, memory_strings),
    ("train", {"model": MLA, "gpu": "H100-SXM", "amp": "bf16"}, memory_strings),
    *[("train", {"model": m, "gpu": g, **extra}, memory_strings) for m in (L8, MOE) for g, extra in [
        ("A10G", {"lora_r": 16, "dtype": "bf16"}), ("H100-SXM", {"amp": "bf16", "optimizer": "adamw"}),
        ("H100-SXM", {"amp": "bf16", "optimizer": "adamw", "grad_checkpointing": True}),
        ("T4", {"dtype": "fp32", "optimizer": "sgd", "batch": 2, "seq_len": 512})]],
    ("train", {"model": L8, "amp": "bf16", "optimizer": "adamw-8bit", "lora_r": 8, "gpu": "RTX-4090"}, memory_strings),
    *[("quant", {"model": m, "qlora": True, "rank": 16, **x}, memory_strings) for m in (L8, MOE)
      for x in [{}, {"context": 2048, "batch": 2}]],
    *[("quant", {"model": m, "gpu": g, "context": 4096, "kv_cache": kv, "formats": fm}, quant_strings)
      for m in (L8, MOE, MLA) for g, kv, fm in [("T4", "bf16", None), ("RTX-4090", "q8_0", None), ("H100-SXM", "fp8", None)]],
    ("quant", {"model": L8, "context": 2048}, quant_strings),
    ("quant", {"model": VLM, "gpu": "T4", "context": 2048, "formats": ["Q4_K_M", "Q8_0", "mxfp4", "nf4", "bf16"]}, quant_strings),
    ("quant", {"model": {"preset": "gpt-oss-20b"}, "gpu": "RTX-4090", "context": 4096}, quant_strings),
    ("quant", {"model": SMALL, "context": 2048, "formats": ["Q4_K_M", "Q6_K", "IQ2_XXS"]}, quant_strings),
    *[("plan", {"model": m, "job": job, "top": 60, "max_gpus": n}, plan_strings) for m, job, n in [
        (SMALL, {"mode": "serve"}, 8), (SMALL, {"mode": "train", "seq": 4095}, 16),
        (L8, {"mode": "train", "tokens": 1e12, "max_days": 1}, 8), (L8, {"mode": "serve", "target_tps": 1e6}, 8),
        (L8, {"mode": "train", "tokens": 1e13}, 64),  # no time bound: the cheapest takes years, the note says so
        (VLM, {"mode": "serve"}, 8), (L8, {"mode": "serve", "batch": "max"}, 8)]],
    # an engine with no build for a GPU's vendor: its setups rejected as "engine"
    ("plan", {"model": L8, "job": {"mode": "serve", "engine": "trt-llm"}, "gpu": ["MI300X", "TPU-v5p", "H100-SXM"],
              "top": 60, "max_gpus": 8}, plan_strings),
    *[("plan", {"model": m, "job": job, "top": 60, "max_gpus": n}, plan_strings) for m in (L8, MOE, MLA) for job, n in [
        ({"mode": "serve"}, 8), ({"mode": "serve", "prompt": 30720, "output": 1024, "concurrency": 64, "weights": "fp8", "kv_dtype": "fp8"}, 8),
        ({"mode": "serve", "weights": "awq-int4"}, 1), ({"mode": "train", "tokens": 1e11}, 64), ({"mode": "train", "tokens": 1e12, "max_days": 1}, 8),
        ({"mode": "train", "micro_batch": 4, "seq": 8192, "recompute": False}, 16)]],
    *[("cost", {"model": m, "job": job, "counts": [1, 8]}, cost_strings) for m in (L8, MLA)
      for job in [{"mode": "serve"}, {"mode": "train", "tokens": 1e11}]],
    *[("whatif", {"what": w, "model": m, "setting": DESIGN_SETTING}, whatif_strings)
      for w in ("attention", "vocab", "quant", "sparse24") for m in (L8, MOE, MLA, {"preset": "gpt-oss-20b"}, {"preset": "gpt2"})],
    *[("whatif", {"what": w, "model": m, "setting": DESIGN_SETTING}, whatif_strings)
      for w in ("shape", "moe") for m in (L8, {"preset": "gpt2"}, SMALL)],
]


@pytest.fixture(scope="module")
def emitted(client):
    from llmsize.web import budget

    with pytest.MonkeyPatch.context() as mp:  # what the reports say, not how fast a shared machine says it
        mp.setattr(budget, "BUDGET_S", 120.0)
        return _emitted(client)


def _emitted(client) -> dict[str, str]:
    seen: dict[str, str] = {}
    for path, body, pick in CASES:
        r = client.post(f"/api/v1/{path}", json=body)
        assert r.status_code == 200, (path, body, r.text[:300])
        for s in pick(r.json()):
            seen.setdefault(s, f"{path} {json.dumps(body)}")
    for f in client.get("/api/v1/meta").json()["options"]["formats"]:  # the form's weight formats
        seen.setdefault(f["label"], "meta formats")
    for path, body in ERROR_CASES:
        r = client.post(f"/api/v1/{path}", json=body)
        assert r.status_code == 422, (path, body, r.text[:300])
        seen.setdefault(r.json()["detail"], f"{path} {json.dumps(body)} (422)")
    return seen


def test_every_report_string_the_api_emits_has_a_spanish_rendering(emitted):
    assert len(emitted) > 150, len(emitted)
    missing = {s: where for s, where in emitted.items() if tr(s) is None}
    assert not missing, "report strings without a Spanish rendering in es.json @report:\n" + "\n".join(
        f"  {s!r}  (from {w})" for s, w in sorted(missing.items()))


def test_the_catalog_is_spanish_and_keeps_the_captured_parts(emitted):
    for en, es in CAT["exact"].items():
        assert es and (es != en or len(en) <= 12 or en in CAT.get("same", [])), en
    for pat, es in CAT["patterns"]:
        re.compile(pat)
        assert pat.startswith("^") and pat.endswith("$"), pat  # i18n.js anchors nothing itself
        assert {int(g.group(1)) for g in HOLE.finditer(es)} == set(range(1, re.compile(pat).groups + 1)), (pat, es)
    examples = {"working set: layer 31": "conjunto de trabajo: capa 31", "weights (bf16)": "pesos (bf16)",
                "KV cache (q8_0)": "caché KV (q8_0)"}
    for en, es in examples.items():
        assert tr(en) == es, (en, tr(en))
    # every catalog entry is used by what the API says (whole, as a "; " part, or as a pattern's {n|t} part),
    # so none is stale
    used = set(emitted) | {part for s in emitted for part in s.split("; ")} | translated_parts(emitted)
    stale = [k for k in CAT["exact"] if k not in used and k not in CAT.get("page", [])]
    assert not stale, stale


def test_a_new_report_string_is_caught():
    assert tr("a brand new memory term") is None
    assert tr("working set: layer 7") is not None and tr("working set: layer seven") is None
