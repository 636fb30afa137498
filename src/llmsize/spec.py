"""The model spec: every architectural fact that changes parameters, memory or FLOPs.

A `ModelSpec` is built by an adapter (Hugging Face config.json, command-line knobs, GGUF metadata)
and is the only thing the formulas read. It validates itself, so every later module may trust it.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from llmsize.bounds import MAX_LAYER_EXPERTS, check_all
from llmsize.errors import LlmsizeError, check_positive_ints
from llmsize.traits import LLAMA_LEAVES, LoraAllLinear, Traits  # noqa: F401  (re-exported: readers import them from here)

NormKind = Literal["layernorm", "rmsnorm"]
QKNorm = Literal["none", "head", "full"]
Position = Literal["rope", "learned", "alibi", "none", "relative"]  # relative: T5's bucketed bias
MLPKind = Literal["gated", "plain"]
LayerType = Literal["full", "sliding"]
Mixer = Literal["attention", "ssm", "hybrid"]  # per layer: attention only, state-space/conv only, both in parallel


def _positive(owner: str, **values: int | None) -> None:
    check_positive_ints(values, owner, optional=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class Attention:
    """Self-attention projections. `head_dim` is the query/key head size (for MLA: nope + rope)."""

    num_heads: int
    num_kv_heads: int
    head_dim: int
    qkv_bias: bool = False
    o_bias: bool = False
    fused_qkv: bool = False  # one [q;k;v] matrix (GPT-2 c_attn, NeoX, Phi-3, Falcon)
    qk_norm: QKNorm = "none"  # "head": RMSNorm(head_dim) (Qwen3, Gemma 3); "full": over all heads (OLMo 2)
    sinks: bool = False  # a learned logit per head (gpt-oss)
    # Multi-head latent attention (DeepSeek-V2/V3). kv_lora_rank set <=> MLA.
    q_lora_rank: int | None = None
    kv_lora_rank: int | None = None
    qk_rope_head_dim: int = 0
    v_head_dim: int | None = None  # value head size; defaults to head_dim
    rope_interleave: bool = False  # MLA: rotary on even/odd pairs (DeepSeek-V3's rope_interleave)
    output_gate: bool = False  # Qwen3-Next: q_proj also emits a per-element sigmoid gate on the output (2·n_h·d_h)

    def __post_init__(self) -> None:
        _positive("attention", num_heads=self.num_heads, num_kv_heads=self.num_kv_heads,
                  head_dim=self.head_dim, q_lora_rank=self.q_lora_rank,
                  kv_lora_rank=self.kv_lora_rank, v_head_dim=self.v_head_dim)
        check_all("attention", {"num_heads": (self.num_heads, "heads"), "num_kv_heads": (self.num_kv_heads, "heads"),
                                "head_dim": (self.head_dim, "width"), "q_lora_rank": (self.q_lora_rank, "width"),
                                "kv_lora_rank": (self.kv_lora_rank, "width"), "v_head_dim": (self.v_head_dim, "width"),
                                "qk_rope_head_dim": (self.qk_rope_head_dim, "width")}, low=0)
        if self.num_heads % self.num_kv_heads:
            raise LlmsizeError(
                f"attention: KV heads ({self.num_kv_heads}) must divide query heads ({self.num_heads})")
        if self.qk_norm not in ("none", "head", "full"):
            raise LlmsizeError(f"attention: qk_norm must be none, head or full, got {self.qk_norm!r}")
        if self.mla and not 0 <= self.qk_rope_head_dim < self.head_dim:
            raise LlmsizeError("attention: MLA rope head dim must be below the query/key head dim")

    @property
    def mla(self) -> bool:
        return self.kv_lora_rank is not None

    @property
    def v_dim(self) -> int:
        return self.v_head_dim if self.v_head_dim is not None else self.head_dim

    @property
    def group_size(self) -> int:
        return self.num_heads // self.num_kv_heads


@dataclass(frozen=True, slots=True, kw_only=True)
class MLP:
    """A dense feed-forward block: gated = 3 matrices (SwiGLU/GeGLU), plain = 2 (GELU/ReLU)."""

    kind: MLPKind
    intermediate_size: int
    bias: bool = False
    activation: str = "silu"
    fused_gate_up: bool = False  # one [gate;up] matrix (Phi-3)

    def __post_init__(self) -> None:
        _positive("mlp", intermediate_size=self.intermediate_size)
        check_all("mlp", {"intermediate_size": (self.intermediate_size, "width")})
        if self.kind not in ("gated", "plain"):
            raise LlmsizeError(f"mlp: kind must be gated or plain, got {self.kind!r}")

    @property
    def matrices(self) -> int:
        return 3 if self.kind == "gated" else 2


@dataclass(frozen=True, slots=True, kw_only=True)
class MoE:
    """Mixture of experts replacing the dense MLP on the layers where `ModelSpec.moe_layers` is true."""

    num_experts: int
    top_k: int
    expert_intermediate_size: int
    expert_kind: MLPKind = "gated"
    expert_bias: bool = False  # gpt-oss experts carry biases
    shared_intermediate_size: int = 0  # total width of always-on shared experts (0: none)
    shared_expert_gate: bool = False  # Qwen2-MoE: sigmoid gate Linear(h, 1) on the shared expert
    router_bias: bool = False  # router Linear has a bias parameter (gpt-oss)
    router_correction_bias: bool = False  # DeepSeek-V3: per-expert bias kept as a buffer, not a parameter
    gate_fn: Literal["silu", "clamped_swiglu"] = "silu"  # gpt-oss: clamp, x * sigmoid(alpha x), (up + 1)
    shared_bias: bool = False  # ERNIE 4.5 MoE: the shared experts' linears carry biases (use_bias)
    correction_bias_param: bool = False  # ERNIE 4.5 MoE: the correction bias is a frozen nn.Parameter
    input_jitter: float = 0.0  # Phi-3.5-MoE in training: the block's input times uniform noise (twice)

    def __post_init__(self) -> None:
        _positive("moe", num_experts=self.num_experts, top_k=self.top_k,
                  expert_intermediate_size=self.expert_intermediate_size)
        check_all("moe", {"num_experts": (self.num_experts, "experts"), "top_k": (self.top_k, "experts"),
                          "expert_intermediate_size": (self.expert_intermediate_size, "width"),
                          "shared_intermediate_size": (self.shared_intermediate_size, "width")}, low=0)
        if self.top_k > self.num_experts:
            raise LlmsizeError(f"moe: top_k ({self.top_k}) exceeds the number of experts ({self.num_experts})")
        if self.shared_intermediate_size < 0:
            raise LlmsizeError("moe: shared expert size must not be negative")
        if isinstance(self.input_jitter, bool) or not isinstance(self.input_jitter, (int, float)) or not (
                0.0 <= self.input_jitter < 1.0):
            raise LlmsizeError(f"moe: input_jitter_noise must be in [0, 1), got {self.input_jitter!r:.40}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Norms:
    """Normalisation: kind, whether it has a bias, how many per layer, and a final norm."""

    kind: NormKind = "rmsnorm"
    bias: bool = False
    per_layer: int = 2  # Gemma 2/3: 4; Falcon-7B parallel: 1
    final: bool = True
    affine: bool = True  # False: no weight (OLMo 1's non-parametric LayerNorm)

    def __post_init__(self) -> None:
        if self.kind not in ("layernorm", "rmsnorm"):
            raise LlmsizeError(f"norm: kind must be layernorm or rmsnorm, got {self.kind!r}")
        if self.per_layer < 0:
            raise LlmsizeError("norm: per-layer count must not be negative")


@dataclass(frozen=True, slots=True, kw_only=True)
class Vision:
    """A ViT (SigLIP-style) vision tower and its projector in a multimodal wrapper; counted exactly."""

    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    patch_size: int
    image_size: int
    num_channels: int = 3
    pooling_head: bool = False  # SigLIP attention-pooling head (vision_use_head)
    projector_params: int = 0  # exact count of the multimodal projector

    def __post_init__(self) -> None:
        _positive("vision", hidden_size=self.hidden_size, intermediate_size=self.intermediate_size,
                  num_layers=self.num_layers, num_heads=self.num_heads, patch_size=self.patch_size,
                  image_size=self.image_size, num_channels=self.num_channels)
        check_all("vision", {"hidden_size": (self.hidden_size, "width"), "intermediate_size": (self.intermediate_size, "width"),
                             "num_layers": (self.num_layers, "layers"), "num_heads": (self.num_heads, "heads"),
                             "patch_size": (self.patch_size, "width"), "image_size": (self.image_size, "width"),
                             "num_channels": (self.num_channels, "width"),
                             "projector_params": (self.projector_params, "positions")}, low=0)


@dataclass(frozen=True, slots=True, kw_only=True)
class SSM:
    """A recurrent token mixer that keeps a fixed-size state per sequence instead of a KV cache.

    kind "mamba2": in_proj d -> 2·d_in + 2·G·N + H, depthwise conv over d_in + 2·G·N channels, per-head
    dt_bias / A_log / D, gated RMSNorm over d_in, out_proj d_in -> d (Mamba2, Granite 4 hybrid, Falcon-H1);
    "mamba": in_proj d -> 2·d_in, conv over d_in, x_proj d_in -> R + 2N, dt_proj R -> d_in, A_log d_in x N,
    D d_in, out_proj (Jamba); "shortconv": in_proj d -> 3d, conv over d, out_proj d -> d (LFM2), no
    recurrent state; "gated_delta": Gated DeltaNet (Qwen3-Next) with H value heads of P = d_in/H, G key heads
    of N (q and k each G·N wide): in_proj_qkvz d -> 2·G·N + 2·d_in, in_proj_ba d -> 2H, conv over
    2·G·N + d_in, dt_bias / A_log of H, gated norm over P, out_proj d_in -> d; state H·N·P = d_in·N. Cached per sequence: conv state (conv channels x kernel, model dtype) and, for the
    Mamba kinds, the SSM state (d_in x N, fp32)."""

    kind: Literal["mamba2", "mamba", "shortconv", "gated_delta"]
    inner: int  # d_in: expand·d (Mamba-2: heads x head_dim; LFM2: d)
    state_size: int = 0  # N (0 for shortconv)
    conv_kernel: int = 4
    num_heads: int = 0  # Mamba-2 heads H
    n_groups: int = 1  # Mamba-2 B/C groups G
    dt_rank: int = 0  # Mamba-1 dt projection rank R
    conv_bias: bool = True
    in_bias: bool = False
    out_bias: bool = False
    gated_norm: bool = True  # Mamba-2: RMSNormGated weight over d_in (Falcon-H1 only with mamba_rms_norm)
    bcdt_norms: bool = False  # Jamba: RMSNorms over dt (R), B (N) and C (N)
    chunk_size: int = 256  # Mamba-2: the chunked scan's block length Q (torch path)
    residual_fp32: bool = False  # Mamba2Block: the residual stream kept in fp32 (residual_in_fp32)
    mup: bool = False  # Falcon-H1: input x ssm_in_multiplier, in_proj output x mup_vector (each a new tensor)

    def __post_init__(self) -> None:
        _positive("ssm", inner=self.inner, conv_kernel=self.conv_kernel, n_groups=self.n_groups)
        check_all("ssm", {"inner": (self.inner, "width"), "state_size": (self.state_size, "width"),
                          "conv_kernel": (self.conv_kernel, "width"), "num_heads": (self.num_heads, "heads"),
                          "n_groups": (self.n_groups, "heads"), "dt_rank": (self.dt_rank, "width"),
                          "chunk_size": (self.chunk_size, "positions")}, low=0)
        _positive("ssm", chunk_size=self.chunk_size)
        if self.kind not in ("mamba2", "mamba", "shortconv", "gated_delta"):
            raise LlmsizeError(f"ssm: kind must be mamba2, mamba, shortconv or gated_delta, got {self.kind!r}")
        if self.kind in ("mamba2", "gated_delta") and (self.num_heads < 1 or self.inner % self.num_heads):
            raise LlmsizeError(f"ssm: {self.kind} heads ({self.num_heads}) must divide the inner width ({self.inner})")
        if self.kind != "shortconv" and self.state_size < 1:
            raise LlmsizeError("ssm: a Mamba mixer needs a positive state size")

    @property
    def conv_channels(self) -> int:
        return self.inner + 2 * self.n_groups * self.state_size if self.kind in ("mamba2", "gated_delta") else self.inner

    @property
    def recurrent_elements(self) -> int:
        """Elements of the SSM state per sequence per layer: H·P·N = d_in·N (Mamba-1: d_in·N too)."""
        return 0 if self.kind == "shortconv" else self.inner * self.state_size


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelSpec:
    """One decoder-only transformer language model, as the formulas see it."""

    name: str
    model_type: str
    hidden_size: int
    num_layers: int
    vocab_size: int
    attention: Attention
    mlp: MLP
    moe: MoE | None = None
    moe_layers: tuple[bool, ...] = ()  # per layer: MoE block instead of dense MLP
    norms: Norms = field(default_factory=Norms)
    position: Position = "rope"
    max_position_embeddings: int = 2048
    position_offset: int = 0  # OPT stores 2 extra learned positions; RoBERTa pad_token_id + 1
    type_vocab_size: int = 0  # BERT token-type (segment) embeddings: rows of that table (0: none)
    head_transform_bias: bool = True  # the MLM head transform's dense has a bias (ModernBERT classifier_bias)
    # Encoder-decoder (T5): decoder layers after the num_layers encoder layers, each with cross-attention;
    # relative_buckets: rows of the relative-position bias (n_heads each) in the first layer of each stack
    decoder_layers: int = 0
    relative_buckets: int = 0
    rotary_fraction: float = 1.0
    tie_word_embeddings: bool = False
    lm_head_bias: bool = False
    parallel_residual: bool = False
    layer_types: tuple[LayerType, ...] = ()  # per layer; empty = all full attention
    rope_layers: tuple[bool, ...] = ()  # per layer: rotary applied (empty = every layer); NoPE layers are False
    ssm: SSM | None = None  # the recurrent/conv mixer of state-space and hybrid models
    mixers: tuple[Mixer, ...] = ()  # per layer (empty = attention everywhere); needs `ssm` where not attention
    dense_mlp: bool = True  # False: layers that are not MoE have no feed-forward block (Mamba-2)
    sliding_window: int | None = None
    embed_dim: int | None = None  # OPT-350m: word embeddings narrower than hidden, with project in/out
    # dropout rates in training, from the config (0: none)
    hidden_dropout: float = 0.0  # on the attention and MLP outputs (GPT-2 resid_pdrop, OPT dropout)
    attention_dropout: float = 0.0  # on the attention probabilities
    embed_dropout: float = 0.0  # on the summed embeddings (GPT-2 embd_pdrop)
    attn_softcap: float | None = None  # Gemma 2: scores = cap * tanh(scores / cap)
    final_softcap: float | None = None  # Gemma 2: logits = cap * tanh(logits / cap)
    traits: Traits = field(default_factory=Traits)
    vision: Vision | None = None
    dtype: str | None = None  # the checkpoint's stored dtype, from config (torch_dtype / dtype)
    notes: tuple[str, ...] = ()  # what an adapter assumed; shown to the user

    def __post_init__(self) -> None:
        _positive(f"model {self.name!r}", hidden_size=self.hidden_size, num_layers=self.num_layers,
                  vocab_size=self.vocab_size, max_position_embeddings=self.max_position_embeddings,
                  sliding_window=self.sliding_window, embed_dim=self.embed_dim)
        check_all(f"model {self.name!r}", {
            "hidden_size": (self.hidden_size, "width"), "num_layers": (self.num_layers, "layers"),
            "vocab_size": (self.vocab_size, "vocab"), "max_position_embeddings": (self.max_position_embeddings, "positions"),
            "sliding_window": (self.sliding_window, "positions"), "embed_dim": (self.embed_dim, "width"),
            "position_offset": (self.position_offset, "width"),
            "type_vocab_size": (self.type_vocab_size, "vocab"), "decoder_layers": (self.decoder_layers, "layers"),
            "relative_buckets": (self.relative_buckets, "positions")}, low=0)
        for what, v in (("name", self.name), ("model_type", self.model_type)):
            if not isinstance(v, str):
                raise LlmsizeError(f"model: {what} must be text, got {v!r:.60}")
        if self.moe is not None and self.moe.num_experts * self.num_layers > MAX_LAYER_EXPERTS:
            raise LlmsizeError(f"model {self.name!r}: {self.num_layers:,} layers x {self.moe.num_experts:,} experts "
                               f"is over {MAX_LAYER_EXPERTS:,} expert blocks (llmsize's layer_experts bound, far "
                               f"above any real model)")
        if self.moe is None and any(self.moe_layers):
            raise LlmsizeError("model: moe_layers marks MoE layers but no MoE block is given")
        if self.moe is not None and len(self.moe_layers) != self.num_layers:
            raise LlmsizeError(
                f"model: moe_layers has {len(self.moe_layers)} entries for {self.num_layers} layers")
        if self.layer_types and len(self.layer_types) != self.num_layers:
            raise LlmsizeError(
                f"model: layer_types has {len(self.layer_types)} entries for {self.num_layers} layers")
        if any(t not in ("full", "sliding") for t in self.layer_types):
            raise LlmsizeError("model: layer types must be 'full' or 'sliding'")
        if self.rope_layers and len(self.rope_layers) != self.num_layers:
            raise LlmsizeError(
                f"model: rope_layers has {len(self.rope_layers)} entries for {self.num_layers} layers")
        if self.mixers and (len(self.mixers) != self.num_layers or any(m not in ("attention", "ssm", "hybrid")
                                                                        for m in self.mixers)):
            raise LlmsizeError(f"model: mixers needs one of attention, ssm, hybrid per layer ({self.num_layers})")
        if (self.ssm is None) != all(m == "attention" for m in self.mixers):
            raise LlmsizeError("model: state-space layers need an ssm block, and an ssm block needs such layers")
        if "sliding" in self.layer_types and self.sliding_window is None:
            raise LlmsizeError("model: sliding layers need a sliding_window size")
        if not 0.0 < self.rotary_fraction <= 1.0:
            raise LlmsizeError(f"model: rotary fraction must be in (0, 1], got {self.rotary_fraction}")
        if self.position_offset < 0:
            raise LlmsizeError("model: position offset must not be negative")
        if self.dtype is not None and not isinstance(self.dtype, str):  # config.json's torch_dtype / dtype
            raise LlmsizeError(f"config.json: 'torch_dtype' must be a dtype name such as 'bfloat16', got "
                               f"{self.dtype!r:.60}")
        for k in ("hidden_dropout", "attention_dropout", "embed_dropout"):
            p = getattr(self, k)
            if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
                raise LlmsizeError(f"model: {k} must be a probability in [0, 1), got {p!r}")
        for k in ("attn_softcap", "final_softcap"):
            v = getattr(self, k)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0):
                raise LlmsizeError(f"model: {k} must be a positive number or absent, got {v!r}")

    # -- derived facts used across the formulas -------------------------------------------
    def is_moe_layer(self, i: int) -> bool:
        return bool(self.moe_layers) and self.moe_layers[i]

    def has_attention(self, i: int) -> bool:
        return not self.mixers or self.mixers[i] != "ssm"

    def has_ssm(self, i: int) -> bool:
        return bool(self.mixers) and self.mixers[i] != "attention"

    @property
    def attention_layers(self) -> int:
        """Layers with self-attention (and so a KV cache)."""
        return sum(self.has_attention(i) for i in range(self.num_layers))

    def layer_type(self, i: int) -> LayerType:
        return self.layer_types[i] if self.layer_types else "full"

    def uses_rope(self, i: int) -> bool:
        return self.position == "rope" and (not self.rope_layers or self.rope_layers[i])

    @property
    def cache_kv_heads(self) -> int:
        """Heads of the keys and values transformers' cache stores (the query heads where the family's
        code broadcasts k and v before the cache update)."""
        a = self.attention
        return a.num_heads if self.traits.qkv_split == "index_expand" else a.num_kv_heads

    @property
    def num_moe_layers(self) -> int:
        return sum(self.moe_layers)

    @property
    def word_embed_dim(self) -> int:
        return self.embed_dim or self.hidden_size

    def with_(self, **changes: object) -> ModelSpec:
        """A copy with fields changed (validated again)."""
        return replace(self, **changes)  # type: ignore[arg-type]
