"""`llmsize export ENGINE MODEL` as one function: the CLI and the web API (`POST /api/v1/export`) both call
`run_export` with the same options, so the page exports every engine the CLI does, planned the same way.

With a GPU type and count and no layout option the layout is the planner's best feasible one for the engine;
an explicit layout given with a GPU type is checked (FSDP hybrid_shard with its shard group) and refused with
the smallest change that fits, unless `force`. Every option is used or refused."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from llmsize.errors import LlmsizeError
from llmsize.parallel import spoken_label

ENGINES = ("vllm", "llamacpp", "deepspeed", "fsdp", "torchrun", "megatron", "torchtitan")
TRAIN_FLAGS = ("seq", "micro_batch", "global_batch", "precision", "recompute", "host_memory", "nvme")
SERVE_FLAGS = ("prompt", "output", "concurrency", "weights", "kv_dtype", "gpu_memory_utilization")
LAYOUT_FLAGS = ("tp", "pp", "cp", "ep", "zero", "fsdp", "offload_optimizer", "offload_params")
# every option and its value when not given (None: absent; the planner or the engine decides)
OPTIONS: dict[str, Any] = {
    **dict.fromkeys(("gpu_name", "gpus", *LAYOUT_FLAGS, *TRAIN_FLAGS, *SERVE_FLAGS, "max_model_len",
                     "kv_cache_dtype", "quantization", "max_num_seqs", "grad_accum", "ngl", "split_mode",
                     "shard_group", "virtual_stages")),
    "force": False, "gpus_per_node": 8, "script": "train.py", "kv_unified": False, "nvme_path": "/local_nvme",
    "float8": False, "allow_long": False, "units": "iec"}


# bytes per unit export's notes print, by --units: GiB (iec) or GB (si)
UNIT_BYTES = {"iec": (2**30, "GiB"), "si": (10**9, "GB")}


def size_text(n: int | float, units: str) -> str:
    """Bytes as export's notes print them: GiB (iec, 2^30 bytes) or GB (si, 10^9 bytes), one decimal."""
    scale, name = UNIT_BYTES[units]
    return f"{n / scale:,.1f} {name}"


@dataclass(frozen=True, slots=True)
class Exported:
    """The text an engine reads, and what export chose on the way (the CLI prints these on stderr)."""

    engine: str
    text: str
    notes: tuple[str, ...]
    layout: str = ""  # the layout written (Layout.label)
    memory_per_gpu: int | None = None  # its bytes per GPU when planned or checked


SERVING = ("vllm", "llamacpp")  # engines that plan a serving job; the others plan a training job


def canonical_fields(engine: str, seq_len: int | None, batch: int | None, *, gpu: str | None,
                     kv_cache_dtype: str | None) -> dict[str, Any]:
    """The engine's own job fields for the canonical --seq-len and --batch (docs/vocabulary.md): a
    training engine plans micro-batches of `batch` sequences of `seq_len` tokens, a serving engine
    `batch` concurrent requests of `seq_len` prompt tokens; a serving engine's --kv-cache-dtype (vLLM's
    fp8, llama.cpp's q8_0 ...) is also the KV dtype it is planned with when a GPU is given. One mapping
    for the CLI and the web API."""
    serving = engine in SERVING
    out = {"seq": None if serving else seq_len, "prompt": seq_len if serving else None,
           "micro_batch": None if serving else batch, "concurrency": batch if serving else None}
    if serving and gpu and kv_cache_dtype is not None:
        out["kv_dtype"] = kv_cache_dtype
    return out


def _flag(k: str) -> str:
    """The canonical flag of a job field (docs/vocabulary.md)."""
    return {"seq": "--seq-len", "prompt": "--seq-len", "micro_batch": "--batch", "concurrency": "--batch",
            "output": "--new-tokens", "kv_dtype": "--kv-cache-dtype", "recompute": "--grad-checkpointing"}.get(
        k, "--" + k.replace("_", "-"))


