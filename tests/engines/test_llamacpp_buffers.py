"""llmsize's llama.cpp view against llama.cpp itself: the buffers real llama.cpp (ggml-org/llama.cpp@0c1e57098,
CPU backend) allocated for zero-filled GGUFs of five architectures and four quant types over a grid of
n_ctx / n_batch / n_ubatch / flash attention / KV types / slots / unified KV / mmap / repack, recorded by
scripts/llamacpp/measure.py in tests/data/llamacpp_buffers.jsonl. Model and KV buffers must match to the
byte, the compute buffer within 5% (the accuracy reached is asserted, so a regression fails)."""
from __future__ import annotations

import json
import statistics
from functools import cache
from pathlib import Path

import pytest

from llmsize.catalog.presets import find_preset
from llmsize.engines.llamacpp import LlamaParams, contexts, kv_bytes, model_buffers, weights_from_preset
from llmsize.engines.llamacpp_compute import compute_buffer
from llmsize.load import load_preset
from script_render import load_script

ROWS = [json.loads(x) for x in (Path(__file__).parents[1] / "data" / "llamacpp_buffers.jsonl").read_text().splitlines()]


CONFIGS = Path(__file__).parents[1] / "data" / "llamacpp_models"
MOE_MLA = {"tiny-qwen3moe", "tiny-deepseek2"}  # small MoE and MLA shapes written from config files


@cache
def _spec(name: str):
    from llmsize.load import load

    cfg = CONFIGS / f"{name}.json"
    return load(str(cfg)).spec if cfg.exists() else load_preset(find_preset(name)).spec


@cache
def _weights(name: str, ftype: str):
    return weights_from_preset(_spec(name), ftype)


def _params(c: dict) -> LlamaParams:
    return LlamaParams(n_ctx=c["n_ctx"], n_batch=c["n_batch"], n_ubatch=c["n_ubatch"], n_seq_max=c["n_seq_max"],
                       kv_unified=bool(c["kv_unified"]), flash_attn=bool(c["fa"]), type_k=c["type_k"],
                       type_v=c["type_v"], swa_full=bool(c["swa_full"]), mmap=bool(c["mmap"]),
                       repack=bool(c["extra_bufts"]), cpu_isa="avx512")


def test_the_table_covers_what_the_issue_asks():
    assert len(ROWS) == 224
    assert {r["model"] for r in ROWS} == {"SmolLM2-135M", "gpt2", "Qwen2.5-0.5B", "Qwen3-0.6B", "gemma-3-1b-pt",
                                          "Llama-3.2-1B"} | MOE_MLA
    assert {r["ftype"] for r in ROWS} == {"F16", "Q8_0", "Q4_0", "Q4_K_M"}
    assert {r["version"]["llama_cpp"] for r in ROWS} == {"ggml-org/llama.cpp@0c1e57098"}
    cfg = [r["config"] for r in ROWS]
    assert {c["fa"] for c in cfg} == {0, 1} and {c["n_seq_max"] for c in cfg} == {1, 2, 4}
    assert {c["kv_unified"] for c in cfg} == {0, 1} and {c["type_k"] for c in cfg} >= {"f16", "q8_0", "bf16"}
    # MLA: llama.cpp refuses -ctk q8_0 with -ctv f16 ("model does not support different K and V cache types");
    # those two runs are absent, and llmsize refuses the same
    assert not any(r["model"] == "tiny-deepseek2" and r["config"]["type_k"] != r["config"]["type_v"] for r in ROWS)
    from llmsize.errors import LlmsizeError

    with pytest.raises(LlmsizeError, match="must be the same type"):
        kv_bytes(_spec("tiny-deepseek2"), LlamaParams(flash_attn=True, type_k="q8_0", type_v="f16"))


@pytest.mark.parametrize("r", ROWS, ids=lambda r: f"{r['model']}-{r['ftype']}")
def test_model_kv_and_context_exact(r):
    spec, p = _spec(r["model"]), _params(r["config"])
    got_model = {k: v["model"] for k, v in r["buffers"].items() if v["model"]}
    assert model_buffers(_weights(r["model"], r["ftype"]), spec.num_layers, p).buffers == got_model
    assert kv_bytes(spec, p) == sum(v["context"] for v in r["buffers"].values())
    c = contexts(spec, p)
    assert (c.n_ctx, c.n_ctx_seq, c.n_batch, c.n_ubatch) == (r["n_ctx"], r["n_ctx_seq"], r["n_batch"], r["n_ubatch"])


def _errors(models) -> list[float]:
    return [compute_buffer(_spec(r["model"]), _params(r["config"])).total /
            sum(v["compute"] for v in r["buffers"].values()) - 1 for r in ROWS if r["model"] in models]


def test_compute_buffer_within_five_percent():
    errs = _errors({r["model"] for r in ROWS} - MOE_MLA)
    worst = max(errs, key=abs)
    assert abs(worst) < 0.042, worst  # reached: 4.15% (SmolLM2, FA, 2 slots)
    assert statistics.mean(abs(e) for e in errs) < 0.011  # reached: 1.06%


def test_moe_and_mla_compute_buffers_as_reached():
    """MoE (qwen3moe) and absorbed MLA + shared experts (deepseek2): within 5% in every run. qwen3moe: the
    expert down outputs [d, k, T] in the FFN phase and the freed [n_ff_exp, k, T] expert block under the next
    layer's KQ. deepseek2: its flash-attention and small-cache runs peak at the logits, placed above the last
    layer's expert-sum block (the shared expert keeps ffn_norm alive, so that block lands above the expert
    stack); the one run off by more than 0.1% (+4.35%, fa 1, -c 8192, q8_0 KV) has ffn_inp placed above the
    stack rather than below it, one [d, T] f32 less under the logits."""
    moe, mla = _errors({"tiny-qwen3moe"}), _errors({"tiny-deepseek2"})
    assert max(map(abs, moe)) < 0.0003  # reached: 0.02%
    assert statistics.mean(map(abs, moe)) < 0.0002  # reached: 0.01%
    assert max(map(abs, mla)) < 0.044 and sum(abs(e) < 0.001 for e in mla) == 26  # of 28; reached: 4.35%
    assert statistics.mean(map(abs, mla)) < 0.0033  # reached: 0.32%


def test_docs_table_is_current():
    root = Path(__file__).parents[2]
    mod = load_script("scripts/gen_engines_doc.py")
    assert mod.table() in (root / "docs" / "engines.md").read_text(), "run scripts/gen_engines_doc.py"
