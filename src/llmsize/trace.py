"""Exact mode: build the model from its config with the installed transformers on fake tensors, run
the workload under PyTorch's memory tracker, and report PyTorch's own peak with its breakdown.

The method is the one the shared truth generator uses (torch's MemTracker under FakeTensorMode, so
no weights are read or allocated and no GPU is needed): the peak is the largest total of live tensor
bytes, weights included, at any moment of the run; it excludes what lies outside PyTorch's tensors
(CUDA context, allocator reserve). Needs the optional extra: pip install 'llmsize[trace]'.
torch and transformers are imported only when a trace runs, never by the package or the CLI.

Source: pytorch-memtracker
"""
from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmsize.errors import LlmsizeError
from llmsize.memory.workload import Workload

CATEGORIES = ("params", "buffers", "grads", "activations", "temp", "optimizer", "other")
_TRACKER_NAMES = {"PARAM": "params", "BUFFER": "buffers", "GRAD": "grads", "ACT": "activations", "TEMP": "temp",
                  "OPT": "optimizer", "OTH": "other"}
OPTIMIZERS = ("adamw", "adam", "sgd", "sgd-momentum")


@dataclass(frozen=True, slots=True, kw_only=True)
class TraceResult:
    """PyTorch's peak for one workload, and MemTracker's labelling of what was live at that moment."""

    model_type: str
    peak_bytes: int
    breakdown: dict[str, int]
    params: int
    trainable_params: int
    wall_s: float
    versions: dict[str, str] = field(default_factory=dict)


def _imports() -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError as e:
        raise LlmsizeError(f"llmsize trace needs torch and transformers ({e.name} is not installed): "
                           f"pip install 'llmsize[trace]'") from None
    return torch, transformers


@contextlib.contextmanager
def _unpacked_inputs(transformers: Any) -> Iterator[None]:
    """On fake tensors transformers cannot read that the default position ids are not packed (a
    data-dependent check) and would build a b x 1 x q x kv mask a real run never builds; answer the
    check as the real run does (not packed), for the duration of the trace."""
    from transformers import masking_utils
    from transformers.utils.import_utils import is_fake_tensor

    orig = masking_utils.find_packed_sequence_indices

    def real_answer(position_ids: Any) -> Any:
        r = orig(position_ids)
        return None if r is not None and is_fake_tensor(r) else r

    masking_utils.find_packed_sequence_indices = real_answer
    try:
        yield
    finally:
        masking_utils.find_packed_sequence_indices = orig


@contextlib.contextmanager
def module_to_on_fake(torch: Any) -> Iterator[None]:
    """peft moves adapters with nn.Module.to(), which swaps tensors in place and fails on fake
    parameters; inside this context .to() re-assigns converted Parameters and buffers instead (the
    same end state)."""
    nn = torch.nn
    orig = nn.Module.to

    def to(self: Any, *args: Any, **kwargs: Any) -> Any:
        device, dtype, _, _ = torch._C._nn._parse_to(*args, **kwargs)

        def change(t: Any) -> dict[str, Any]:
            kw: dict[str, Any] = {}
            if device is not None and t.device != device:
                kw["device"] = device
            if dtype is not None and (t.is_floating_point() or t.is_complex()) and t.dtype != dtype:
                kw["dtype"] = dtype
            return kw

        for m in self.modules():
            for n, p in list(m.named_parameters(recurse=False)):
                if kw := change(p):
                    setattr(m, n, nn.Parameter(p.data.to(**kw), requires_grad=p.requires_grad))
            for n, b in list(m.named_buffers(recurse=False)):
                if kw := change(b):
                    m._buffers[n] = b.to(**kw)
        return self

    nn.Module.to = to
    try:
        yield
    finally:
        nn.Module.to = orig


def _tracker(torch: Any) -> Any:
    """MemTracker keeping only the global peak (its per-module bookkeeping walks every module after every
    op); the global peak snapshot is the same."""
    from copy import deepcopy

    from torch.distributed._tools.mem_tracker import _TOTAL_KEY, MemTracker

    class PeakTracker(MemTracker):  # type: ignore[misc]
        def _update_peak_stats(self, peak_state: Any) -> None:
            for dev, snap in self._curr_mem_snap.items():
                if self._peak_mem.get(dev, 0) < snap[_TOTAL_KEY]:
                    self._peak_mem[dev] = snap[_TOTAL_KEY]
                    self._peak_mem_snap[dev] = deepcopy(snap)

    return PeakTracker()


def build_config(cfg: Mapping[str, Any], *, folder: Path | None = None, trust_remote_code: bool = False) -> Any:
    """The transformers config: from the dict for types transformers knows, else from the folder's own
    code when the user allows it."""
    _, transformers = _imports()
    mt = cfg.get("model_type")
    try:
        if folder is not None and trust_remote_code:
            return transformers.AutoConfig.from_pretrained(str(folder), trust_remote_code=True)
        return transformers.AutoConfig.for_model(**dict(cfg))
    except (ValueError, KeyError, TypeError, OSError) as e:
        hint = "" if trust_remote_code else " (a model with its own code: give its folder and --trust-remote-code)"
        raise LlmsizeError(f"transformers {transformers.__version__} cannot build model_type {mt!r}: "
                           f"{str(e).splitlines()[0][:200]}{hint}") from None


