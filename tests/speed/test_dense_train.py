"""Dense training structure (issue #11): TP collectives overlapped with their GEMMs (Megatron's
--tp-comm-overlap, torchtitan's async TP), the output layer's extra work on the last pipeline stage, and
the published weak-scaling tables that show them (Narayanan et al. 2021 Table 1 on A100, the Megatron-LM
README's H100 table, torchtitan's benchmark files, MT-NLG), each family asserted at the accuracy reached."""
from __future__ import annotations

import json
import statistics

import pytest

from llmsize.catalog.hardware import get_gpu
from llmsize.errors import LlmsizeError
from llmsize.load import load
from llmsize.speedmodel.train import head_s_per_token, train
from llmsize.validate_speed import parse_case, predict_case
from tests.conftest import DATA

ROWS = [json.loads(x) for x in (DATA / "speed_calib.jsonl").read_text().splitlines() if x.strip()]
H100 = get_gpu("H100-SXM")
L70 = load("Llama-3.1-70B").spec


def _errors(prefix: str) -> list[float]:
    rows = [r for r in ROWS if r["id"].startswith(prefix)]
    return [predict_case(parse_case(r, n, r["id"])).predicted / r["measured"]["value"] - 1
            for n, r in enumerate(rows, 1)]


# (rows, median |error| <, max |error| <): the accuracy reached with the table fitted over every family
@pytest.mark.parametrize("prefix, n, median, worst", [
    ("narayanan2021-a100-gpt-", 10, 0.035, 0.105),  # worst: 1T (PP 64) -10.1% (76B +8.2% on 1F1B)
    ("megatron-readme-h100-gpt-", 9, 0.03, 0.09),  # worst: 119B (PP 4, interleaved unsaid) +8.7%
    # worst: 8B with CP 2 at 64K -20.7%; the async-TP 70B +23% (torchtitan's async TP gained 5.7%, less
    # than hiding every TP collective gives); its FP8 8B rows +6-8% since the refit of 2026-12-06 (2.6% median
    # before, 6.0% now: docs/speed.md, unsaid pipeline schedules)
    ("torchtitan-h100-llama31-", 17, 0.062, 0.235),
    # MT-NLG 530B on 2,240-3,360 A100 (DeepSpeed + Megatron): +22%, +22%, +25% with the DeepSpeed group's
    # median set by BLOOM-176B's two rows, which reach 126 against MT-NLG's 150 hardware TFLOP/s
    # per A100 (docs/speed.md); every MT-NLG row is held out or fitted by the split, not chosen
    ("mtnlg-530b-a100-", 3, 0.22, 0.26),
    # 700 W H200 against the 500 W Grand Teton H100s the torchtitan group is fitted on: -17%
    ("torchtitan-h200-llama31-", 2, 0.17, 0.18),
])
def test_published_dense_tables(prefix, n, median, worst):
    e = _errors(prefix)
    assert len(e) == n
    assert statistics.median(abs(x) for x in e) < median and max(abs(x) for x in e) < worst, e


def _rate(**kw) -> float:
    base = dict(engine="megatron", precision="bf16-mixed", seq=4096, tp=8, pp=1, micro_batch=1, dp=1)
    return train(L70, H100, **{**base, **kw}).tokens_per_s_per_gpu


def test_tp_overlap_hides_tp_collectives_and_never_slows():
    plain, over = _rate(), _rate(tp_overlap=True)
    assert over > plain
    # with the collectives hidden the rate is the compute-only one (TP traffic shorter than the layer)
    assert over == pytest.approx(_rate(tp=1) * 1.0, rel=1e-9) or over <= _rate(tp=1)
    assert _rate(tp=1, tp_overlap=True) == _rate(tp=1)  # nothing to hide without TP


def test_last_stage_output_layer_costs_every_other_stage_its_time():
    """Zero-bubble pipelines at p stages differ from p = 1 by (p - 1) × the output layer's time per token
    plus the stage sends: the head's share is visible and grows with the stages."""
    t = head_s_per_token(L70, H100.peak_flops("bf16"))
    assert t == pytest.approx(6 * L70.vocab_size * L70.hidden_size / H100.peak_flops("bf16"))
    assert head_s_per_token(L70, 1.0, "full") == 8 * L70.vocab_size * L70.hidden_size
    one = _rate(tp=1, schedule="zero-bubble")
    rates = [_rate(tp=1, pp=p, schedule="zero-bubble", micro_batches=64) for p in (2, 4, 8)]
    assert one > rates[0] > rates[1] > rates[2]
    # the head is ~1.5% of a 70B's matmul work: 8 stages cost ~7 × that
    assert 0.06 < 1 - rates[2] / one < 0.15


def test_tp_overlap_must_be_a_boolean():
    row = next(r for r in ROWS if r["id"] == "megatron-readme-h100-gpt-70b-n768")
    bad = json.loads(json.dumps(row))
    bad["workload"]["layout"]["tp_overlap"] = "yes"
    with pytest.raises(LlmsizeError, match="layout.tp_overlap must be true, false or null"):
        predict_case(parse_case(bad, 1, bad["id"]))
    off = json.loads(json.dumps(row))
    off["workload"]["layout"]["tp_overlap"] = None
    assert predict_case(parse_case(off, 1, "x")).predicted < predict_case(parse_case(row, 1, "y")).predicted
