"""Measure the per-sequence cache transformers keeps for the state-space and hybrid configs of
scripts/gen_family_truth.py: after a prefill of b x s tokens and one decode step (real tensors, CPU,
bf16 weights), the bytes of every conv state, recurrent (SSM) state and attention K/V in the cache.

    /work/venv-truth/bin/python scripts/measure_ssm_state.py --out tests/data/ssm_state_bytes.json

Needs torch 2.13 + transformers 5.23.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_family_truth import CONFIGS  # noqa: E402

SSM_TYPES = ("mamba2", "jamba", "granitemoehybrid", "falcon_h1", "lfm2")


def _cache_bytes(cache) -> dict:
    out = {"conv": 0, "ssm": 0, "kv": 0, "conv_dtypes": set(), "ssm_dtypes": set()}
    for layer in cache.layers:
        for t in (getattr(layer, "conv_states", None) or {}).values():
            if t is not None:
                out["conv"] += t.nbytes
                out["conv_dtypes"].add(str(t.dtype))
        for t in (getattr(layer, "recurrent_states", None) or {}).values():
            if t is not None:
                out["ssm"] += t.nbytes
                out["ssm_dtypes"].add(str(t.dtype))
        for k in ("keys", "values"):
            t = getattr(layer, k, None)
            if t is not None and hasattr(t, "nbytes"):
                out["kv"] += t.nbytes
    out["conv_dtypes"], out["ssm_dtypes"] = sorted(out["conv_dtypes"]), sorted(out["ssm_dtypes"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--seq", type=int, default=100)
    a = ap.parse_args()
    import torch
    import transformers
    from transformers import AutoConfig, AutoModelForCausalLM

    torch.manual_seed(0)
    res = {"method": "cache tensors' nbytes after model(prompt, use_cache=True) and one decode step, real "
                     "tensors on CPU, bf16 weights", "torch": torch.__version__,
           "transformers": transformers.__version__, "batch": a.batch, "prompt": a.seq, "models": {}}
    for name, cfg in CONFIGS.items():
        if cfg["model_type"] not in SSM_TYPES:
            continue
        conf = AutoConfig.for_model(**cfg)
        attn = "eager" if cfg["model_type"] == "mamba2" else "sdpa"
        m = AutoModelForCausalLM.from_config(conf, dtype=torch.bfloat16, attn_implementation=attn).eval()
        x = torch.randint(0, cfg["vocab_size"], (a.batch, a.seq))
        with torch.no_grad():
            out = m(input_ids=x, use_cache=True, logits_to_keep=1)
            cache = getattr(out, "cache_params", None) or out.past_key_values
            kw = {"cache_params": cache} if getattr(out, "cache_params", None) is not None else {"past_key_values": cache}
            m(input_ids=out.logits[:, -1:].argmax(-1), use_cache=True, **kw)
        res["models"][name] = {"config": cfg, **_cache_bytes(cache), "tokens": a.seq + 1}
        print(name, res["models"][name], flush=True)
    json.dump(res, open(a.out, "w"), indent=1)


if __name__ == "__main__":
    main()
