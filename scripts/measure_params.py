"""Measure PyTorch's own parameter counts for every preset in the llmsize catalog.

Not part of the package (never imported by it): a generator for the test data
`tests/data/param_counts.json` and `tests/data/lora_counts.json`.

Needs torch, transformers and peft (the reference run used torch 2.13.0 CPU,
transformers 5.23.0, peft 0.21.2):

    python scripts/measure_params.py                 # all presets, both files
    python scripts/measure_params.py --only qwen3    # substring filter on preset names
    python scripts/measure_params.py --no-lora       # parameter counts only

For each preset in `src/llmsize/catalog/models/index.toml` the stored config.json is
turned into a config with `transformers.AutoConfig.for_model(**cfg)` and the model is
built from it with random init inside `torch._subclasses.fake_tensor.FakeTensorMode()`
(shape-only tensors: 405B and 671B models cost no memory); where fake mode fails it
falls back to `torch.device("meta")`. Multimodal wrappers (a config with `text_config`)
are built with the class transformers picks for the full config and, separately, the
text-only causal LM from `text_config`.

Recorded per model: `params` = sum(p.numel() for p in model.parameters()) (tied weights
once, as parameters() does), persistent buffers, whether lm_head shares the input
embedding's storage, per-component totals and per-layer-kind totals.

LoRA counts: peft's `LoraConfig(r, lora_alpha=2r, target_modules, lora_dropout=0.0,
bias="none", task_type="CAUSAL_LM")`, then the numel of parameters with requires_grad,
for (a) r=16 on the query+value projections and (b) r=64 with target_modules="all-linear".
"""
import argparse
import contextlib
import datetime
import json
import os
import re
import sys
import time
import traceback
import warnings

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib

import torch
import torch.nn as nn
import transformers
from torch._subclasses.fake_tensor import FakeTensorMode
from transformers import AutoConfig, AutoModelForCausalLM

warnings.filterwarnings("ignore")
transformers.logging.set_verbosity_error()

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CATALOG = os.path.join(ROOT, "src", "llmsize", "catalog", "models")

# LoRA case (a): query + value projections; the fused qkv module where the model fuses them.
QV_TARGETS = {
    "gpt2": ["c_attn"],
    "gpt_neox": ["query_key_value"],
    "phi3": ["qkv_proj"],
    "falcon": ["query_key_value"],
    "bloom": ["query_key_value"],
    "gpt_bigcode": ["c_attn"],
    "mpt": ["Wqkv"],
}
QV_DEFAULT = ["q_proj", "v_proj"]


# ----------------------------------------------------------------------------------------------
# fake_safe_module_to: approach copied from shared/truth/generate_truth.py (the project's peak
# memory ground-truth generator), which found that nn.Module.to() on FakeTensor parameters fails
# inside peft's adapter injection.
# ----------------------------------------------------------------------------------------------
def fake_safe_module_to():
    """nn.Module.to() on fake parameters (peft's adapter injection): llmsize.trace's helper."""
    from llmsize.trace import module_to_on_fake

    return module_to_on_fake(torch)


# ----------------------------------------------------------------------------------------------
# Building
# ----------------------------------------------------------------------------------------------

def load_index():
    with open(os.path.join(CATALOG, "index.toml"), "rb") as f:
        return tomllib.load(f)["model"]


def load_cfg(entry):
    with open(os.path.join(CATALOG, entry["file"])) as f:
        return json.load(f)


# model_types whose config.json names its own type but whose auto_map loads another's classes: built as that type
# (moonshotai/Kimi-K2-Instruct: model_type kimi_k2, auto_map configuration_deepseek.DeepseekV3Config).
BUILT_AS = {"kimi_k2": "deepseek_v3"}


def make_config(cfg):
    """AutoConfig.for_model(**cfg). Returns (config, notes)."""
    notes = []
    kw = dict(cfg)
    if kw.get("model_type") in BUILT_AS:
        notes.append(f"model_type {kw['model_type']} built as {BUILT_AS[kw['model_type']]} (its auto_map's classes)")
        kw["model_type"] = BUILT_AS[kw["model_type"]]
    config = AutoConfig.for_model(**kw)
    if getattr(config, "quantization_config", None) is not None:
        # from_config builds the unquantized architecture anyway; drop it so nothing tries to
        # apply a quantizer to fake tensors.
        notes.append("quantization_config present in config.json; model built unquantized (from_config)")
        try:
            del config.quantization_config
        except AttributeError:
            config.quantization_config = None
    return config, notes


def auto_class_for(config):
    return AutoModelForCausalLM


