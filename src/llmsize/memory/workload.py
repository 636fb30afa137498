"""What runs: mode, shapes, precision, optimizer, checkpointing, LoRA. Validated on construction.

Source: pytorch-autograd
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from llmsize.errors import LlmsizeError, did_you_mean
from llmsize.spec import ModelSpec
from llmsize.tensors import tensors

Mode = Literal["train", "forward", "generate"]

# bytes per element of each floating dtype name we accept (torch spellings too)
DTYPE_BYTES: dict[str, int] = {
    "fp32": 4, "float32": 4, "bf16": 2, "bfloat16": 2, "fp16": 2, "float16": 2,
}
KV_DTYPE_BYTES: dict[str, int] = {**DTYPE_BYTES, "fp8": 1, "float8": 1, "int8": 1}
OPTIMIZERS = ("adamw", "adam", "sgd", "sgd-momentum", "adafactor", "lion", "adamw-8bit", "paged-adamw",
              "paged-adamw-8bit")
ATTN_IMPLS = ("sdpa", "eager", "flash")
RUNTIMES = ("torch", "vllm", "llamacpp")


def dtype_bytes(name: str, what: str, table: dict[str, int] = DTYPE_BYTES) -> int:
    key = name.lower().replace("torch.", "")
    if key not in table:
        raise did_you_mean(name, [k for k in table if not k.startswith(("float", "bfloat"))], what=what)
    return table[key]


def _canon(name: str) -> str:
    return {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16", "float8": "fp8"}.get(name.lower(), name.lower())


@dataclass(frozen=True, slots=True, kw_only=True)
class LoRA:
    """peft LoRA adapters: rank r, scale alpha / r, on the leaf modules named in `target_modules`
    ("all-linear" = every linear of the decoder blocks), on all layers or the listed ones."""

    r: int = 16
    alpha: int = 32
    target_modules: tuple[str, ...] = ("q_proj", "v_proj")
    layers: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.r, int) or isinstance(self.r, bool) or self.r <= 0:
            raise LlmsizeError(f"--lora-r must be a positive integer, got {self.r!r}")
        if isinstance(self.alpha, bool) or not isinstance(self.alpha, (int, float)) or self.alpha <= 0:
            raise LlmsizeError(f"--lora-alpha must be positive, got {self.alpha!r}")
        if isinstance(self.target_modules, str):
            object.__setattr__(self, "target_modules", tuple(t for t in self.target_modules.split(",") if t))
        else:
            object.__setattr__(self, "target_modules", tuple(self.target_modules))
        if not self.target_modules:
            raise LlmsizeError("--lora-targets: give at least one module name (or all-linear)")
        if self.layers is not None:
            object.__setattr__(self, "layers", tuple(self.layers))
            if any(not isinstance(i, int) or i < 0 for i in self.layers):
                raise LlmsizeError("lora layers must be non-negative layer indices")

    def resolve(self, spec: ModelSpec) -> frozenset[str]:
        """The leaf names adapted in `spec`; unknown names raise LlmsizeError.

        "all-linear" follows peft 0.21's resolution (measured in tests/data/lora_counts.json): every
        linear of the decoder blocks; for MoE models whose experts are fused 3-D parameters
        (Mixtral, OLMoE, Qwen3-MoE, DeepSeek-V3) the attention linears plus the router and the expert
        parameters (pseudo-leaves "gate" and "experts"); Qwen2-MoE adds its shared_expert_gate;
        Llama 4 and Phi-3.5-MoE adapt every block linear plus the router (not the fused experts); gpt-oss gets
        attention only."""
        ts = tensors(spec)
        leaves = {t.module for t in ts if t.linear and t.layer is not None and t.module}
        extra = set()
        if spec.moe is not None and spec.traits.lora_experts:
            extra |= {"gate", "experts"}
        if spec.moe is not None and spec.moe.shared_expert_gate:
            extra.add("shared_expert_gate")
        if self.target_modules == ("all-linear",) or "all-linear" in self.target_modules:
            attn = {t.module for t in ts if t.linear and t.layer is not None and t.module and
                    t.role.startswith("attn")}
            how = spec.traits.lora_all_linear
            if how == "attention+experts":
                return frozenset(attn | {"gate", "experts"})
            if how == "attention":
                return frozenset(attn)
            if how == "linears+shared_gate":
                return frozenset(leaves | {"shared_expert_gate"})
            if how == "mixers+experts+shared_gate":  # Qwen3-Next: no MLP linear, the shared expert's neither
                mixers = {t.module for t in ts if t.linear and t.layer is not None and t.module and
                          t.role.startswith(("attn", "ssm"))}
                return frozenset(mixers | {"gate", "experts", "shared_expert_gate"})
            if how == "linears+router":  # Llama 4, PhiMoE: the router is an nn.Linear, the fused experts are not
                return frozenset(leaves | {"gate", "__all_linear__"})
            return frozenset(leaves | {"__all_linear__"})
        leaves |= extra
        for name in self.target_modules:
            if name not in leaves:
                raise did_you_mean(name, sorted(leaves), what=f"LoRA target for {spec.name}")
        if self.layers is not None:
            bad = [i for i in self.layers if i >= spec.num_layers]
            if bad:
                raise LlmsizeError(f"lora layers {bad} out of range: {spec.name} has {spec.num_layers} layers")
        return frozenset(self.target_modules)


@dataclass(frozen=True, slots=True, kw_only=True)
class Workload:
    """One workload. `seq_len` is the training sequence or the prompt; `new_tokens` the generated ones."""

    mode: Mode = "train"
    batch: int = 1
    seq_len: int = 1024
    new_tokens: int = 0
    weights_dtype: str = "bf16"
    autocast: str | None = None
    optimizer: str | None = None
    grad_checkpointing: bool = False
    grad_accumulation: int = 1
    attn_impl: str = "sdpa"
    lora: LoRA | None = None
    kv_cache_dtype: str | None = None
    runtime: str = "torch"

    def __post_init__(self) -> None:
        if self.mode not in ("train", "forward", "generate"):
            raise LlmsizeError(f"mode must be train, forward or generate, got {self.mode!r}")
        for flag, v, lo in (("--batch", self.batch, 1), ("--seq-len", self.seq_len, 1),
                            ("--new-tokens", self.new_tokens, 0), ("--grad-accum", self.grad_accumulation, 1)):
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                need = "a positive integer" if lo else "a non-negative integer"
                raise LlmsizeError(f"{flag} must be {need}, got {v!r}")
        from llmsize.bounds import check_all  # every claimed count within its bound (issue 17)

        check_all("", {"--batch": (self.batch, "batch"), "--seq-len": (self.seq_len, "context"),
                       "--grad-accum": (self.grad_accumulation, "batch")})
        check_all("", {"--new-tokens": (self.new_tokens, "context")}, low=0)
        object.__setattr__(self, "weights_dtype", _canon(self.weights_dtype))
        dtype_bytes(self.weights_dtype, "--dtype")
        if self.autocast is not None:
            object.__setattr__(self, "autocast", _canon(self.autocast))
            if dtype_bytes(self.autocast, "--amp") != 2:
                raise LlmsizeError(f"--amp must be bf16 or fp16, got {self.autocast!r}")
        if self.kv_cache_dtype is not None:
            object.__setattr__(self, "kv_cache_dtype", _canon(self.kv_cache_dtype))
            dtype_bytes(self.kv_cache_dtype, "--kv-cache-dtype", KV_DTYPE_BYTES)
        if self.optimizer is not None:
            object.__setattr__(self, "optimizer", self.optimizer.lower())
            if self.optimizer not in OPTIMIZERS:
                raise did_you_mean(self.optimizer, OPTIMIZERS, what="--optimizer")
        if self.attn_impl not in ATTN_IMPLS:
            raise did_you_mean(self.attn_impl, ATTN_IMPLS, what="--attn implementation")
        if self.runtime not in RUNTIMES:
            raise did_you_mean(self.runtime, RUNTIMES, what="--runtime")
        if self.mode != "train" and (self.lora is not None or self.grad_checkpointing):
            raise LlmsizeError("LoRA and gradient checkpointing apply to mode=train only")
        if self.mode == "train" and self.runtime != "torch":
            raise LlmsizeError(f"training runs on the torch runtime, not {self.runtime}")
        if self.lora is not None and not isinstance(self.lora, LoRA):
            raise LlmsizeError("lora must be a LoRA(...) value")

    @property
    def w_bytes(self) -> int:
        return DTYPE_BYTES[self.weights_dtype]

    @property
    def c_bytes(self) -> int:
        return DTYPE_BYTES[self.autocast] if self.autocast else self.w_bytes

    @property
    def opt(self) -> str:
        """The optimizer in effect (training defaults to AdamW)."""
        return self.optimizer or ("adamw" if self.mode == "train" else "none")
