"""Published quality costs of weight formats, each with its source. Only figures read from the cited
source are listed; a format without one shows none rather than a guess."""
from __future__ import annotations

from dataclasses import dataclass

from llmsize.sources import SOURCES


@dataclass(frozen=True, slots=True, kw_only=True)
class Quality:
    """A published quality cost: `value` of `metric` measured on `reference`."""

    metric: str
    value: float
    reference: str
    source: str

    def __post_init__(self) -> None:
        assert self.source in SOURCES, self.source

    def text(self) -> str:
        return f"{self.value:+.4f} {self.metric} @ {self.reference}"


_PPL = "ppl"
_REF = "Llama-3-8B"
# llama.cpp tools/quantize/quantize.cpp QUANT_OPTIONS: perplexity increase over the 16-bit model, Llama-3-8B
_LLAMA_CPP = {"Q4_0": 0.4685, "Q4_1": 0.4511, "Q5_0": 0.1316, "Q5_1": 0.1062, "Q8_0": 0.0026, "Q2_K": 3.5199,
              "Q2_K_S": 3.1836, "Q3_K_S": 1.6321, "Q3_K_M": 0.6569, "Q3_K_L": 0.5562, "Q4_K_S": 0.2689,
              "Q4_K_M": 0.1754, "Q5_K_S": 0.1049, "Q5_K_M": 0.0569, "Q6_K": 0.0217}
QUALITY: dict[str, Quality] = {k: Quality(metric=_PPL, value=v, reference=_REF, source="llama-quantize-help")
                               for k, v in _LLAMA_CPP.items()}


def quality(fmt_key: str) -> Quality | None:
    """The cited quality cost of a format key (GGUF preset names), or None where none is published here."""
    return QUALITY.get(fmt_key)
