"""Quantization: exact byte layouts of weight formats, llama.cpp's per-tensor preset rules,
KV-cache dtypes, QLoRA memory and the quantization planner.

    weight_plan(spec, "Q4_K_M" | "nf4-dq" | "gptq-int4-g128" | "fp8" | ...) -> WeightPlan (exact bytes per tensor)
    plan_quant(spec, gpu="H100", context=8192) -> QuantReport (one row per format, best that fits first)
    kv_bytes_per_element("q8_0") -> Fraction(17, 16)
    qlora_memory(spec, rank=64) -> QLoraMemory
"""
from llmsize.quant.formats import Format, get_format, list_formats, weight_plan
from llmsize.quant.kv import kv_bytes_per_element, kv_cache_bytes, kv_row_bytes
from llmsize.quant.planner import plan_quant
from llmsize.quant.qlora import qlora_memory
from llmsize.quant.weights import TensorQuant, WeightPlan

__all__ = ["Format", "TensorQuant", "WeightPlan", "get_format", "kv_bytes_per_element", "kv_cache_bytes",
           "kv_row_bytes", "list_formats", "plan_quant", "qlora_memory", "weight_plan"]
