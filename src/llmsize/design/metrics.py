"""One row of numbers per model spec, the same for `design`, `compare` and `whatif`.

Nothing here re-derives a formula: parameters come from `llmsize.params.count`, weight bytes from
`llmsize.quant.formats.weight_plan`, KV bytes from `llmsize.quant.kv`, peak memory from
`llmsize.memory`, FLOPs, speed
and time from `llmsize.perf`, prices and cost from `llmsize.cost` and the hardware catalog, and
(with `plan=True`) the fewest GPUs, layout, memory per GPU, time and cost of training from the
planner's own search (`llmsize.planner.plan_report`). A part that is not available (a module not
built, a GPU without a price) is left None with a note.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from llmsize.errors import LlmsizeError, check_positive_ints
from llmsize.params import count
from llmsize.spec import ModelSpec


@dataclass(frozen=True, slots=True, kw_only=True)
class Setting:
    """The workload every row assumes (shown with the results)."""

    gpu: str = "H100"
    dtype: str = "bf16"  # weights, KV cache and compute
    weight_format: str | None = None  # a quantization format for the served weights (None: dtype)
    context: int = 8192  # serving: tokens in context (prompt + generated)
    batch: int = 1  # serving: concurrent sequences
    train_tokens: int | None = None  # None: the Chinchilla 20 tokens/param rule
    train_seq: int = 4096  # ASSUMES: 4K pre-training sequences (Llama 2 / Llama 3 first stage)
    train_gpus: int = 1024  # ASSUMES: wall time on 1,024 GPUs (GPU-hours and cost do not depend on it)
    micro_batch: int = 1
    mfu: float | None = None  # None: llmsize.perf.DEFAULT_MFU
    price: float | None = None  # USD per GPU-hour; None: the catalog's cheapest on-demand price

    def __post_init__(self) -> None:
        check_positive_ints({k.replace("_", " "): getattr(self, k)
                             for k in ("context", "batch", "train_seq", "train_gpus", "micro_batch")})
        if self.train_tokens is not None and self.train_tokens < 1:
            raise LlmsizeError(f"training tokens must be positive, got {self.train_tokens}")
        # a given MFU or price is used as given: 0, negative or NaN is an error, not "the default"
        if self.mfu is not None and (isinstance(self.mfu, bool) or not isinstance(self.mfu, (int, float))
                                     or not 0 < self.mfu <= 1):
            raise LlmsizeError(f"MFU must be in (0, 1], got {self.mfu!r}")
        if self.price is not None and (isinstance(self.price, bool) or not isinstance(self.price, (int, float))
                                       or not 0 < self.price < float("inf")):
            raise LlmsizeError(f"price must be a positive finite number of USD per GPU-hour, got {self.price!r}")

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True, slots=True, kw_only=True)
class Metrics:
    name: str
    params: int
    active_params: int
    embedding_params: int  # token embeddings + untied head + learned positions
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    ffn: int
    vocab: int
    weight_bytes: int | None
    kv_bytes_per_token: int | None
    kv_bytes: int | None  # at the serving context and batch
    flops_per_token: int | None  # forward FLOPs of one new token at the serving context
    train_flops_per_token: int | None
    serve_peak_bytes: int | None  # one device, generating at the serving context
    train_peak_bytes: int | None  # one device, whole model, before sharding (mixed precision, AdamW)
    decode_tokens_per_s: float | None
    decode_bound: str | None
    train_tokens: int
    train_flops: float | None
    gpu_hours: float | None
    train_days: float | None
    train_cost_usd: float | None
    price_source: str | None
    notes: tuple[str, ...] = field(default=())
    # the planner's fewest-GPU training setup on `setting.gpu` (`train_plan`); None unless asked for
    train_plan: dict[str, Any] | None = None
    kv_layers: str = ""  # the layer types the KV numbers assume (`kv_layers`)

    @property
    def non_embedding_params(self) -> int:
        return self.params - self.embedding_params

    @property
    def plan_gpus(self) -> int | None:
        """Fewest GPUs of the setting's type that train this model, by the planner (None: not planned)."""
        return None if self.train_plan is None else self.train_plan["gpus"]

    def as_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["non_embedding_params"] = self.non_embedding_params
        d["notes"] = list(self.notes)
        return d