def _optimizer(torch: Any, name: str, params: list[Any]) -> Any:
    if name in ("adamw", "adam"):
        return (torch.optim.AdamW if name == "adamw" else torch.optim.Adam)(params, lr=1e-4, foreach=True)
    if name in ("sgd", "sgd-momentum"):
        return torch.optim.SGD(params, lr=1e-3, momentum=0.9 if name == "sgd-momentum" else 0.0)
    raise LlmsizeError(f"trace runs optimizers {', '.join(OPTIMIZERS)}; got {name!r}")


def trace(cfg: Mapping[str, Any], wl: Workload, *, folder: Path | None = None,
          trust_remote_code: bool = False) -> TraceResult:
    """Run `wl` on the model `cfg` describes, on fake tensors under MemTracker; PyTorch's peak.

    train: model.train(); loss = model(input_ids=x, labels=x).loss; backward; optimizer step; zero_grad,
    twice (so optimizer states exist); forward: eval, no_grad, full logits, no cache; generate: eval,
    no_grad, prefill with logits_to_keep=1, then new_tokens - 1 one-token steps on the returned cache.
    The class is the causal LM; encoder-decoders (T5) run AutoModelForSeq2SeqLM (train: decoder input =
    labels shifted right, s tokens; forward: decoder over the same s tokens; generate: the encoder once,
    then new_tokens decoder steps from one start token on its self-attention cache, cross-attention
    keys/values computed once); encoders (BERT, ModernBERT) run AutoModelForMaskedLM (train: the MLM loss
    on labels = input_ids; forward: all logits) and do not generate.

    Source: pytorch-memtracker"""
    torch, transformers = _imports()
    import warnings

    from torch._subclasses.fake_tensor import DataDependentOutputException, FakeTensorMode

    transformers.logging.set_verbosity_error()
    warnings.filterwarnings("ignore", module="transformers")

    if wl.runtime != "torch":
        raise LlmsizeError(f"trace runs PyTorch + transformers, not {wl.runtime}")
    if wl.mode == "train" and wl.opt not in OPTIMIZERS:
        raise LlmsizeError(f"trace runs optimizers {', '.join(OPTIMIZERS)}; got {wl.opt!r}")
    conf = build_config(cfg, folder=folder, trust_remote_code=trust_remote_code)
    conf.use_cache = wl.mode == "generate"
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[wl.weights_dtype]
    t0 = time.perf_counter()
    kind = _kind(transformers, conf)
    if kind == "masked" and wl.mode == "generate":
        raise LlmsizeError(f"{conf.model_type!r} is an encoder: it does not generate; trace --mode forward or train")
    if kind == "seq2seq" and getattr(conf, "decoder_start_token_id", None) is None:
        raise LlmsizeError(f"{conf.model_type!r} config lacks decoder_start_token_id, which the decoder needs to "
                           f"start (T5 checkpoints set 0); add it to config.json")
    auto = {"causal": transformers.AutoModelForCausalLM, "seq2seq": transformers.AutoModelForSeq2SeqLM,
            "masked": transformers.AutoModelForMaskedLM}[kind]
    with FakeTensorMode(), _unpacked_inputs(transformers):
        kw = dict(dtype=dtype, attn_implementation=wl.attn_impl, trust_remote_code=trust_remote_code)
        try:
            try:
                model = auto.from_config(conf, **kw)
            except DataDependentOutputException:
                # an initialiser that reads values (ModernBERT's trunc_normal_) cannot run on fake tensors: build
                # the same parameters uninitialised, then tie them as post_init would
                from transformers.initialization import no_init_weights

                with no_init_weights():
                    model = auto.from_config(conf, **kw)
                model.tie_weights()
        except (ValueError, KeyError, TypeError) as e:
            msg = str(e).splitlines()[0]
            hint = " (try --attn eager)" if "attention implementation" in msg and wl.attn_impl != "eager" else ""
            what = {"causal": "a causal LM", "seq2seq": "a seq2seq LM", "masked": "a masked LM"}[kind]
            raise LlmsizeError(f"transformers cannot build {what} for {conf.model_type!r}: "
                               f"{msg[:200]}{hint}") from None
        if wl.mode == "train":
            model.config.use_cache = False
            if wl.grad_checkpointing:
                model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            if wl.lora is not None:
                model = _with_lora(torch, model, wl, kind)
        params = sum(p.numel() for p in model.parameters())
        vocab = getattr(conf, "vocab_size", None) or conf.get_text_config().vocab_size
        x = torch.randint(0, vocab, (wl.batch, wl.seq_len))
        mt = _tracker(torch)
        trainable = 0
        if wl.mode == "train":
            model.train()
            ps = [p for p in model.parameters() if p.requires_grad]
            trainable = sum(p.numel() for p in ps)
            opt = _optimizer(torch, wl.opt, ps)
            mt.track_external(model, opt)
            for p in model.parameters():  # frozen (LoRA base) parameters take no gradient hook
                if not p.requires_grad:
                    mt._param_to_grad_hook_handles[p] = (_NoHandle(), _NoHandle())
            amp = (torch.autocast("cpu", dtype=torch.bfloat16 if wl.autocast == "bf16" else torch.float16)
                   if wl.autocast else contextlib.nullcontext())
            with mt:
                for i in range(2):
                    with amp:
                        loss = model(input_ids=x, labels=x).loss
                    loss.backward()
                    opt.step()
                    opt.zero_grad(set_to_none=True)
                    del loss
                    if i == 0:
                        mt.reset_mod_stats()  # per-module stats only; the global peak is kept
        else:
            model.eval()
            mt.track_external(model)
            with mt, torch.no_grad():
                if wl.mode == "forward":
                    out = model(input_ids=x, use_cache=False, **({"decoder_input_ids": x} if kind == "seq2seq" else {}))
                    del out
                elif kind == "seq2seq":
                    enc = model.get_encoder()(input_ids=x)
                    start = torch.zeros((wl.batch, 1), dtype=torch.long)
                    out = model(encoder_outputs=enc, decoder_input_ids=start, use_cache=True)
                    for _ in range(max(0, wl.new_tokens - 1)):
                        mt.reset_mod_stats()
                        nxt = out.logits[:, -1:].argmax(-1)
                        out = model(encoder_outputs=enc, decoder_input_ids=nxt, past_key_values=out.past_key_values,
                                    use_cache=True)
                    del out, enc
                else:
                    out = model(input_ids=x, use_cache=True, logits_to_keep=1)
                    for _ in range(max(0, wl.new_tokens - 1)):
                        mt.reset_mod_stats()  # the root module is re-entered each step
                        nxt = out.logits[:, -1:].argmax(-1)
                        # state-space models (Mamba-2) return their cache as cache_params
                        past = ({"cache_params": out.cache_params} if getattr(out, "cache_params", None) is not None
                                else {"past_key_values": out.past_key_values})
                        out = model(input_ids=nxt, use_cache=True, **past)
                    del out
        snap = mt.get_tracker_snapshot("peak")
    dev = next(iter(snap.values())) if snap else {}
    breakdown = {c: 0 for c in CATEGORIES}
    total = 0
    for k, v in dev.items():
        if getattr(k, "name", None) in _TRACKER_NAMES:
            breakdown[_TRACKER_NAMES[k.name]] += int(v)
        else:
            total = int(v)
    versions = {"torch": torch.__version__, "transformers": transformers.__version__}
    return TraceResult(model_type=str(conf.model_type), peak_bytes=total, breakdown=breakdown, params=int(params),
                       trainable_params=int(trainable), wall_s=round(time.perf_counter() - t0, 2),
                       versions=versions)


