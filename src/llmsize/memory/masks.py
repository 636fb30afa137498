"""Attention masks the model builds once per forward (transformers masking_utils).

Source: hf-masks
"""
from __future__ import annotations

from dataclasses import replace

from llmsize.memory.blocks import Cx
from llmsize.memory.regions import layer_mask
from llmsize.spec import ModelSpec


def mask_bytes(spec: ModelSpec, cx: Cx) -> int:
    """Masks the model builds once per forward and keeps to the end of the body: eager: a float
    b x 1 x q x kv (compute dtype) per layer type; SDPA with a reached sliding window: a bool 1 x 1 x q x kv.

    Source: hf-masks"""
    types = {(spec.layer_type(i) == "sliding") for i in range(spec.num_layers)}
    n = 0
    for sl in types:
        lcx = replace(cx, sliding=sl) if sl != cx.sliding else cx
        if not layer_mask(lcx):
            continue
        if spec.traits.layer_code == "mpt":  # the float mask converted .to(torch.bool)
            n += cx.b * cx.q * cx.kv
            continue
        rows = cx.b if spec.traits.chunked_mask and sl else 1  # Llama 4 chunks per row (left padding)
        n += cx.b * cx.q * cx.kv * cx.c if cx.attn == "eager" else rows * cx.q * cx.kv
    return n