def _embedding_params(spec: ModelSpec) -> int:
    pc = count(spec)
    return sum(t.value for t in pc.terms if t.name in ("embeddings", "positional", "head"))


def kv_layers(spec: ModelSpec) -> str:
    """The attention layer types the KV-cache numbers assume, as `llmsize.quant.kv` reads them from the
    spec: "32 full attention" or "21 full attention + 21 sliding window (4,096 tokens)". Per token every
    layer counts; at a context longer than the window a sliding layer holds only the window."""
    att = [i for i in range(spec.num_layers) if spec.has_attention(i)]
    n = len(att)
    sliding = sum(spec.layer_type(i) == "sliding" for i in att) if spec.sliding_window else 0
    parts = [f"{n - sliding} full attention"] if n - sliding else []
    if sliding:
        parts.append(f"{sliding} sliding window ({spec.sliding_window:,} tokens)")
    ssm = sum(spec.has_ssm(i) for i in range(spec.num_layers))
    if ssm:
        parts.append(f"{ssm} state-space (a fixed state per sequence)")
    return " + ".join(parts)


def weight_bytes(spec: ModelSpec, fmt: str) -> tuple[int, int]:
    """Exact stored bytes of the weights in `fmt` (a dtype or a quantization format), and the bytes
    one batch-1 decode step reads (routed experts k/E, one embedding row).

    Source: gptq"""
    from llmsize.quant.formats import weight_plan
    from llmsize.quant.planner import active_weight_bytes

    plan = weight_plan(spec, fmt)
    return plan.bytes, active_weight_bytes(spec, plan)


def _gpu(name: str) -> Any:
    from llmsize.catalog.hardware import parse_gpu

    return parse_gpu(name)


