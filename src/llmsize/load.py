"""Every way in, giving the same ModelSpec: a preset, a config.json (file, folder or stdin),
a safetensors file or sharded folder, a GGUF file, or architecture knobs."""
from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from llmsize import bounds
from llmsize.adapters.hub import RepoRef, parse_repo_ref
from llmsize.adapters.hf_config import parse_config_text, spec_from_config
from llmsize.catalog.presets import Preset, find_preset, get_preset, preset_config
from llmsize.errors import LlmsizeError
from llmsize.spec import MLP, Attention, MoE, ModelSpec, Norms

Origin = Literal["preset", "config", "safetensors", "gguf", "knobs"]
# a Hub repo loads as its config ("config"), its safetensors headers ("safetensors") or a GGUF ("gguf"),
# with `ref` the repo id as given


@dataclass(frozen=True, slots=True, kw_only=True)
class Loaded:
    """A resolved model: its spec, the config it came from (if any) and where it came from."""

    spec: ModelSpec
    origin: Origin
    ref: str
    config: dict[str, Any] | None = None
    preset: Preset | None = None
    checkpoint: Any = None  # adapters.safetensors / adapters.gguf Checkpoint when read from weights files


def load(ref: str, *, stdin_text: str | None = None, assume: str | None = None) -> Loaded:
    """Resolve MODEL: '-' (config.json on stdin), a path, a preset name, or a Hugging Face repo id
    (`org/name[@revision][:TAG_OR_FILE]`, headers only; see adapters.hub). `assume`: read a config whose
    model_type llmsize does not know as this known type (said in the spec's notes)."""
    if ref == "-":
        text = sys.stdin.read() if stdin_text is None else stdin_text
        cfg = parse_config_text(text, "stdin")
        return Loaded(spec=spec_from_config(cfg, _name(cfg, "stdin"), assume=assume), origin="config", ref=ref,
                      config=cfg)
    path, exists = existing_path(ref)
    if exists:
        return _load_path(path, ref, assume)
    preset = find_preset(ref)
    if preset is not None:
        return load_preset(preset)
    repo = parse_repo_ref(ref)
    if repo is not None:
        return load_repo(repo, ref, assume)
    if os.sep in ref or ref.endswith((".json", ".safetensors", ".gguf")):
        raise LlmsizeError(f"no such file or folder: {ref!r} (give a preset name, a Hugging Face repo id "
                           f"org/name, a config.json, a folder, a .safetensors or .gguf file, or '-' for stdin)")
    get_preset(ref)  # raises with "did you mean"
    raise AssertionError("unreachable")


def load_repo(repo: RepoRef, ref: str, assume: str | None = None) -> Loaded:
    """A Hub repo, read from its headers; named after the repo when its config does not say."""
    from llmsize.adapters.hub import fetch

    local = fetch(repo)
    kind = weights_format(local)
    loaded = _weights(local, kind[0], ref, assume) if kind is not None and (kind[0] == "gguf" or any(
        local.glob("*.safetensors"))) else _config_file(local / "config.json", assume)
    spec = loaded.spec
    if loaded.config is None or not loaded.config.get("_name_or_path"):
        spec = replace(spec, name=repo.name if loaded.origin != "gguf" else spec.name)
    return replace(loaded, spec=spec, ref=ref)


def load_preset(p: Preset | str) -> Loaded:
    p = get_preset(p) if isinstance(p, str) else p
    cfg = preset_config(p)
    return Loaded(spec=spec_from_config(cfg, p.name), origin="preset", ref=p.name, config=cfg, preset=p)


def _name(cfg: dict[str, Any], fallback: str) -> str:
    """The model's name: the last part of `_name_or_path` where it has one, else `fallback` (never empty)."""
    n = cfg.get("_name_or_path")
    last = str(n).strip().rstrip("/").split("/")[-1].strip() if isinstance(n, str) else ""
    return last if last and last not in (".", "..") else (fallback or "config.json")


def _config_file(path: Path, assume: str | None = None) -> Loaded:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise LlmsizeError(f"{path}: cannot read ({e.__class__.__name__}: {e})") from None
    cfg = parse_config_text(text, str(path))
    name = _name(cfg, path.parent.name if path.name == "config.json" else path.stem)
    return Loaded(spec=spec_from_config(cfg, name, assume=assume), origin="config", ref=str(path), config=cfg)