@contextlib.contextmanager
def build_ctx(mode):
    if mode == "fake":
        with FakeTensorMode(allow_non_fake_inputs=True):
            yield
    else:
        with torch.device("meta"):
            yield


def build_model(config, cls=None, modes=("fake", "meta")):
    """Returns (model, mode, errors)."""
    cls = cls or auto_class_for(config)
    errors = []
    for mode in modes:
        try:
            ctx = build_ctx(mode)
            ctx.__enter__()
            try:
                model = cls.from_config(config)
            except BaseException:
                ctx.__exit__(*sys.exc_info())
                raise
            return model, mode, ctx, errors
        except Exception as e:  # noqa: BLE001
            errors.append(f"{mode}: {type(e).__name__}: {e}"[:400])
    raise RuntimeError("; ".join(errors))


# ----------------------------------------------------------------------------------------------
# Counting
# ----------------------------------------------------------------------------------------------

def find_layer_list(model):
    """The decoder layers: the nn.ModuleList with the most parameters."""
    best, best_name, best_n = None, None, -1
    for name, mod in model.named_modules():
        if isinstance(mod, nn.ModuleList) and len(mod) > 0:
            n = sum(p.numel() for p in mod.parameters())
            if n > best_n:
                best, best_name, best_n = mod, name, n
    return best_name, best


def persistent_buffers(model):
    out = []
    for mname, mod in model.named_modules():
        for bname, b in mod._buffers.items():
            if b is None or bname in mod._non_persistent_buffers_set:
                continue
            out.append((f"{mname}.{bname}" if mname else bname, tuple(b.shape), b.numel()))
    return out


def name_pattern(name):
    return re.sub(r"\.\d+\.", ".*.", name)


def module_param_ids(mod):
    return {id(p) for p in mod.parameters()} if mod is not None else set()


def count_components(model, multimodal=False):
    params = dict(model.named_parameters())  # remove_duplicate=True: tied weights once
    total = sum(p.numel() for p in params.values())

    in_emb = model.get_input_embeddings()
    try:
        out_emb = model.get_output_embeddings()
    except Exception:  # noqa: BLE001
        out_emb = None
    tied = bool(out_emb is not None and in_emb is not None and out_emb.weight is in_emb.weight)

    layers_name, layers = find_layer_list(model)
    # Vision tower / projector of multimodal wrappers.
    vision_prefixes = []
    if multimodal:
        for name, mod in model.named_modules():
            leaf = name.split(".")[-1]
            if leaf in ("vision_tower", "vision_model", "visual", "multi_modal_projector", "mm_projector",
                        "vision_encoder"):
                vision_prefixes.append(name + ".")
        vision_prefixes = [p for p in vision_prefixes if not any(p != q and p.startswith(q) for q in vision_prefixes)]

    in_ids = module_param_ids(in_emb)
    out_ids = module_param_ids(out_emb)
    emb_module_ids = set()
    for name, mod in model.named_modules():
        if isinstance(mod, nn.Embedding) and not any(name.startswith(v) for v in vision_prefixes):
            if layers_name is None or not name.startswith(layers_name + "."):
                emb_module_ids |= module_param_ids(mod)

    comp = {"embeddings": 0, "layers": 0, "final_norm": 0, "lm_head": 0, "vision": 0, "other": 0}
    other_names = []
    per_layer = {}
    layer_prefix = (layers_name + ".") if layers_name else None
    for name, p in params.items():
        n = p.numel()
        if any(name.startswith(v) for v in vision_prefixes):
            comp["vision"] += n
            continue
        if layer_prefix and name.startswith(layer_prefix):
            idx = int(name[len(layer_prefix):].split(".")[0])
            per_layer.setdefault(idx, []).append((name[len(layer_prefix):].split(".", 1)[1], tuple(p.shape), n))
            comp["layers"] += n
            continue
        if id(p) in in_ids or id(p) in emb_module_ids:
            comp["embeddings"] += n
        elif id(p) in out_ids:
            comp["lm_head"] += n
        elif re.search(r"(^|\.)(norm|final_layer_norm|ln_f|final_layernorm|norm_f)\.", name):
            comp["final_norm"] += n
        else:
            comp["other"] += n
            other_names.append((name, tuple(p.shape)))
    assert sum(comp.values()) == total, (comp, total)

    kinds = {}
    for idx in sorted(per_layer):
        sig = tuple(sorted((k, s) for k, s, _ in per_layer[idx]))
        kinds.setdefault(sig, []).append(idx)
    layer_kinds = []
    for sig, idxs in kinds.items():
        n = sum(per_layer[idxs[0]][j][2] for j in range(len(per_layer[idxs[0]])))
        # per-submodule breakdown of this layer kind
        sub = {}
        for k, s, cnt in per_layer[idxs[0]]:
            top = k.split(".")[0]
            sub[top] = sub.get(top, 0) + cnt
        layer_kinds.append({"layers": idxs, "params_per_layer": n, "by_submodule": sub,
                            "params": {k: list(s) for k, s in sig}})
    layer_kinds.sort(key=lambda d: d["layers"][0])

    bufs = persistent_buffers(model)
    buf_patterns = {}
    for bname, shape, n in bufs:
        pat = name_pattern(bname)
        d = buf_patterns.setdefault(pat, {"shape": list(shape), "count": 0, "numel": 0})
        d["count"] += 1
        d["numel"] += n

    return {
        "params": int(total),
        "tied": tied,
        "components": {k: int(v) for k, v in comp.items()},
        "other_params": [[n, list(s)] for n, s in other_names],
        "layers_module": layers_name,
        "num_layers": len(layers) if layers is not None else 0,
        "layer0_params": int(layer_kinds[0]["params_per_layer"]) if layer_kinds else 0,
        "layer_kinds": layer_kinds,
        "buffers_persistent": int(sum(n for _, _, n in bufs)),
        "buffers_persistent_patterns": buf_patterns,
    }