def _check_len(model_name: str, kw: dict[str, Any], job: Any, notes: list[str]) -> None:
    """A context past the model's trained length (the planned one, or --max-model-len) is refused unless
    --allow-long-context, as in every command; a model llmsize cannot read is not checked."""
    from llmsize.context import check_context
    from llmsize.load import load
    from llmsize.planner.jobs import TrainJob

    if not kw["gpu_name"] and kw["max_model_len"] is None:
        return
    try:
        loaded = load(model_name)
    except LlmsizeError:
        return
    if kw["max_model_len"] is not None:
        tokens, what = kw["max_model_len"], f"--max-model-len {kw['max_model_len']:,}"
    elif isinstance(job, TrainJob):
        tokens, what = job.seq_len, f"--seq-len {job.seq_len:,}"
    else:
        tokens, what = job.context, f"--seq-len {job.prompt_len:,} + {job.output_len:,} new tokens"
    note = check_context(loaded, tokens, allow_long=kw["allow_long"], what=what)
    if note:
        notes.append(note)


def _job(engine: str, kw: dict[str, Any]) -> Any:
    from llmsize.planner.jobs import make_job

    serving = engine in ("vllm", "llamacpp")
    wrong = [k for k in (TRAIN_FLAGS if serving else SERVE_FLAGS) if kw[k] is not None]
    if wrong:
        names = ", ".join(f"--{k.replace('_', '-')}" for k in wrong)  # only old spellings reach the wrong mode
        raise LlmsizeError(f"{names}: {'training' if serving else 'serving'} option(s), not for {engine}")
    given = {k: kw[k] for k in (SERVE_FLAGS if serving else TRAIN_FLAGS) if kw[k] is not None}
    if engine == "llamacpp":  # its layouts planned and timed as llama.cpp runs them, with its cache types
        given["engine"] = "llama.cpp"
    return make_job("serve" if serving else "train", **given, host_memory_name="--host-memory",
                    nvme_name="--nvme", flags=True)


def _max_num_seqs(job: Any, given: bool, gpu: str | None = None) -> int | None:
    """--max-num-seqs for a planned serving job: its batch where --batch was given, or for batch max the
    engine's default cap the plan assumed (written out, so the run batches as the plan timed it whatever the
    engine's release); None (the engine's own default) where --batch was not given, not a cap of one
    request that would serve them one at a time."""
    from llmsize.catalog.hardware import get_gpu
    from llmsize.speedmodel.efficiency import engine_default

    if job.concurrency == "max":
        return engine_default(job.engine, "max_seqs", get_gpu(gpu) if gpu else None)
    return job.concurrency if given else None


def planner_batch(job: Any, gpus: int, notes: list[str]) -> Any:
    """The planner's global batch (1024) when micro-batch x any data-parallel size on `gpus` divides it, else
    the nearest multiple of micro-batch x `gpus` (which every DP size dividing `gpus` divides), said in a note.

    B = argmin_{k ≥ 1} |k·b·G − 1024|"""
    step = job.micro_batch * gpus
    if job.global_batch % step == 0:
        return job
    k = max(1, round(job.global_batch / step))
    b = k * step
    notes.append(f"global batch {b}, not the planner's {job.global_batch}: the nearest multiple of micro-batch "
                 f"{job.micro_batch} x {gpus} GPUs, so every data-parallel size divides it (--global-batch sets it)")
    return replace(job, global_batch=b)


def _hybrid(layout: Any, kw: dict[str, Any], engine: str) -> Any:
    """hybrid_shard's shard group into the layout, so its memory is planned with it: the one given, else the
    data-parallel ranks of one node."""
    from llmsize.export import default_shard_group

    g = kw["shard_group"]
    if layout.fsdp != "hybrid_shard":
        if g is not None:
            raise LlmsizeError("--shard-group is for --fsdp hybrid_shard")
        return layout
    if engine not in ("fsdp", "torchtitan"):
        raise LlmsizeError(f"--fsdp hybrid_shard: {engine} has no FSDP hybrid sharding; export fsdp or torchtitan")
    g = g or default_shard_group(layout, kw["gpus_per_node"])
    if layout.dp % g:
        raise LlmsizeError(f"--shard-group {g} must divide the data-parallel size {layout.dp}")
    return replace(layout, shard_group=g)


