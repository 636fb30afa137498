"""QLoRA fine-tuning memory: a frozen 4-bit base, LoRA adapters (fp32 as peft keeps them, or 16-bit), their gradients and
(paged) optimizer states, and the 16-bit copy of one base weight that bitsandbytes dequantizes for
each matmul. Activations (with gradient checkpointing) are llmsize.memory's to compute; this module
hands it the exact weight bytes and adds the terms that are QLoRA's own.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from llmsize.errors import LlmsizeError
from llmsize.params import Term
from llmsize.quant.formats import weight_plan
from llmsize.spec import ModelSpec
from llmsize.tensors import tensors

# bytes of optimizer state per trainable parameter
OPTIMIZERS = {"paged_adamw_32bit": 8, "adamw_torch": 8, "paged_adamw_8bit": 2, "adamw_8bit": 2, "sgd": 0}
_ADAPTER_BYTES = {"bf16": 2, "fp16": 2, "fp32": 4}


@dataclass(frozen=True, slots=True, kw_only=True)
class QLoraMemory:
    """QLoRA terms (bytes), activations excluded; `weights_bytes` is what to give llmsize.memory."""

    model: str
    rank: int
    targets: tuple[str, ...]
    lora_params: int
    terms: tuple[Term, ...]
    notes: tuple[str, ...] = ()

    @property
    def weights_bytes(self) -> int:
        return next(t.value for t in self.terms if t.name == "4-bit base weights")

    @property
    def total(self) -> int:
        return sum(t.value for t in self.terms)

    def as_dict(self) -> dict[str, Any]:
        return dict(model=self.model, rank=self.rank, targets=list(self.targets), lora_params=self.lora_params,
                    total_bytes=self.total, terms=[dict(name=t.name, bytes=t.value, formula=t.formula, source=t.source)
                                                   for t in self.terms], notes=list(self.notes))


def lora_params(spec: ModelSpec, rank: int, targets: Sequence[str] | str = "all-linear") -> tuple[int, tuple[str, ...]]:
    """LoRA parameters: r·(in + out) per targeted Linear inside the blocks.

    P_LoRA = Σ_targets r·(d_in + d_out)

    Source: peft-lora"""
    if rank <= 0:
        raise LlmsizeError(f"LoRA rank must be positive, got {rank}")
    lin = [t for t in tensors(spec) if t.linear and t.layer is not None and not t.role.startswith("ffn_gate_inp")]
    leaves = sorted({t.module for t in lin if t.module})
    if targets == "all-linear":
        chosen = set(leaves)
    else:
        chosen = set(targets)
        unknown = chosen - set(leaves)
        if unknown:
            raise LlmsizeError(f"LoRA target(s) {', '.join(sorted(unknown))} are not Linear modules of {spec.name} "
                               f"(its modules: {', '.join(leaves)})")
    n = sum(rank * (t.shape[0] + t.shape[1]) for t in lin if t.module in chosen)
    return n, tuple(sorted(chosen))


def qlora_memory(spec: ModelSpec, *, rank: int = 64, targets: Sequence[str] | str = "all-linear",
                 double_quant: bool = True, quant_type: str = "nf4", adapter_dtype: str = "fp32",
                 optimizer: str = "paged_adamw_32bit") -> QLoraMemory:
    """QLoRA's memory terms besides activations. Adapters default to fp32: the QLoRA paper trains 16-bit
    adapters, but peft keeps LoRA weights in fp32 on a 16-bit or 4-bit base (autocast_adapter_dtype=True),
    as the measured truth in shared/truth also shows; pass adapter_dtype="bf16" for the paper's setup.

    M = W_4bit + P_LoRA·b_a (adapters) + P_LoRA·b_a (gradients) + P_LoRA·b_opt (optimizer)
        + 2·max(out·in) (one dequantized 16-bit base weight alive during a matmul)

    Source: qlora"""
    if adapter_dtype not in _ADAPTER_BYTES:
        raise LlmsizeError(f"adapter dtype must be bf16, fp16 or fp32, got {adapter_dtype!r}")
    if optimizer not in OPTIMIZERS:
        raise LlmsizeError(f"unknown optimizer {optimizer!r} (known: {', '.join(OPTIMIZERS)})")
    fmt = f"{quant_type}{'-dq' if double_quant else ''}"
    plan = weight_plan(spec, fmt)
    n, chosen = lora_params(spec, rank, targets)
    b = _ADAPTER_BYTES[adapter_dtype]
    largest = max((t.shape[0] * t.shape[1] for t in tensors(spec) if t.linear and t.layer is not None), default=0)
    for t in tensors(spec):
        if t.experts > 1 and len(t.shape) == 3:  # one expert's matrix; expert biases are 2-D (gpt-oss)
            largest = max(largest, t.shape[1] * t.shape[2])
    terms = (
        Term(name="4-bit base weights", value=plan.bytes,
             formula=f"{fmt}: packed 4-bit + absmax{' (8-bit, double quant)' if double_quant else ' (fp32)'} "
                     f"+ 16-bit embeddings, head and norms", source="qlora"),
        Term(name="LoRA adapters", value=n * b, formula=f"r·(d_in + d_out)·{b} B over {', '.join(chosen)}",
             source="peft-lora"),
        Term(name="adapter gradients", value=n * b, formula=f"P_LoRA·{b} B", source="peft-lora"),
        Term(name="optimizer states", value=n * OPTIMIZERS[optimizer],
             formula=f"P_LoRA·{OPTIMIZERS[optimizer]} B ({optimizer})", source="qlora"),
        Term(name="dequantized weight (transient)", value=2 * largest,
             formula="2·max(d_out·d_in): bitsandbytes dequantizes one base weight to 16-bit per matmul",
             source="bnb-4bit"),
    )
    notes = ["activations (with gradient checkpointing) are not in these terms: llmsize.memory computes them"]
    if optimizer.startswith("paged"):
        notes.append("paged optimizer states live in unified memory and are evicted to CPU RAM under pressure: "
                     "counted on the GPU here, as they are until a spike pages them out")
    if spec.moe is not None:
        notes.append("LoRA targets the attention and dense/shared-expert Linear layers; fused routed-expert "
                     "weights are not nn.Linear modules and get no adapters")
    return QLoraMemory(model=spec.name, rank=rank, targets=chosen, lora_params=n, terms=terms, notes=tuple(notes))


_MEMORY_OPT = {"paged_adamw_32bit": "paged-adamw", "adamw_torch": "adamw", "paged_adamw_8bit": "paged-adamw-8bit",
               "adamw_8bit": "adamw-8bit", "sgd": "sgd"}


def qlora_peak(spec: ModelSpec, *, rank: int = 64, seq_len: int = 1024, batch: int = 1,
               targets: Sequence[str] | str = "all-linear", double_quant: bool = True, quant_type: str = "nf4",
               optimizer: str = "paged_adamw_32bit", grad_checkpointing: bool = True) -> Any:
    """Peak training memory of QLoRA: llmsize.memory's train estimate (peft LoRA adapters, optimizer,
    gradients, checkpointed activations, bitsandbytes' dequantization buffer) with the exact 4-bit
    base weight bytes.

    M_peak = estimate(spec, train(b, s, LoRA r, checkpointing), weights = W_4bit)

    Source: qlora"""
    from llmsize.memory import LoRA, Workload, estimate

    if optimizer not in _MEMORY_OPT:
        raise LlmsizeError(f"unknown optimizer {optimizer!r} (known: {', '.join(_MEMORY_OPT)})")
    plan = weight_plan(spec, f"{quant_type}{'-dq' if double_quant else ''}")
    mods = ("all-linear",) if targets == "all-linear" else tuple(targets)
    wl = Workload(mode="train", batch=batch, seq_len=seq_len, lora=LoRA(r=rank, alpha=2 * rank, target_modules=mods),
                  grad_checkpointing=grad_checkpointing, optimizer=_MEMORY_OPT[optimizer])
    return estimate(spec, wl, weights_bytes_override=plan.bytes, weight_bits=float(plan.bits_per_weight))
