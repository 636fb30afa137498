"""llama.cpp's layer split over several GPUs (engines.llamacpp_split): the layer -> GPU rule as llama.cpp computes
it in float32, one GPU equal to `offload.buffers_at`, and the GPUs together holding the one-GPU model and KV."""
from __future__ import annotations

import bisect
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmsize.catalog.presets import find_preset
from llmsize.engines.llamacpp import weights_from_preset
from llmsize.engines.llamacpp_split import N_COPIES, layer_devices, split_buffers
from llmsize.engines.llamacpp_compute import compute_buffer
from llmsize.engines.offload import CUDA_CONTEXT, buffers_at, serve_params
from llmsize.errors import LlmsizeError
from llmsize.load import load_preset


def _f32(x: float) -> float:
    return struct.unpack("f", struct.pack("f", x))[0]


def _llamacpp_rule(n_layer: int, k: int) -> list[int]:
    """llama-model.cpp load_tensors as written: float splits (cumulative sums of -ts 1, normalised), each
    of the n_layer + 1 slots to upper_bound(splits, float(il)/act_gpu_layers)."""
    splits, acc = [], _f32(0.0)
    for _ in range(k):
        acc = _f32(acc + 1.0)
        splits.append(acc)
    splits = [_f32(s / acc) for s in splits]
    slots = n_layer + 1
    return [bisect.bisect_right(splits, _f32(_f32(il) / slots)) for il in range(slots)]


@given(st.integers(1, 200), st.integers(1, 8))
def test_layer_devices_follow_llamacpps_float_rule(n_layer, k):
    assert list(layer_devices(n_layer, k)) == _llamacpp_rule(n_layer, k)


def test_layer_devices_of_a_32_layer_model_on_two_gpus():
    # 33 slots: GPU 0 takes layers 0-16 (17), GPU 1 layers 17-31 and the output layer
    d = layer_devices(32, 2)
    assert d.count(0) == 17 and d[16] == 0 and d[17] == 1 and d[-1] == 1
    with pytest.raises(LlmsizeError, match="at least one GPU"):
        layer_devices(32, 0)


@pytest.mark.parametrize("name, ftype", [("Llama-3.1-8B", "Q4_K_M"), ("Qwen3-30B-A3B", "Q8_0"),
                                         ("gemma-2-9b", "Q4_K_M"), ("Mistral-7B-v0.1", "F16")])
def test_one_gpu_is_buffers_at_all_layers(name, ftype):
    spec = load_preset(find_preset(name)).spec
    ws = weights_from_preset(spec, ftype)
    p = serve_params(4096, 2, "f16")
    (g,) = split_buffers(spec, ws, p, 1, CUDA_CONTEXT)
    b = buffers_at(spec, ws, p, spec.num_layers + 1)
    assert (g.model, g.kv, g.compute, g.input_copies, g.cuda_context) == \
        (b.gpu_model, b.gpu_kv, b.gpu_compute, 0, b.cuda_context)
    assert g.total == b.gpu_total


@pytest.mark.parametrize("k", [2, 4, 8])
def test_gpus_together_hold_the_one_gpu_model_and_kv(k):
    spec = load_preset(find_preset("Llama-3.1-8B")).spec
    ws = weights_from_preset(spec, "Q4_K_M")
    p = serve_params(1280, 4, "q8_0")
    one, = split_buffers(spec, ws, p, 1, CUDA_CONTEXT)
    many = split_buffers(spec, ws, p, k, CUDA_CONTEXT)
    assert sum(g.model for g in many) == one.model and sum(g.kv for g in many) == one.kv
    assert sorted(il for g in many for il in g.layers) == list(range(spec.num_layers))
    assert [g.output for g in many] == [False] * (k - 1) + [True]
    c = compute_buffer(spec, p)
    # the logits only on the output GPU; every GPU keeps three more copies of its split's inputs
    assert many[-1].compute == c.total and all(g.compute == max(c.attention, c.ffn) for g in many[:-1])
    assert all(g.input_copies == (N_COPIES - 1) * c.inputs for g in many)