def run_export(engine: str, model_name: str, **opts: Any) -> Exported:
    """What `llmsize export ENGINE MODEL [options]` prints. `opts` are the CLI's options by their Python
    names (`OPTIONS`); an unknown one is refused."""
    from llmsize.export import engine_setup, export
    from llmsize.export.planned import best_layout, check_given, grad_accum_for
    from llmsize.planner.jobs import TrainJob, make_layout

    if engine not in ENGINES:
        raise LlmsizeError(f"unknown export {engine!r} (known: {', '.join(ENGINES)})")
    unknown = sorted(set(opts) - set(OPTIONS))
    if unknown:
        raise LlmsizeError(f"export: unknown option(s) {', '.join(unknown)}")
    kw = {**OPTIONS, **opts}
    units = kw["units"]
    if units not in UNIT_BYTES:
        raise LlmsizeError(f"units must be iec (GiB) or si (GB), got {units!r}")
    notes: list[str] = []
    job = _job(engine, kw)
    _check_len(model_name, kw, job, notes)
    if kw["float8"] and engine != "torchtitan":
        raise LlmsizeError(f"--float8 is a torchtitan option, not for {engine}")
    if kw["virtual_stages"] and engine != "megatron":
        raise LlmsizeError(f"--virtual-stages is a Megatron option, not for {engine}")
    gpu = kw["gpu_name"]
    if not gpu:  # without a GPU nothing is planned: only what the engine writes itself is used
        uses = {"deepspeed": ("micro_batch", "global_batch"), "fsdp": ("recompute",),
                "megatron": ("micro_batch", "global_batch", "seq", "recompute"),
                "torchtitan": ("micro_batch", "global_batch", "seq", "precision", "recompute"),
                "vllm": ("gpu_memory_utilization",)}
        unused = [k for k in TRAIN_FLAGS + SERVE_FLAGS if kw[k] is not None and k not in uses.get(engine, ())]
        if unused:
            raise LlmsizeError(f"{', '.join(dict.fromkeys(_flag(k) for k in unused))}: plan inputs; give --gpu "
                               "TYPE --gpus N to plan with them")
    loaded = _loaded(model_name) if gpu else None
    spec = loaded.spec if loaded is not None else None
    if loaded is not None and not isinstance(job, TrainJob) and kw["weights"] is None and engine == "vllm":
        # as plan and speed: the checkpoint's own format (DeepSeek-V3's FP8 blocks), not bf16
        from llmsize.quant.native import choose_weights

        w = choose_weights(loaded, None)
        if w.key != job.weights:
            notes.append(f"--weights not given: {w.key}, the checkpoint's own ({w.origin})")
            job = job.with_(weights=w.key)
    elif loaded is not None and not isinstance(job, TrainJob) and engine == "vllm":
        kw["quantization"] = _vllm_loads(loaded, job.weights, kw["quantization"], notes)
    given = {k: kw[k] for k in LAYOUT_FLAGS if kw[k] is not None}
    if gpu and spec is None:
        raise LlmsizeError(f"--gpu plans for a catalogued model or a config file; {model_name!r} is neither")
    if gpu and kw["gpus"] is None and not given and engine != "llamacpp":
        raise LlmsizeError("--gpu plans a layout for a GPU count: give --gpus N too")
    train = isinstance(job, TrainJob)
    if gpu and train and kw["global_batch"] is None:
        from llmsize.export import node_split

        n = kw["gpus"] or make_layout(None, **given).gpus
        node_split(n, kw["gpus_per_node"])  # an uneven node split is refused before any planning
        job = planner_batch(job, n, notes)
    chosen = None
    if gpu and not given and engine != "llamacpp":
        chosen = best_layout(engine, spec, job, gpu, kw["gpus"])
        layout = chosen.layout
    else:
        layout = _hybrid(make_layout(kw["gpus"], **given), kw, engine)
        if gpu and engine != "llamacpp":
            if kw["force"]:
                notes.append(f"--force: {spoken_label(layout.label())} written without a memory check")
            else:
                chosen = check_given(engine, spec, job, gpu, layout, units=units)
    if not given and kw["shard_group"] is not None:
        raise LlmsizeError("--shard-group is for --fsdp hybrid_shard")
    if chosen is not None:
        mem = f", {size_text(chosen.memory_per_gpu, units)} per GPU" if chosen.memory_per_gpu else ""
        of = f" of {size_text(chosen.budget, units)}" if chosen.budget else ""
        notes.append(f"{chosen.note}{mem}{of}")
    if kw["float8"] and gpu:
        chosen = _float8(spec, job, gpu, layout, chosen, notes, units)
    accum = grad_accum_for(engine, job, layout, kw["grad_accum"], kw["global_batch"] is not None)
    planned_serve = gpu is not None and not train
    ngl = _ngl(kw["ngl"])
    if engine == "llamacpp" and gpu and ngl is None:
        ngl = _fit_ngl(model_name, spec, layout, kw, job, notes, units)
    # the plan's recomputation, where a plan (--gpu) or the flag asks for it
    checkpointing = bool(train and (gpu or kw["recompute"]) and job.recompute)
    s = engine_setup(engine if engine in ("vllm", "llamacpp", "deepspeed", "fsdp", "torchrun") else "torchrun",
                     model_name, layout,
                     max_model_len=kw["max_model_len"] or (job.context if planned_serve else None),
                     gpu_memory_utilization=job.utilization if not train else 0.9,
                     kv_cache_dtype=kw["kv_cache_dtype"], quantization=kw["quantization"],
                     max_num_seqs=kw["max_num_seqs"] or (_max_num_seqs(job, kw["concurrency"] is not None or
                                                                       engine == "llamacpp", gpu)
                                                         if planned_serve else None),
                     micro_batch=job.micro_batch if train else 1, grad_accum=accum or 1,
                     gpus_per_node=kw["gpus_per_node"], script=kw["script"], kv_unified=kw["kv_unified"],
                     gpu_layers=ngl, split_mode=kw["split_mode"], nvme_path=kw["nvme_path"],
                     shard_group=layout.shard_group,
                     activation_checkpointing=checkpointing)
    if checkpointing and engine in ("deepspeed", "torchrun"):
        # ASSUMES: the training script is Hugging Face's (Trainer / accelerate); DeepSpeed's JSON holds no switch
        #          for a Hugging Face model's checkpointing (its activation_checkpointing block is Megatron-DeepSpeed's)
        notes.append("activation checkpointing: the plan recomputes activations; turn it on in the training script "
                     "(model.gradient_checkpointing_enable(), or TrainingArguments(gradient_checkpointing=True)): "
                     f"the {engine} config cannot hold it")
    if engine in ("megatron", "torchtitan"):
        from llmsize.export.megatron import megatron_args
        from llmsize.export.torchtitan import torchtitan_toml

        loaded = loaded or _loaded(model_name)
        spec = spec or getattr(loaded, "spec", None)
        if spec is None:
            raise LlmsizeError(f"{engine} export writes the model's shape: give a catalogued model or a config.json, "
                               f"not {model_name!r}")
        if engine == "megatron":
            text = megatron_args(s, spec, job, virtual_stages=kw["virtual_stages"],
                                 config=getattr(loaded, "config", None), notes=notes)
        else:
            text = torchtitan_toml(s, spec, job, float8=kw["float8"])
    else:
        text = export(engine, s)
    mem = chosen.memory_per_gpu if chosen is not None else None
    return Exported(engine, text.rstrip("\n"), tuple(notes), layout.label(), mem)


