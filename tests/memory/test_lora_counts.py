"""LoRA trainable parameters equal peft's: the 128 presets of tests/data/lora_counts.json (peft 0.21.2,
get_peft_model under FakeTensorMode) and every LoRA case of the measured truth."""
from __future__ import annotations

import json

import pytest

from llmsize.errors import LlmsizeError
from llmsize.load import load
from llmsize.memory import LoRA, Workload
from llmsize.memory.weights import weights
from llmsize.validate import read_cases
from tests.conftest import DATA

COUNTS = json.loads((DATA / "lora_counts.json").read_text())["models"]
ROWS = [(name, key, c) for name, m in COUNTS.items() for key, c in m.items()
        if key in ("qv_r16", "all_linear_r64")]


@pytest.mark.parametrize("name, key, c", ROWS, ids=[f"{n}-{k}" for n, k, _ in ROWS])
def test_trainable_equals_peft(name, key, c):
    spec = load(name).spec
    tm = c["target_modules"]
    lora = LoRA(r=c["r"], alpha=c.get("lora_alpha", 2 * c["r"]),
                target_modules=("all-linear",) if tm == "all-linear" else tuple(tm))
    wl = Workload(mode="train", lora=lora)
    if c.get("trainable_params") is None:  # peft: NoMatchingPeftModuleError
        with pytest.raises(LlmsizeError, match="LoRA target"):
            weights(spec, wl)
        return
    assert weights(spec, wl).trainable == c["trainable_params"]


@pytest.mark.parametrize("f", ["calib.jsonl", "truth_extra.jsonl"])
def test_truth_lora_cases(f):
    import json as _j
    rows = {r["id"]: r for r in map(_j.loads, (DATA / f).read_text().splitlines()) if "measured" in r}
    n = 0
    for case in read_cases(DATA / f):
        if case.workload.lora is None:
            continue
        from llmsize.adapters.hf_config import spec_from_config
        spec = spec_from_config(dict(case.config), case.model)
        assert weights(spec, case.workload).trainable == rows[case.id]["measured"]["trainable_params"], case.id
        n += 1
    assert n >= 5


@pytest.mark.parametrize("model, leaf", [("gpt2", "c_attn"), ("bloom", "query_key_value"),
                                         ("pythia-160m", "query_key_value"), ("Phi-3-mini-4k-instruct", "qkv_proj"),
                                         ("Llama-3.1-8B", "q_proj,v_proj")])
def test_default_targets_are_the_familys_query_and_value_or_its_fused_projection(model, leaf):
    """`--lora-r` alone: q and v where the family has them apart, else its fused qkv projection, peft's own
    default for those model types (GPT-2 used to be refused: 'unknown LoRA target q_proj')."""
    from llmsize.memory.report import train_workload

    wl = train_workload(lora_r=8, spec=load(model).spec)
    assert ",".join(wl.lora.target_modules) == leaf