class _NoHandle:
    def remove(self) -> None:
        pass


def _kind(transformers: Any, conf: Any) -> str:
    """causal (decoders), seq2seq (encoder-decoders: T5) or masked (encoders with no causal-LM class)."""
    from transformers.models.auto import modeling_auto as ma

    mt = getattr(conf, "model_type", None)
    if getattr(conf, "is_encoder_decoder", False) and mt in ma.MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES:
        return "seq2seq"
    # BERT-likes have both classes; their causal one needs is_decoder, a config they are not
    if mt in ma.MODEL_FOR_MASKED_LM_MAPPING_NAMES and not getattr(conf, "is_decoder", False):
        return "masked"
    return "causal"


def _with_lora(torch: Any, model: Any, wl: Workload, kind: str = "causal") -> Any:
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError:
        raise LlmsizeError("trace with LoRA needs peft: pip install peft") from None
    assert wl.lora is not None
    tm = wl.lora.target_modules
    task = {"causal": "CAUSAL_LM", "seq2seq": "SEQ_2_SEQ_LM", "masked": None}[kind]
    lc = LoraConfig(r=wl.lora.r, lora_alpha=wl.lora.alpha, lora_dropout=0.0, bias="none", task_type=task,
                    target_modules="all-linear" if tm == ("all-linear",) else list(tm))
    try:
        with module_to_on_fake(torch):
            model = get_peft_model(model, lc)
    except ValueError as e:  # peft's NoMatchingPeftModuleError: a target the model has no module of
        if "Target modules" not in str(e):
            raise
        raise LlmsizeError(f"--lora-targets {','.join(tm)}: no module of this model has that name (give its own "
                           "leaf names, e.g. c_attn for GPT-2, or all-linear)") from None
    if wl.grad_checkpointing:
        model.enable_input_require_grads()
    return model
