"""Published quality costs of weight formats, each with its source, and the quality floor below which
`quant` warns. Only figures read from the cited source are listed; a format without one shows none
rather than a guess."""
from __future__ import annotations

from dataclasses import dataclass

from llmsize.errors import LlmsizeError
from llmsize.quant.weights import WeightPlan
from llmsize.sources import SOURCES


@dataclass(frozen=True, slots=True, kw_only=True)
class Quality:
    """A published quality cost: `value` of `metric` measured on `reference`."""

    metric: str
    value: float
    reference: str
    source: str

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise LlmsizeError(f"quality figure: unknown source key {self.source!r}")

    def text(self) -> str:
        return f"{self.value:+.4f} {self.metric} @ {self.reference}"


_PPL = "ppl"
_REF = "Llama-3-8B"
# llama.cpp tools/quantize/quantize.cpp QUANT_OPTIONS: perplexity increase over the 16-bit model, Llama-3-8B
_LLAMA_CPP = {"Q4_0": 0.4685, "Q4_1": 0.4511, "Q5_0": 0.1316, "Q5_1": 0.1062, "Q8_0": 0.0026, "Q2_K": 3.5199,
              "Q2_K_S": 3.1836, "Q3_K_S": 1.6321, "Q3_K_M": 0.6569, "Q3_K_L": 0.5562, "Q4_K_S": 0.2689,
              "Q4_K_M": 0.1754, "Q5_K_S": 0.1049, "Q5_K_M": 0.0569, "Q6_K": 0.0217}
# Qwen's quantization benchmark, Qwen2-7B-Instruct: average of MMLU, C-Eval, IFEval; BF16 66.9,
# GPTQ-Int8 66.2, GPTQ-Int4 64.1, AWQ (4-bit) 64.1 -> accuracy points lost against BF16.
_QWEN2_7B = {"gptq-int8-g128": 66.2 - 66.9, "gptq-int4-g128": 64.1 - 66.9, "awq-int4-g128": 64.1 - 66.9}
QUALITY: dict[str, Quality] = {
    **{k: Quality(metric=_PPL, value=v, reference=_REF, source="llama-quantize-help") for k, v in _LLAMA_CPP.items()},
    **{k: Quality(metric="acc", value=round(v, 1), reference="Qwen2-7B-Instruct", source="qwen-quant-bench")
       for k, v in _QWEN2_7B.items()},
}


def quality(fmt_key: str) -> Quality | None:
    """The cited quality cost of a format key, or None where none is published here."""
    return QUALITY.get(fmt_key)


@dataclass(frozen=True, slots=True, kw_only=True)
class Floor:
    """The fewest bits per weight of the decoder layers' matrices (scales included, see body_bits) below which a format's quality loss is large for a
    model of `params` parameters: `quant` recommends nothing below it without a warning."""

    params: int
    min_bits_per_weight: float
    reason: str
    source: str

    def as_dict(self) -> dict[str, object]:
        return dict(params=self.params, min_bits_per_weight=self.min_bits_per_weight, reason=self.reason,
                    source=self.source)


SMALL_MODEL = 3_000_000_000  # parameters


def body_bits(plan: WeightPlan) -> float:
    """Bits per weight of the decoder layers' matrices (scales included), which the floor judges: the
    embedding and head often stay 16-bit and would hide a 4-bit body in a small model's average.

    b_body = 8 · Σ bytes / Σ params over layer tensors of rank >= 2

    Source: qwen-quant-bench"""
    body = [t for t in plan.tensors if t.layer is not None and len(t.shape) >= 2 and t.params]
    if not body:
        return float(plan.bits_per_weight)
    return 8 * sum(t.bytes for t in body) / sum(t.params for t in body)


def quality_floor(params: int) -> Floor:
    """The quality floor for a model of `params` parameters.

    floor(N) = 6 bits/weight if N < 3e9, else 4 bits/weight

    Small models lose far more to 4-bit weights than large ones: Qwen2 GPTQ-Int4 costs 4.7 accuracy
    points at 0.5B and 3.4 at 1.5B but 0.1 at 72B, while Int8 costs 0.3-1.8 at any size; on LLaMA3,
    4-bit stays close to 16-bit, 3-bit degrades clearly and 2-bit collapses, 70B degrading less than 8B.
    Source: qwen-quant-bench"""
    # ASSUMES: one floor per side of 3B parameters (total parameters, MoE experts included); the
    #          sources measure 0.5-72B dense models, so the split is where their losses diverge.
    if params < SMALL_MODEL:
        return Floor(params=params, min_bits_per_weight=6.0, source="qwen-quant-bench",
                     reason="models under 3B parameters lose several accuracy points at 4 bits; keep 6-8 bits")
    return Floor(params=params, min_bits_per_weight=4.0, source="llama3-lowbit",
                 reason="below 4 bits per weight quality degrades clearly (3-bit) or collapses (2-bit)")