def metrics(spec: ModelSpec, setting: Setting = Setting(), *, weight_bytes_override: int | None = None,
            read_bytes_override: int | None = None, notes: tuple[str, ...] = (), plan: bool = False) -> Metrics:
    """Every number one design row shows, for `spec` under `setting` (`weight_bytes_override`: bytes
    of a storage format the quantization module does not know, such as 2:4 sparse; `plan`: also ask
    the planner for the fewest GPUs that train it, see `train_plan`)."""
    from llmsize import perf
    from llmsize.design.scaling import CHINCHILLA_TOKENS_PER_PARAM

    notes_: list[str] = list(notes)
    pc = count(spec)
    a = spec.attention
    gpu = _gpu(setting.gpu)
    fmt = setting.weight_format or setting.dtype
    wb: int | None = weight_bytes_override
    read: int | None = read_bytes_override if read_bytes_override is not None else weight_bytes_override
    if wb is None:
        try:
            wb, read = weight_bytes(spec, fmt)
        except LlmsizeError as e:
            notes_.append(f"weight bytes: {e}")
    kv_tok = kv_ctx = None
    try:
        from llmsize.quant.kv import attention_kv_bytes, kv_cache_bytes

        kv_tok = attention_kv_bytes(spec, 1, setting.dtype)  # per token: attention layers only
        kv_ctx = kv_cache_bytes(spec, setting.context, setting.dtype, batch=setting.batch)
    except LlmsizeError as e:
        notes_.append(f"KV cache: {e}")
    quantized = weight_bytes_override is not None or fmt not in ("bf16", "fp16", "fp32")
    bits = None
    if quantized and wb is not None and fmt not in ("bf16", "fp16", "fp32") and weight_bytes_override is None:
        bits = 8 * wb / pc.total_with_buffers  # below 16 the memory model adds a dequantisation buffer
    mem = _memory(spec, setting, weight_format=fmt, weight_bytes=wb if quantized else None, weight_bits=bits)
    notes_.extend(mem.get("notes", ()))
    tokens = setting.train_tokens or CHINCHILLA_TOKENS_PER_PARAM * pc.total
    fwd = round(perf.forward_flops(spec, 1, setting.context))
    train_fpt = sum(t.value for t in perf.train_flops_per_token(spec, setting.train_seq))
    decode = bound = None
    if wb is not None and read is not None and kv_tok is not None and gpu.bandwidth:
        # ASSUMES: at batch 1 a decode step reads the active weights (MoE: top-k experts); larger batches all
        step_weights = read if setting.batch == 1 else wb
        try:
            peak = gpu.peak_flops(setting.dtype)
            s = perf.serve_speed(spec, weights_per_gpu=step_weights, kv_bytes_per_token_gpu=kv_tok, tp=1, pp=1,
                                 peak_flops=peak, bandwidth=gpu.bandwidth, batch=setting.batch,
                                 prompt_len=max(1, setting.context // 2), output_len=max(1, setting.context // 2))
            decode, bound = s.decode_tokens_per_s, s.decode_bound
        except LlmsizeError as e:
            notes_.append(f"decode speed: {e}")
    train = _training(spec, setting, tokens, gpu, notes_)
    planned = None
    if plan:
        planned, plan_notes = train_plan(spec, setting, tokens)
        notes_.extend(plan_notes)
    return Metrics(
        name=spec.name, params=pc.total, active_params=pc.active, embedding_params=_embedding_params(spec),
        hidden=spec.hidden_size, layers=spec.num_layers, heads=a.num_heads, kv_heads=a.num_kv_heads,
        head_dim=a.head_dim, ffn=spec.moe.expert_intermediate_size if spec.moe else spec.mlp.intermediate_size,
        vocab=spec.vocab_size, weight_bytes=wb, kv_bytes_per_token=kv_tok, kv_bytes=kv_ctx, flops_per_token=fwd,
        train_flops_per_token=train_fpt, serve_peak_bytes=mem.get("serve_peak_bytes"),
        train_peak_bytes=mem.get("train_peak_bytes"), decode_tokens_per_s=decode, decode_bound=bound,
        train_tokens=tokens, **train, notes=tuple(notes_), train_plan=planned, kv_layers=kv_layers(spec))


def _training(spec: ModelSpec, setting: Setting, tokens: int, gpu: Any, notes: list[str]) -> dict[str, Any]:
    from llmsize import cost, perf
    from llmsize.speedmodel.train import GOODPUT  # the planner's run time: its train_plan agrees

    out: dict[str, Any] = dict(train_flops=None, gpu_hours=None, train_days=None, train_cost_usd=None,
                               price_source=None)
    try:
        peak = gpu.peak_flops(setting.dtype)
    except LlmsizeError as e:
        notes.append(f"training time: {e}")
        return out
    t = perf.train_time(spec, tokens=tokens, gpus=setting.train_gpus, peak_flops=peak, seq_len=setting.train_seq,
                        mfu=perf.DEFAULT_MFU if setting.mfu is None else setting.mfu, goodput=GOODPUT)
    out.update(train_flops=t.total_flops, gpu_hours=t.gpu_hours, train_days=t.days)
    price = cost.price_for(gpu.name, setting.price)
    if price is None:
        notes.append(f"no published price for {gpu.name}: give --price to see the cost")
    else:
        out.update(train_cost_usd=cost.training_cost(t.gpu_hours, price.usd_per_gpu_hour),
                   price_source=f"{price.provider} ${price.usd_per_gpu_hour:.2f}/GPU-hour ({price.retrieved})")
    return out


def _offloads(row: dict[str, Any]) -> bool:
    return row["offload_optimizer"] != "none" or row["offload_params"] != "none"


def train_plan(spec: ModelSpec, setting: Setting, tokens: float) -> tuple[dict[str, Any] | None, tuple[str, ...]]:
    """The fewest GPUs of type `setting.gpu` that train `spec` on `tokens` tokens, the layout the
    planner picks for them, memory per GPU, and the planner's time and cost on that setup.

    The planner's own search and ranking answer it (`plan_report(..., by="gpus")`, what `llmsize fit
    --find gpus` asks): its first setup that keeps the model in GPU memory, so that candidates are
    compared on what their GPUs hold. Setups that offload parameters or optimizer states to the host
    (the planner checks them against 2 TiB of host memory per node and slows their steps by PCIe and
    the host's optimizer step; by GPU count it puts a 70B model on one H100 with ~1.15 TiB of host
    memory, ~10% slower) are kept beside it (`fewest_with_offload`).

    The job is the one the single-device peak assumes (bf16 weights + fp32 master and AdamW states,
    activation recomputation, micro-batch `setting.micro_batch` of `setting.train_seq` tokens) with the
    planner's default global batch, at `setting.mfu`; up to 1,024 GPUs are searched."""
    from llmsize import perf
    from llmsize.planner import TrainJob, plan_report, resolve_gpus

    try:
        gpu = resolve_gpus([setting.gpu])[0]
        mfu = perf.DEFAULT_MFU if setting.mfu is None else setting.mfu
        job = TrainJob(seq_len=setting.train_seq, micro_batch=setting.micro_batch, tokens=float(tokens),
                       precision="bf16-mixed", optimizer="adamw", recompute=True, mfu=mfu)
        prices = None if setting.price is None else {gpu.name: setting.price}
        rep = plan_report(spec, job, gpu_names=[gpu.name], prices=prices, by="gpus", top=1 << 30)
    except LlmsizeError as e:
        return None, (f"training setup (planner): {e}",)
    in_gpu = next((r for r in rep["setups"] if not _offloads(r)), None)
    if in_gpu is None:
        if not gpu.has("bf16"):
            why = f"the planner trains in bf16 and {gpu.name} has no bf16 units"
        elif rep["setups"]:
            o = rep["setups"][0]
            why = (f"no setup of up to 1,024 {gpu.name} holds it without CPU offload (with offload: {o['gpus']} "
                   f"GPUs, {o['layout']}, {o['host_bytes'] / 2**30:,.0f} GiB of host memory)")
        else:
            why = f"no setup of up to 1,024 {gpu.name} holds it, even with CPU offload"
        return None, (f"training setup (planner): {why}",)
    out = dict(in_gpu)
    sec = out["seconds"]
    out.update(days=None if sec is None else sec / 86400,
               gpu_hours=None if sec is None else out["gpus"] * sec / 3600, job=rep["job"],
               searched=rep["searched"], feasible=rep["feasible"])
    off = rep["setups"][0]
    out["fewest_with_offload"] = (
        {k: off.get(k) for k in ("gpus", "layout", "memory_per_gpu_bytes", "host_bytes", "host_bytes_per_node",
                                 "host_memory_bytes", "offload_slowdown", "tokens_per_s", "seconds", "usd")}
        if _offloads(off) and off["gpus"] < in_gpu["gpus"] else None)
    return out, ()


def _memory(spec: ModelSpec, setting: Setting, *, weight_format: str, weight_bytes: int | None = None,
            weight_bits: float | None = None) -> dict[str, Any]:
    """Peak serving and training bytes from llmsize.memory, when it is built.

    Serving: generate `context/2` tokens after a `context/2`-token prompt (the same split perf's decode
    bound uses), weights as stored. Training: the whole model on one device before any sharding,
    bf16 autocast over fp32 master weights, AdamW, activation checkpointing, one `train_seq` sequence."""
    try:
        from llmsize.memory import Workload, estimate
    except ImportError:
        return {"notes": ("peak serving and training memory: llmsize.memory is not built yet",)}
    out: dict[str, Any] = {}
    notes: list[str] = []
    compute = setting.dtype if setting.dtype in ("bf16", "fp16", "fp32") else "bf16"
    half = max(1, setting.context // 2)
    try:
        serve = estimate(spec, Workload(mode="generate", batch=setting.batch, seq_len=half,
                                        new_tokens=max(0, setting.context - half), weights_dtype=compute),
                         weights_bytes_override=weight_bytes, weight_bits=weight_bits)
        out["serve_peak_bytes"] = serve.peak_bytes
    except LlmsizeError as e:
        notes.append(f"serving memory: {e}")
    try:
        # ASSUMES: mixed precision as most pre-training recipes: fp32 master weights, bf16 autocast, AdamW, full
        # activation checkpointing, micro-batch of one train_seq sequence.
        train = estimate(spec, Workload(mode="train", batch=setting.micro_batch, seq_len=setting.train_seq,
                                        weights_dtype="fp32", autocast="bf16", optimizer="adamw",
                                        grad_checkpointing=True))
        out["train_peak_bytes"] = train.peak_bytes
    except LlmsizeError as e:
        notes.append(f"training memory: {e}")
    out["notes"] = tuple(notes)
    return out
