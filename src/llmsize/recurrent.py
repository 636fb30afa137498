"""The recurrent state of state-space and short-conv layers: a fixed size per sequence, whatever the
context length, kept where an attention layer would keep its KV cache.

  conv state, per layer:  b · C · K · c        (C conv channels, K kernel taps, the model dtype)
  SSM state,  per layer:  b · d_in · N · 4      (Mamba-2: H · P · N; fp32, as the scan leaves it)

C = d_in + 2·G·N for Mamba-2, d_in for Mamba-1, d for LFM2's short conv (which has no SSM state); a
Gated DeltaNet layer (Qwen3-Next) convolves q, k, v (C = 2·G·N + d_in) and keeps per value head an
N x P fp32 state (H·N·P = d_in·N).
transformers allocates both lazily at the first forward of a generate (LinearAttentionLayer); the prompt
length does not change them.

Source: mamba2-state
"""
from __future__ import annotations

from dataclasses import dataclass

from llmsize.errors import LlmsizeError
from llmsize.spec import ModelSpec

STATE_TERM = "recurrent state (conv + SSM, per sequence)"  # its memory term's name (category kv_cache)
SSM_STATE_BYTES = 4  # ASSUMES: the SSM state stays fp32 (transformers' torch path; llama.cpp's default F32 too)


@dataclass(frozen=True, slots=True, kw_only=True)
class RecurrentState:
    """Bytes of the per-sequence state of every state-space/conv layer, for `batch` sequences."""

    layers: int  # layers that keep a state
    conv_bytes: int
    ssm_bytes: int
    formula: str

    @property
    def total(self) -> int:
        return self.conv_bytes + self.ssm_bytes


def recurrent_state(spec: ModelSpec, batch: int = 1, conv_dtype_bytes: int = 2) -> RecurrentState:
    """Conv and SSM state of `batch` sequences (0 for a model without state-space layers).

    S = L_ssm · b · (C·K·c + d_in·N·4)

    Source: mamba2-state"""
    if batch < 0 or conv_dtype_bytes <= 0:
        raise LlmsizeError(f"state needs batch >= 0 and a positive dtype size, got {batch} and {conv_dtype_bytes}")
    m = spec.ssm
    n = sum(spec.has_ssm(i) for i in range(spec.num_layers))
    if m is None or not n:
        return RecurrentState(layers=0, conv_bytes=0, ssm_bytes=0, formula="")
    conv = n * batch * m.conv_channels * m.conv_kernel * conv_dtype_bytes
    ssm = n * batch * m.recurrent_elements * SSM_STATE_BYTES
    ch = "d_in + 2·G·N" if m.kind in ("mamba2", "gated_delta") else "d_in" if m.kind == "mamba" else "d"
    f = f"L_ssm·b·C·K·{conv_dtype_bytes} (L_ssm = {n}, b = {batch}, C = {ch} = {m.conv_channels:,}, K = {m.conv_kernel})"
    if ssm:
        f += f" + L_ssm·b·d_in·N·{SSM_STATE_BYTES} (d_in = {m.inner:,}, N = {m.state_size})"
    return RecurrentState(layers=n, conv_bytes=conv, ssm_bytes=ssm, formula=f)

