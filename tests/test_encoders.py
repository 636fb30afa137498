"""Encoders (bert, roberta, modernbert) and t5: parameters equal PyTorch's count of the class with a
training loss, per layer; the encoders' memory replay holds the error reached on measured truth
(scripts/gen_encoder_truth.py, transformers 5.23.0, torch 2.13.0, peft 0.21.2); the commands refuse what
an encoder does not do (generate, a KV cache) with one line and exit 2 (T5's memory: tests/test_t5.py).
Reached when written: forward 0.000%, train max 0.308% (BERT at batch 1 with attention dropout: the SDPA
math path at batch 1), LoRA train max 0.140%; ModernBERT max 0.011%."""
from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict

import pytest

from llmsize.errors import LlmsizeError
from llmsize.families import read
from llmsize.memory import estimate
from llmsize.memory.workload import Workload
from llmsize.params import count
from llmsize.validate import validate
from tests.conftest import DATA

COUNTS = json.loads((DATA / "param_counts_encoders.json").read_text())
BAR = {"forward": 1e-6, "train": 0.0032, "lora train": 0.0015}  # per mode, every encoder type


@pytest.mark.parametrize("name", sorted(COUNTS["models"]))
def test_masked_lm_class_equals_pytorch_per_layer(name):
    m = COUNTS["models"][name]
    pc = count(read(m["config"], name))
    assert pc.total == m["params"], (m["class"], pc.total, m["params"])
    per_layer = [n for stack in m["layer_params"].values() for n in stack]  # encoder, then decoder (T5)
    per = {i: k.params for k in pc.layer_kinds for i in k.layers}
    assert [per[i] for i in range(len(per_layer))] == per_layer


def test_bert_base_masked_lm_count():
    """bert-base-uncased as BertForMaskedLM: 109,514,298 parameters (decoder tied to the word embeddings)."""
    cfg = dict(model_type="bert", hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
               intermediate_size=3072, vocab_size=30522, max_position_embeddings=512, type_vocab_size=2)
    assert count(read(cfg, "bert-base")).total == 109_514_298


def errors_by_mode(name: str) -> tuple[list, dict, dict[str, list[float]]]:
    """validate() on tests/data/NAME: every case predicted, parameters equal to the measured ones; the
    |errors| per mode."""
    results, summ = validate(DATA / name)
    rows = {r["id"]: r for r in map(json.loads, (DATA / name).read_text().splitlines())}
    assert len(results) == len(rows) and all(r.error is None for r in results)
    by = defaultdict(list)
    for r in results:
        assert r.predicted_params == rows[r.case.id]["measured"]["params"], r.case.id
        by[r.case.mode].append(abs(r.rel_error))
    return results, summ, by


def test_encoder_truth_within_its_bar_per_mode():
    results, summ, by = errors_by_mode("truth_encoders.jsonl")
    assert len(results) >= 30
    assert {r.case.config["model_type"] for r in results} == {"bert", "roberta", "modernbert"}
    assert set(by) == set(BAR)
    for mode, errs in by.items():
        assert max(errs) <= BAR[mode], (mode, max(errs))
        assert summ[mode]["median"] <= 0.0002, (mode, summ[mode])


def _spec(mt="bert", **kw):
    return read(dict(model_type=mt, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=128, vocab_size=100, **kw), "enc")


def test_encoders_do_not_generate():
    with pytest.raises(LlmsizeError, match="encoder.*does not generate"):
        estimate(_spec(), Workload(mode="generate", batch=1, seq_len=16, new_tokens=4))


def test_roberta_positions_after_the_padding_offset():
    s = _spec("roberta", max_position_embeddings=514, pad_token_id=1)
    assert (s.max_position_embeddings, s.position_offset) == (512, 2)  # table of 514 rows, 512 usable
    with pytest.raises(LlmsizeError, match="padding offset"):
        _spec("roberta", max_position_embeddings=2, pad_token_id=1)


def test_causal_bert_configs_are_refused():
    with pytest.raises(LlmsizeError, match="llmsize trace"):
        _spec(is_decoder=True)


def _cli(tmp_path, *args):
    d = tmp_path / "rob"
    d.mkdir(exist_ok=True)
    (d / "config.json").write_text(json.dumps(dict(
        model_type="roberta", hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128,
        vocab_size=100, max_position_embeddings=514, pad_token_id=1, type_vocab_size=1)))
    return subprocess.run([sys.executable, "-c", "from llmsize.cli import main; main()", args[0], str(d),
                           *args[1:]], capture_output=True, text=True, timeout=120)


def test_infer_on_an_encoder_is_its_forward_pass(tmp_path):
    r = _cli(tmp_path, "infer", "--batch", "2", "--context", "512", "--json")
    assert r.returncode == 0, r.stderr
    o = json.loads(r.stdout)
    assert o["workload"]["mode"] == "forward" if "workload" in o else o["peak_phase"] == "forward"
    assert "kv_cache" not in {t["category"] for t in o["terms"]}


@pytest.mark.parametrize("args, msg", [(("--new-tokens", "8"), "does not generate"),
                                       (("--kv-dtype", "fp8"), "does not generate"),
                                       (("--context", "513"), "learned position table of 512")])
def test_infer_refusals_are_one_line_exit_2(tmp_path, args, msg):
    r = _cli(tmp_path, "infer", *args)
    assert r.returncode == 2 and msg in r.stderr and "Traceback" not in r.stderr, r.stderr


T5_ROWS = [json.loads(x) for x in (DATA / "truth_t5.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("case", ["small-t5-v1_1/train/bf16-adamw/b2-s256", "small-t5/generate/bf16/b2-s256-n16",
                                  "small-modernbert/forward/bf16/b2-s256"])
def test_trace_builds_seq2seq_and_masked_lm_classes_byte_equal_to_truth(case):
    """`llmsize trace` runs T5ForConditionalGeneration and ModernBertForMaskedLM (fake-tensor build without
    ModernBERT's value-reading initialiser) exactly as scripts/gen_encoder_truth.py measured them."""
    pytest.importorskip("transformers", reason="the trace extra (torch + transformers) is not installed")
    from llmsize.trace import trace

    rows = T5_ROWS + [json.loads(x) for x in (DATA / "truth_encoders.jsonl").read_text().splitlines()]
    row = next(r for r in rows if r["id"] == case)
    w = row["workload"]
    res = trace(row["config"], Workload(mode=w["mode"], batch=w["batch"], seq_len=w["seq_len"],
                                        new_tokens=w["new_tokens"]))
    assert (res.peak_bytes, res.params) == (row["measured"]["peak_bytes"], row["measured"]["params"])