def _float8(spec: Any, job: Any, gpu: str, layout: Any, chosen: Any, notes: list[str], units: str) -> Any:
    """torchtitan --float8 planned: memory with torchao's float8 casts and float8 all-gather, speed at the FP8
    GEMM peak (`llmsize.float8`); refused on a GPU without FP8 or when the float8 bytes do not fit."""
    from dataclasses import replace as with_

    from llmsize.float8 import float8_plan

    f8 = float8_plan(spec, job, gpu, layout)
    scale = UNIT_BYTES[units][0]
    if chosen is not None and chosen.budget is not None and f8.peak_bytes > chosen.budget:
        raise LlmsizeError(f"torchtitan export: {spoken_label(layout.label())} with float8 linears needs "
                           f"{size_text(f8.peak_bytes, units)} per GPU, {size_text(chosen.budget, units)} fit; give a "
                           "layout that leaves room (or --force)")
    notes.append(f"float8 linears: {size_text(f8.peak_bytes, units)} per GPU (bf16 {f8.bf16_peak_bytes / scale:,.1f}: "
                 + ", ".join(f"{t.name} {t.value / scale:+,.2f}" for t in f8.terms)
                 + f"), {f8.tokens_per_s:,.0f} tokens/s at the FP8 GEMM peak (bf16 {f8.bf16_tokens_per_s:,.0f})")
    return chosen if chosen is None else with_(chosen, memory_per_gpu=f8.peak_bytes)