def weights_format(path: Path) -> tuple[Literal["safetensors", "gguf"], Path] | None:
    """Which weights file `path` is (a .safetensors file, an index, a folder of shards, a .gguf file or a
    folder holding exactly one), and the path to read; None when it holds no weights."""
    if path.is_dir():
        if any(path.glob("*.safetensors")) or any(path.glob("*.safetensors.index.json")):
            return "safetensors", path
        ggufs = sorted(path.glob("*.gguf"))
        return ("gguf", ggufs[0]) if len(ggufs) == 1 else None
    if path.suffix == ".safetensors" or path.name.endswith(".safetensors.index.json"):
        return "safetensors", path
    if path.suffix == ".gguf":
        return "gguf", path
    return None


def read_checkpoint(path: Path) -> Any:
    """Headers of a weights file or folder (safetensors or GGUF, by name or else by magic bytes)."""
    kind = weights_format(path)
    if kind is None and path.is_dir():
        raise LlmsizeError(f"{path}: no .safetensors files or single .gguf file in this folder")
    if kind is None:
        try:
            with open(path, "rb") as f:
                magic = f.read(4)
        except OSError as e:
            raise LlmsizeError(f"{path}: cannot read ({e.strerror})") from None
        kind = ("gguf" if magic == b"GGUF" else "safetensors", path)
    fmt, target = kind
    if fmt == "gguf":
        from llmsize.adapters.gguf import read_gguf

        return read_gguf(target)
    from llmsize.adapters.safetensors import read_safetensors

    return read_safetensors(target)


def existing_path(ref: str) -> tuple[Path, bool]:
    """(the path `ref` names, whether it exists); a name no path can have is simply not there."""
    try:
        path = Path(ref).expanduser()
        return path, path.exists()
    except (OSError, RuntimeError, ValueError):  # ~nouser/x, a name too long for a path, a NUL byte
        return Path(ref), False


def checkpoint_of(ref: str) -> Any:
    """The weights headers behind PATH (a file or folder) or a Hub repo id, for `inspect`."""
    path, exists = existing_path(ref)
    if not exists:
        repo = parse_repo_ref(ref)
        if repo is None:
            raise LlmsizeError(f"no such file or folder: {ref!r} (give a .safetensors or .gguf file, a folder of "
                               f"shards, or a Hugging Face repo id org/name[:TAG])")
        from llmsize.adapters.hub import fetch

        return replace(read_checkpoint(fetch(repo)), path=ref)
    return read_checkpoint(path)


def _load_path(path: Path, ref: str, assume: str | None = None) -> Loaded:
    kind = weights_format(path)
    if kind is not None and not (kind[0] == "gguf" and path.is_dir() and (path / "config.json").exists()):
        return _weights(kind[1], kind[0], ref, assume)
    if path.is_dir():
        if (path / "config.json").exists():
            return _config_file(path / "config.json", assume)
        raise LlmsizeError(f"{path}: folder has no config.json, safetensors or single .gguf file")
    return _config_file(path, assume)


def _weights(path: Path, fmt: Literal["safetensors", "gguf"], ref: str, assume: str | None = None) -> Loaded:
    if fmt == "gguf":
        ck = read_checkpoint(path)
        if ck.spec is None:
            why = f" ({ck.notes[-1]})" if ck.notes else ""
            raise LlmsizeError(f"{path}: no model spec from this GGUF file's metadata{why}; "
                               f"use `llmsize inspect` for its tensors")
        return Loaded(spec=ck.spec, origin="gguf", ref=ref, checkpoint=ck)
    ck = read_checkpoint(path)
    folder = path if path.is_dir() else path.parent
    cfg_path = folder / "config.json"
    if not cfg_path.exists():
        raise LlmsizeError(f"{path}: no config.json beside the safetensors; the spec needs it "
                           f"(parameters alone: `llmsize inspect {ref}`)")
    loaded = _config_file(cfg_path, assume)
    return replace(loaded, origin="safetensors", ref=ref, checkpoint=ck)


