"""llama.cpp over the GPUs of one node with its default layer split (-sm layer, -ts 1,1,...) and every layer
offloaded: which GPU holds each layer and the output layer, and each GPU's buffers. One llama-server runs
them all; on one GPU this is `offload.buffers_at` with -ngl all, byte for byte.

Each GPU holds its layers' weights (CUDA padding as on one GPU) and their KV cache, a compute buffer for
its part of the graph and the CUDA context; the token embedding, the graph inputs and the logits output
buffer stay on the host. With several GPUs llama.cpp turns on pipeline parallelism (llama-context.cpp:
more than one device, every layer offloaded, -sm layer, KV offloaded, no tensor overrides), and
ggml_backend_sched then keeps GGML_SCHED_MAX_COPIES = 4 copies of every split's inputs, each allocated
ahead of the graph and never reused."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from llmsize.engines.llamacpp import LlamaParams, WeightTensor, cuda_tensor_bytes, kv_bytes, output_tensor
from llmsize.engines.llamacpp_compute import compute_buffer
from llmsize.errors import LlmsizeError
from llmsize.spec import ModelSpec

N_COPIES = 4  # GGML_SCHED_MAX_COPIES (ggml/src/ggml-backend.cpp): input copies under pipeline parallelism


def layer_devices(n_layer: int, k: int) -> tuple[int, ...]:
    """The GPU of each repeating layer 0..L-1 and, last, of the output layer, for -ngl all and -ts 1,...,1.

    llama.cpp: splits_j = (j+1)/k (cumulative, normalised); the layer at slot il of the L + 1 slots goes to
    upper_bound(splits, il/(L+1)), the first j with (j+1)/k > il/(L+1), which is ⌊il·k/(L+1)⌋.

    Source: llamacpp-split"""
    if k < 1 or n_layer < 1:
        raise LlmsizeError(f"a layer split needs at least one GPU and one layer, got {k} GPUs, {n_layer} layers")
    slots = n_layer + 1
    return tuple(il * k // slots for il in range(slots))


@dataclass(frozen=True, slots=True, kw_only=True)
class GpuBuffers:
    """One GPU's buffers under the layer split."""

    device: int
    layers: tuple[int, ...]  # repeating layers on this GPU
    output: bool  # the output layer (output_norm, output) is here
    model: int
    kv: int
    compute: int
    input_copies: int  # the extra copies of the split's inputs under pipeline parallelism
    cuda_context: int

    @property
    def total(self) -> int:
        return self.model + self.kv + self.compute + self.input_copies + self.cuda_context


def split_buffers(spec: ModelSpec, weights: Sequence[WeightTensor], p: LlamaParams, k: int,
                  cuda_context: int) -> tuple[GpuBuffers, ...]:
    """Every GPU's buffers for `k` GPUs in one llama-server with -sm layer and equal -ts.

    model_g   = Σ pad(tensor) over the tensors of its layers (+ output_norm, output on the output GPU)
    kv_g      = KV of its layers (llama_kv_cache allocates each layer on that layer's device)
    compute_g = max(attention, ffn) of one ubatch, max(output, attention, ffn) on the output GPU
    copies_g  = (N_COPIES − 1) · inputs  (k > 1: token/positions/output ids, the KQ mask(s), the hidden state)

    # ASSUMES: each GPU's compute buffer is the one-GPU graph allocator's peak over the phases its layers
    #          run (a layer's working set does not depend on where the other layers are); measured on one
    #          GPU only (tests/data/llamacpp_buffers.jsonl), not on several
    Source: llamacpp-split"""
    n = spec.num_layers
    q = replace(p, n_gpu_layers=n + 1)
    dev = layer_devices(n, k)
    c = compute_buffer(spec, q)
    out = []
    for g in range(k):
        layers = tuple(il for il in range(n) if dev[il] == g)
        has_out = dev[n] == g
        model = sum(cuda_tensor_bytes(t) for t in weights if (t.layer is not None and dev[t.layer] == g)
                    or (t.layer is None and has_out and output_tensor(t)))
        phases = ([c.attention, c.ffn] if layers else []) + ([c.output] if has_out else [])
        out.append(GpuBuffers(device=g, layers=layers, output=has_out, model=model, kv=kv_bytes(spec, q, list(layers)),
                              compute=max(phases, default=0), input_copies=(N_COPIES - 1) * c.inputs if k > 1 else 0,
                              cuda_context=cuda_context))
    return tuple(out)