def _fit_ngl(model_name: str, spec: Any, layout: Any, kw: dict[str, Any], job: Any, notes: list[str],
             units: str) -> int:
    """-ngl from the partial-offload fit of the GGUF on one GPU (a note says what it chose)."""
    from llmsize.engines.offload import ngl_report

    if layout.gpus != 1:
        raise LlmsizeError("export llamacpp --gpu fits -ngl on one GPU; for several give --ngl N (or 'auto', "
                           "llama.cpp's own fit): the command splits the layers evenly over them (-sm layer -ts 1,1,...)")
    if not model_name.lower().endswith(".gguf"):
        raise LlmsizeError(f"llama.cpp export: MODEL must be a .gguf file, got {model_name!r}")
    kv = kw["kv_cache_dtype"] or "f16"
    rep = ngl_report(spec, gguf_path=model_name, weights="F16", gpu_name=kw["gpu_name"], host_name="DDR5-5600-2ch",
                     context=kw["max_model_len"] or job.context, slots=kw["max_num_seqs"] or job.concurrency,
                     kv_type=kv)
    s = rep["split"]
    notes.append(f"-ngl {rep['ngl']} of {rep['layers']} fits {rep['gpu']} ({rep['verdict']}; "
                 f"{size_text(s['gpu_total'], units)} on the GPU, {size_text(s['host_total'], units)} on the host)")
    return int(rep["ngl"])


def _ngl(v: Any) -> int | str | None:
    if v is None or v in ("auto", "all"):
        return v
    try:
        n = int(v)
    except (TypeError, ValueError):
        raise LlmsizeError(f"--ngl must be a layer count, 'auto' or 'all', got {v!r}") from None
    if n < 0:
        raise LlmsizeError(f"--ngl must be >= 0, got {n}")
    return n


def _vllm_loads(loaded: Any, weights: str, quantization: str | None, notes: list[str]) -> str | None:
    """The --quantization that makes vLLM serve `--weights` from this checkpoint (what the plan assumed):
    none where they are the checkpoint's own format (or another 16-bit dtype of it), fp8 where a 16-bit
    checkpoint is to run in FP8 (vLLM quantizes it as it loads); any other format needs a checkpoint
    stored in it, which vLLM cannot make, so it is refused rather than written for weights the plan did
    not count.

    Source: vllm-quantization"""
    from llmsize.quant.native import choose_weights

    own = choose_weights(loaded, None).key
    sixteen = ("bf16", "fp16")
    if weights == own or (weights in sixteen and own in sixteen + ("fp32",)):
        return quantization
    if weights == "fp8" and own in sixteen + ("fp32",):
        if quantization not in (None, "fp8"):
            raise LlmsizeError(f"--weights fp8 and --quantization {quantization} disagree: give one of them")
        notes.append(f"--weights fp8 from a {own} checkpoint: --quantization fp8 (vLLM quantizes the weights to "
                     "FP8 as it loads them)")
        return "fp8"
    raise LlmsizeError(f"--weights {weights} plans weights stored as {weights}, but {loaded.spec.name}'s checkpoint "
                       f"holds {own}, and vLLM serves a checkpoint in its own format: give the repo id of a checkpoint "
                       f"stored as {weights} (its quantization_config sets vLLM's method), or --weights {own} "
                       "(or fp8, which vLLM makes as it loads)")


def _loaded(name: str) -> Any:
    from llmsize.load import load

    try:
        return load(name)
    except LlmsizeError:
        return None