def measure_model(config, cls=None, multimodal=False):
    t = time.time()
    model, mode, ctx, errs = build_model(config, cls)
    try:
        rec = count_components(model, multimodal=multimodal)
        rec["model_class"] = type(model).__name__
        rec["build"] = "FakeTensorMode" if mode == "fake" else "meta device"
        if errs:
            rec["build_errors"] = errs
    finally:
        ctx.__exit__(None, None, None)
    rec["wall_s"] = round(time.time() - t, 2)
    return rec


# ----------------------------------------------------------------------------------------------
# LoRA
# ----------------------------------------------------------------------------------------------

def lora_count(config, r, target_modules, cls=None):
    from peft import LoraConfig, get_peft_model
    model, mode, ctx, errs = build_model(config, cls)
    try:
        base_total = sum(p.numel() for p in model.parameters())
        lc = LoraConfig(r=r, lora_alpha=2 * r, target_modules=target_modules, lora_dropout=0.0,
                        bias="none", task_type="CAUSAL_LM")
        with (fake_safe_module_to() if mode == "fake" else contextlib.nullcontext()):
            pm = get_peft_model(model, lc)
        trainable = sum(p.numel() for p in pm.parameters() if p.requires_grad)
        total = sum(p.numel() for p in pm.parameters())
        resolved = pm.peft_config["default"].target_modules
        resolved = sorted(resolved) if isinstance(resolved, (set, list, tuple)) else resolved
        wrapped = sorted({n.split(".")[-1] for n, m in pm.named_modules() if hasattr(m, "lora_A")})
        n_wrapped = sum(1 for _, m in pm.named_modules() if hasattr(m, "lora_A"))
        # Trainable numel per wrapped module path pattern (layer index -> *), e.g. MoE experts that peft
        # wraps as parameters, and one example of the adapter shapes.
        by_module = {}
        for pn, p in pm.named_parameters():
            if not p.requires_grad:
                continue
            mpath = re.split(r"\.lora_(?:A|B|embedding_A|embedding_B|magnitude_vector)\.", pn)[0]
            pat = name_pattern(mpath.replace("base_model.model.", "", 1) + ".")[:-1]
            d = by_module.setdefault(pat, {"trainable_params": 0, "shapes": {}})
            d["trainable_params"] += p.numel()
            key = pn[len(mpath) + 1:]
            d["shapes"].setdefault(key, list(p.shape))
    finally:
        ctx.__exit__(None, None, None)
    return {"r": r, "lora_alpha": 2 * r, "target_modules": target_modules if isinstance(target_modules, str)
            else list(target_modules), "resolved_target_modules": resolved, "wrapped_leaf_names": wrapped,
            "wrapped_modules": n_wrapped, "trainable_params": int(trainable), "total_params": int(total),
            "trainable_by_module": by_module,
            "base_params": int(base_total), "build": "FakeTensorMode" if mode == "fake" else "meta device"}