# -- architecture knobs -------------------------------------------------------------------------
KNOBS = ("hidden", "layers", "heads", "kv_heads", "head_dim", "ffn", "vocab", "gated", "tied", "norm", "bias",
         "positions", "max_positions", "experts", "top_k", "expert_ffn", "shared_ffn", "name")


def from_knobs(*, hidden: int, layers: int, heads: int, vocab: int, kv_heads: int | None = None,
               head_dim: int | None = None, ffn: int | None = None, gated: bool | None = None,
               tied: bool | None = None, norm: str | None = None, bias: bool | None = None,
               positions: str | None = None, max_positions: int | None = None, experts: int | None = None,
               top_k: int | None = None, expert_ffn: int | None = None, shared_ffn: int | None = None,
               fused_qkv: bool | None = None, dropout: float | None = None, act: str | None = None,
               name: str | None = None) -> ModelSpec:
    """A spec from the original calculator's knobs. Defaults are a modern Llama-style decoder;
    each default taken is written into the spec's notes."""
    _bounded(hidden=hidden, layers=layers, heads=heads, vocab=vocab, kv_heads=kv_heads, head_dim=head_dim, ffn=ffn,
             max_positions=max_positions, experts=experts, top_k=top_k, expert_ffn=expert_ffn, shared_ffn=shared_ffn)
    notes: list[str] = []
    gated = True if gated is None else gated
    if head_dim is None and hidden % heads:
        raise LlmsizeError(f"--heads ({heads}) must divide --hidden ({hidden}) unless --head-dim is given")
    if ffn is None:
        ffn = 256 * math.ceil(8 * hidden / 3 / 256) if gated else 4 * hidden
        notes.append(f"--ffn not given: assumed {ffn} ({'8d/3 rounded up to 256' if gated else '4d'})")
    bias = False if bias is None else bias
    norm = norm or ("rmsnorm" if not bias else "layernorm")
    positions = positions or "rope"
    if positions not in ("rope", "learned", "alibi", "none"):
        raise LlmsizeError(f"--positions must be rope, learned, alibi or none, got {positions!r}")
    if norm not in ("rmsnorm", "layernorm"):
        raise LlmsizeError(f"--norm must be rmsnorm or layernorm, got {norm!r}")
    moe = None
    if experts is not None:
        if top_k is None:
            raise LlmsizeError("--experts needs --top-k (experts used per token)")
        moe = MoE(num_experts=experts, top_k=top_k, expert_intermediate_size=expert_ffn or ffn,
                  expert_kind="gated" if gated else "plain", shared_intermediate_size=shared_ffn or 0)
    elif top_k is not None or expert_ffn is not None or shared_ffn is not None:
        raise LlmsizeError("--top-k, --expert-ffn and --shared-ffn need --experts")
    return ModelSpec(
        name=name or "custom", model_type="custom", hidden_size=hidden, num_layers=layers, vocab_size=vocab,
        attention=Attention(num_heads=heads, num_kv_heads=kv_heads or heads, head_dim=head_dim or hidden // heads,
                            qkv_bias=bias, o_bias=bias, fused_qkv=bool(fused_qkv)),
        mlp=MLP(kind="gated" if gated else "plain", intermediate_size=ffn, bias=bias,
                activation=act or ("silu" if gated else "gelu")),
        moe=moe, moe_layers=(True,) * layers if moe else (),
        norms=Norms(kind=norm, bias=norm == "layernorm" and bias),  # type: ignore[arg-type]
        position=positions,  # type: ignore[arg-type]
        max_position_embeddings=max_positions or 2048, tie_word_embeddings=bool(tied), notes=tuple(notes),
        hidden_dropout=dropout or 0.0, attention_dropout=dropout or 0.0,
        embed_dropout=(dropout or 0.0) if positions == "learned" else 0.0)


_KNOB_BOUNDS = {"hidden": "width", "layers": "layers", "heads": "heads", "kv_heads": "heads", "head_dim": "width",
                "ffn": "width", "vocab": "vocab", "max_positions": "context", "experts": "experts", "top_k": "experts",
                "expert_ffn": "width", "shared_ffn": "width"}


