"""Float8 training as torchtitan runs it (`model.converters = ["quantize.linear.float8"]`, torchao's
Float8Linear with tensorwise dynamic scaling): what it changes in memory per GPU and in speed.

torchao (pytorch/ao torchao/float8/float8_linear.py, `matmul_with_hp_or_float8_args`) swaps every decoder
nn.Linear (torchtitan filters out the output head) for one that casts its input and weight to float8 e4m3
just before the GEMM and, in backward, casts grad_output to e5m2 twice (for grad_input and grad_weight),
the weight and the input again. It saves the *high-precision* input and weight for backward, so saved
activations do not change. With FSDP, `enable_fsdp_float8_all_gather` casts the sharded weight to float8
before the all-gather (torchao/float8/fsdp_utils.py), so the unsharded linear weights are 1 byte, not 2.

Source: torchao-float8
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmsize.errors import LlmsizeError
from llmsize.params import Term
from llmsize.spec import ModelSpec

FP8_BYTES = 1
COMPUTE_BYTES = 2  # bf16, the param dtype of FSDP's MixedPrecisionPolicy in torchtitan
# replayed FSDP terms that hold unsharded (all-gathered) decoder-layer parameters
_GATHERED = ("layers unsharded", "all gather buffers")


@dataclass(frozen=True, slots=True, kw_only=True)
class Float8Plan:
    """One layout trained with float8 linears: bytes per GPU by term and tokens/s, beside bf16's."""

    peak_bytes: int
    bf16_peak_bytes: int
    terms: tuple[Term, ...]  # the float8 changes, signed
    tokens_per_s: float
    bf16_tokens_per_s: float


def _linears(spec: ModelSpec) -> list[tuple[int, int]]:
    """(out, in) of the dense linears of one decoder layer (experts run grouped GEMMs: torchtitan converts
    those with quantize.grouped_mm, not quantize.linear)."""
    from llmsize.tensors import layer_tensors

    return [t.shape for t in layer_tensors(spec, 0) if t.linear and t.experts == 1 and len(t.shape) == 2]


def float8_terms(spec: ModelSpec, mem: Any, *, tokens: int, fp8_all_gather: bool) -> tuple[Term, ...]:
    """The float8 changes to a bf16 GpuMemory `mem` of one rank whose micro-batch has `tokens` tokens.

    casts  = max over the layer's linears of (T·in + 2·T·out)/t + [no fp8 all-gather]·in·out/t   (bytes, e4m3/e5m2)
    gather = −(Σ gathered layer terms) · f_lin · (1 − 1/2)     (float8 all-gather)

    f_lin = the dense linear weights' share of a decoder layer's parameters; t = TP size.

    Source: torchao-float8"""
    from llmsize.tensors import layer_tensors

    lay = mem.layout
    t = lay.tp
    lin = _linears(spec)
    if not lin:
        raise LlmsizeError(f"float8: {spec.name} has no dense linear layers for quantize.linear.float8")
    # ASSUMES: TP splits one dimension of each linear, so its casts shrink by t; the casts of the
    # largest linear are live at the peak on top of the bf16 replay's bytes (an upper bound).
    casts = max((tokens * i + 2 * tokens * o) * FP8_BYTES + (0 if fp8_all_gather else o * i * FP8_BYTES)
                for o, i in lin) // t
    out = [Term(name="float8 casts", value=casts, formula="max over linears (T·in + 2·T·out [+ in·out]) / t, "
                "1 B each (input e4m3, grad_output e5m2 twice, weight e4m3 unless gathered in float8)",
                source="torchao-float8")]
    if fp8_all_gather:
        layer = sum(x.numel for x in layer_tensors(spec, 0))
        f_lin = sum(o * i for o, i in lin) / layer
        gathered = sum(x.value for x in mem.terms if x.name in _GATHERED)
        saved = int(gathered * f_lin * (COMPUTE_BYTES - FP8_BYTES) / COMPUTE_BYTES)
        if saved:
            out.append(Term(name="float8 all-gather", value=-saved, source="torchao-float8",
                            formula="−(gathered layer bytes)·f_lin·½ (linear weights all-gathered in float8, "
                                    "1 B not 2)"))
    return tuple(out)


def float8_plan(spec: ModelSpec, job: Any, gpu_name: str, layout: Any) -> Float8Plan:
    """Memory per GPU and tokens/s of training `job` on `layout` x `gpu_name` with float8 linears; refused on
    a GPU without FP8 tensor cores. The GEMMs of the linears run at the GPU's FP8 peak, attention at bf16's
    (`speedmodel.train` with precision fp8-mixed).

    Source: torchao-float8"""
    from llmsize.catalog.hardware import parse_gpu
    from llmsize.pergpu import job_memory
    from llmsize.planner.search import train_tokens_per_s, with_steps

    g = parse_gpu(gpu_name)
    if not g.has("fp8"):
        raise LlmsizeError(f"float8 training needs FP8 tensor cores; {g.name} has none (Hopper, Ada, Blackwell "
                           "and MI300-class GPUs do): drop --float8 or pick such a GPU")
    lay = with_steps(job, layout)
    mem = job_memory(spec, job, lay)
    tokens = job.micro_batch * job.seq_len // lay.cp
    terms = float8_terms(spec, mem, tokens=tokens, fp8_all_gather=lay.shard > 1)
    return Float8Plan(peak_bytes=mem.peak_bytes + sum(x.value for x in terms), bf16_peak_bytes=mem.peak_bytes,
                      terms=terms, tokens_per_s=train_tokens_per_s(spec, job, g, lay, precision="fp8-mixed"),
                      bf16_tokens_per_s=train_tokens_per_s(spec, job, g, lay))
