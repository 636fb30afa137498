"""The public Python API, used by the CLI and the web API so both give the same numbers.

>>> from llmsize import api
>>> m = api.load("Llama-3.1-8B")
>>> api.count(m.spec).total
8030261248
"""
from __future__ import annotations

from typing import Any

from llmsize.load import Loaded, apply_knobs, from_knobs, load, load_preset
from llmsize.params import ParamCount, approximations, count
from llmsize.sources import SOURCES
from llmsize.spec import ModelSpec

__all__ = ["Loaded", "ModelSpec", "ParamCount", "apply_knobs", "count", "from_knobs", "load", "load_preset",
           "params_report"]


def params_report(model: Loaded | ModelSpec) -> dict[str, Any]:
    """Everything `llmsize params --json` prints: exact totals, terms, layer kinds, rules of thumb."""
    loaded = model if isinstance(model, Loaded) else None
    spec = model.spec if isinstance(model, Loaded) else model
    pc = count(spec)
    terms = [{"name": t.name, "params": t.value, "formula": t.formula, "source": t.source} for t in pc.terms]
    approx = approximations(spec, pc.total)
    keys = sorted({t["source"] for t in terms} | {a.source for a in approx})
    rep: dict[str, Any] = {
        "model": spec.name, "model_type": spec.model_type,
        "assumed_family": spec.traits.family if spec.traits.assumed else None,
        "total_params": pc.total, "active_params": pc.active,
        "buffers": pc.buffers, "total_with_buffers": pc.total_with_buffers, "vision_params": pc.vision,
        "terms": terms,
        "layer_kinds": [{"kind": k.kind, "layers": list(k.layers), "params": k.params} for k in pc.layer_kinds],
        "approximations": [{"name": a.name, "params": a.value, "formula": a.formula, "source": a.source,
                            "error": a.error} for a in approx],
        "notes": list(spec.notes), "citations": {k: SOURCES[k] for k in keys},
    }
    if loaded is not None:
        rep["origin"] = loaded.origin
        if loaded.preset is not None:
            rep["source"] = {"repo": loaded.preset.repo, "url": loaded.preset.source,
                             "retrieved": loaded.preset.retrieved, "verbatim": loaded.preset.verbatim}
        ck = loaded.checkpoint
        if ck is not None:
            rep["checkpoint"] = {"format": ck.format, "params": ck.params, "stored_values": ck.stored_values,
                                 "bytes": ck.bytes, "params_by_dtype": dict(ck.params_by_dtype),
                                 "notes": list(ck.notes)}
    return rep