def lora_cases(config, model_type, cls=None):
    out = {}
    qv = QV_TARGETS.get(model_type, QV_DEFAULT)
    for key, r, tm in (("qv_r16", 16, qv), ("all_linear_r64", 64, "all-linear")):
        t = time.time()
        try:
            rec = lora_count(config, r, tm, cls)
        except Exception as e:  # noqa: BLE001
            if type(e).__name__ == "NoMatchingPeftModuleError":
                rec = {"r": r, "target_modules": tm, "not_applicable":
                       f"no module with a leaf name in {tm} (peft: {type(e).__name__})"}
            else:
                traceback.print_exc()
                rec = {"r": r, "target_modules": tm, "error": f"{type(e).__name__}: {e}"[:500]}
        rec["wall_s"] = round(time.time() - t, 2)
        out[key] = rec
    return out


# ----------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="", help="substring filter on preset names (case-insensitive)")
    ap.add_argument("--no-lora", action="store_true")
    ap.add_argument("--lora-max-params", type=float, default=None,
                    help="LoRA counts only for presets with at most this many parameters (default: all presets; "
                         "under FakeTensorMode even the 671B model takes seconds)")
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "data", "param_counts.json"))
    ap.add_argument("--lora-out", default=os.path.join(ROOT, "tests", "data", "lora_counts.json"))
    a = ap.parse_args()

    import peft
    meta = {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__,
            "date": datetime.date.today().isoformat()}
    entries = [e for e in load_index() if a.only.lower() in e["name"].lower()]

    counts, loras = {}, {}
    if a.only and os.path.exists(a.out):  # partial run: update existing files
        counts = json.load(open(a.out)).get("models", {})
        if os.path.exists(a.lora_out):
            loras = json.load(open(a.lora_out)).get("models", {})

    for e in entries:
        name = e["name"]
        cfg = load_cfg(e)
        mt = cfg.get("model_type")
        t = time.time()
        rec = {"file": e["file"], "model_type": mt}
        try:
            config, notes = make_config(cfg)
            rec["config_class"] = type(config).__name__
            if notes:
                rec["notes"] = notes
            multimodal = hasattr(config, "text_config") and getattr(config, "text_config", None) is not None \
                and getattr(config, "vision_config", None) is not None
            rec.update(measure_model(config, multimodal=multimodal))
            if multimodal:
                text_cfg = config.text_config
                rec["text_only"] = measure_model(text_cfg)
                rec["text_only"]["config_class"] = type(text_cfg).__name__
            if mt == "deepseek_v3" and cfg.get("num_nextn_predict_layers"):
                rec.setdefault("notes", []).append(
                    f"config has num_nextn_predict_layers={cfg['num_nextn_predict_layers']} (MTP module); "
                    "transformers does not build it: counts are for what transformers builds")
        except Exception as ex:  # noqa: BLE001
            traceback.print_exc()
            rec["error"] = f"{type(ex).__name__}: {ex}"[:800]
        counts[name] = rec
        msg = f"{rec.get('params', 0):>16,d} params  buf {rec.get('buffers_persistent', 0):>8,d}  " \
              f"tied={rec.get('tied')}  {rec.get('build', '')}" if "error" not in rec else "ERR " + rec["error"][:200]
        print(f"{name:32s} {msg}  {time.time() - t:.1f}s", flush=True)

        if not a.no_lora and "error" not in rec and (a.lora_max_params is None or rec["params"] <= a.lora_max_params):
            config, _ = make_config(cfg)
            lrec = {"model_type": mt, "base_params": rec["params"]}
            lrec.update(lora_cases(config, mt))
            loras[name] = lrec
            print(f"{'':32s} lora qv_r16 {lrec['qv_r16'].get('trainable_params', lrec['qv_r16'].get('error'))}  "
                  f"all_linear_r64 {lrec['all_linear_r64'].get('trainable_params', lrec['all_linear_r64'].get('error'))}",
                  flush=True)

    order = [e["name"] for e in load_index()]
    counts = {k: counts[k] for k in sorted(counts, key=lambda k: order.index(k) if k in order else 1e9)}
    loras = {k: loras[k] for k in sorted(loras, key=lambda k: order.index(k) if k in order else 1e9)}
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump({"generated_by": "scripts/measure_params.py", **meta, "models": counts}, f, indent=1)
        f.write("\n")
    if not a.no_lora:
        with open(a.lora_out, "w") as f:
            json.dump({"generated_by": "scripts/measure_params.py",
                       "method": "peft LoraConfig(r, lora_alpha=2r, target_modules, lora_dropout=0.0, bias='none', "
                                 "task_type='CAUSAL_LM'); get_peft_model; sum(numel) of requires_grad params",
                       **meta, "models": loras}, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