def _bounded(**knobs: Any) -> None:
    """Every claimed size within its bound (llmsize.bounds) before anything is built per layer or expert."""
    bounds.check_all("", {f"--{n.replace('_', '-')}": (v, _KNOB_BOUNDS[n]) for n, v in knobs.items()})


def apply_knobs(spec: ModelSpec, **knobs: Any) -> ModelSpec:
    """What-if: the spec with some architecture facts changed (e.g. a preset with fewer layers)."""
    k = {n: v for n, v in knobs.items() if v is not None}
    if not k:
        return spec
    unknown = set(k) - {"hidden", "layers", "heads", "kv_heads", "head_dim", "ffn", "vocab", "tied", "name",
                        "max_positions", "experts", "top_k", "expert_ffn"}
    if unknown:
        raise LlmsizeError(f"these knobs cannot change a loaded model: {', '.join(sorted(unknown))}")
    _bounded(**{n: v for n, v in k.items() if n not in ("tied", "name")})
    a = spec.attention
    heads = k.get("heads", a.num_heads)
    hidden = k.get("hidden", spec.hidden_size)
    # The head size stays what the model says unless --head-dim changes it, except where it was
    # hidden/heads to begin with (then it follows a new --hidden or --heads). MLA and models with an
    # explicit head_dim (Gemma, Qwen3) keep theirs.
    derived = not a.mla and a.head_dim * a.num_heads == spec.hidden_size
    head_dim = k.get("head_dim", None if derived and ("heads" in k or "hidden" in k) else a.head_dim)
    if head_dim is None:
        if hidden % heads:
            raise LlmsizeError(f"--heads ({heads}) must divide --hidden ({hidden}) unless --head-dim is given")
        head_dim = hidden // heads
    att = replace(a, num_heads=heads, num_kv_heads=k.get("kv_heads", min(a.num_kv_heads, heads)), head_dim=head_dim)
    layers = k.get("layers", spec.num_layers)
    changes: dict[str, Any] = dict(hidden_size=hidden, num_layers=layers, vocab_size=k.get("vocab", spec.vocab_size),
                                   attention=att, tie_word_embeddings=k.get("tied", spec.tie_word_embeddings),
                                   name=k.get("name", spec.name + " (modified)"),
                                   max_position_embeddings=k.get("max_positions", spec.max_position_embeddings))
    if "ffn" in k:
        if spec.moe is not None and spec.num_moe_layers == spec.num_layers:
            raise LlmsizeError(f"--ffn: every layer of {spec.name} is a mixture of experts; change the experts' "
                               f"width with --expert-ffn")
        changes["mlp"] = replace(spec.mlp, intermediate_size=k["ffn"])
    moe_knobs = {n: k[n] for n in ("experts", "top_k", "expert_ffn") if n in k}
    if moe_knobs:
        if spec.moe is None:
            raise LlmsizeError(f"--{'/--'.join(n.replace('_', '-') for n in moe_knobs)}: {spec.name} has no "
                               f"mixture-of-experts layers")
        changes["moe"] = replace(spec.moe, num_experts=k.get("experts", spec.moe.num_experts),
                                 top_k=k.get("top_k", spec.moe.top_k),
                                 expert_intermediate_size=k.get("expert_ffn", spec.moe.expert_intermediate_size))
    if layers != spec.num_layers:
        # Fewer layers keep the first ones; more layers continue the pattern: attention layer types
        # repeat with their period (Gemma 3's 5 sliding + 1 full), MoE layers repeat the last layer's
        # kind (DeepSeek's dense-first layers stay first).
        def periodic(t: tuple[Any, ...]) -> tuple[Any, ...]:
            if not t or layers <= len(t):
                return t[:layers]
            period = next(p for p in range(1, len(t) + 1) if all(t[i] == t[i % p] for i in range(len(t))))
            return tuple(t[i % period] for i in range(layers))
        m = spec.moe_layers
        changes["moe_layers"] = m[:layers] if layers <= len(m) else m + (m[-1],) * (layers - len(m)) if m else m
        changes["layer_types"] = periodic(spec.layer_types)
    return replace(spec, **changes)
