"""A value the client gives is used or refused, never silently replaced by the default: an MFU of 0,
a negative or NaN one is a 422 as the CLI's exit 2; an empty list or string where the default applies
only when the field is absent is a 422 too."""
from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from llmsize.errors import LlmsizeError

LLAMA = {"preset": "Llama-3.1-8B"}
TRAIN = {"mode": "train", "tokens": 1e11}


def _post_raw(client, path: str, text: str):
    return client.post(f"/api/v1/{path}", content=text.encode(), headers={"content-type": "application/json"})


@pytest.mark.parametrize("mfu", [0.0, -0.25, math.nan, math.inf])
def test_job_uses_a_given_mfu_or_refuses_it(mfu):
    """routes_plan.job built the TrainJob with `mfu or DEFAULT_MFU`: 0 became 0.40. Now any given MFU goes
    to TrainJob, which refuses it with the CLI's message (the schema refuses it first over HTTP)."""
    from llmsize.web import schemas as S
    from llmsize.web.routes_plan import job

    with pytest.raises(LlmsizeError, match="mfu must be a positive finite number|MFU must be at most 1"):
        job(S.Job.model_construct(mode="train", tokens=1e11, mfu=mfu))
    # absent: None, i.e. the achieved efficiency the calibration table gives the layout's engine and GPU
    assert job(S.Job.model_construct(mode="train", tokens=1e11, mfu=None)).mfu is None
    assert job(S.Job.model_construct(mode="train", tokens=1e11, mfu=0.3)).mfu == 0.3


@pytest.mark.parametrize("mfu", ["0", "-0.1", "NaN", "Infinity"])
@pytest.mark.parametrize("path, extra", [("plan", {}), ("speed", {"gpu": "H100", "layout": {"gpus": 8}}),
                                         ("fit", {"gpu": "H100"}), ("cost", {"gpus": ["H100"]})])
def test_mfu_zero_negative_nan_are_422_as_the_cli_exits_2(client, mfu, path, extra):
    body = json.dumps({"model": LLAMA, **extra, "job": {**TRAIN, "mfu": "@"}}).replace('"@"', mfu)
    r = _post_raw(client, path, body)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail.startswith("job.mfu: ")
    if mfu in ("NaN", "Infinity"):
        assert "finite number" in detail, detail  # not "less than or equal to 1"
    cli = subprocess.run([sys.executable, "-c", "from llmsize.cli import main; main()", "plan", "Llama-3.1-8B",
                          "--train", "--mfu", mfu.replace("Infinity", "inf")], capture_output=True, text=True)
    assert cli.returncode == 2 and "job: mfu must be a positive finite number" in cli.stderr, cli.stderr


@pytest.mark.parametrize("path, body, field", [
    ("plan", {"model": LLAMA, "gpus": []}, "gpu"),  # gpus: the old name of gpu
    ("cost", {"model": LLAMA, "gpus": []}, "gpu"),
    ("cost", {"model": LLAMA, "counts": []}, "counts"),
    ("fit", {"model": LLAMA, "gpu": "H100", "find": []}, "find"),
    ("quant", {"model": LLAMA, "formats": []}, "formats"),
    ("export", {"engine": "vllm", "model_name": "x", "kv_cache_dtype": ""}, "kv_cache_dtype"),
    ("export", {"engine": "vllm", "model_name": "x", "quantization": ""}, "quantization"),
    ("infer/sweep", {"model": LLAMA, "contexts": [1024], "batches": [1], "weights": ""}, "weights"),
])
def test_empty_list_or_string_is_422_not_the_default(client, path, body, field):
    """Each of these fell back to its default when empty (`x or DEFAULT`): all GPUs, counts 1 and 8, every
    question, every format, the engine's KV dtype, no quantization, unquantized weights."""
    r = client.post(f"/api/v1/{path}", json=body)
    assert r.status_code == 422, r.text[:300]
    assert r.json()["detail"].startswith(f"{field}: "), r.json()["detail"]


def test_sweep_kv_cache_without_weights_is_refused(client):
    """A llama.cpp KV type (kv_cache, the old name of kv_cache_dtype) only sizes with quantized weights; the
    PyTorch sweep refuses it by name (it was dropped silently once)."""
    r = client.post("/api/v1/infer/sweep", json={"model": LLAMA, "contexts": [1024], "batches": [1], "kv_cache": "q8_0"})
    assert r.status_code == 422 and "--kv-cache-dtype 'q8_0'" in r.json()["detail"]


def test_absent_fields_still_take_their_defaults(client):
    assert client.post("/api/v1/cost", json={"model": LLAMA, "gpus": ["H100"]}).json()["rows"][1]["gpus"] == 8
    r = client.post("/api/v1/speed", json={"model": LLAMA, "job": TRAIN, "gpu": "H100", "layout": {"gpus": 8}})
    # the default is the table's achieved efficiency for the engine and GPU, printed with its key
    assert r.status_code == 200 and r.json()["efficiency"]["key"].endswith("/train")
    assert 0.3 < r.json()["mfu"] < 0.5


@pytest.mark.parametrize("kw", [{"mfu": 0.0}, {"mfu": -0.1}, {"mfu": math.nan}, {"mfu": 1.5}, {"price": 0.0},
                                {"price": math.nan}, {"price": -2.0}])
def test_design_setting_refuses_what_it_would_have_replaced(kw):
    """design's Setting took `mfu or DEFAULT_MFU` and `price if price else the catalog's`: 0 meant the default."""
    from llmsize.design.metrics import Setting

    with pytest.raises(LlmsizeError, match="MFU must be in|price must be a positive"):
        Setting(**kw)


@pytest.mark.parametrize("body, msg", [
    ({"job": {"mode": "serve"}, "layout": {"gpus": 8, "zero": 3}}, "layout.zero applies to a training layout"),
    ({"job": {"mode": "serve"}, "layout": {"gpus": 2, "cp": 2}}, "layout.cp applies to a training layout"),
    ({"job": {"mode": "serve", "price": {"H100": 3}}}, "speed gives no cost"),
    ({"job": {"mode": "serve", "global_batch": 8}}, "global_batch applies to training"),
    ({"job": {"mode": "train", "tokens": 1e11, "new_tokens": 64}}, "new_tokens applies to serving"),
    ({"job": {"mode": "train", "max_days": 3}}, "need its tokens"),
])
def test_speed_refuses_what_the_cli_refuses(client, body, msg):
    """A field of the other mode, or one speed does not use, is a 422 naming it (the CLI's exit 2)."""
    r = client.post("/api/v1/speed", json={"model": LLAMA, "gpu": "H100", **body})
    assert r.status_code == 422 and msg in r.json()["detail"], r.text
    ok = client.post("/api/v1/speed", json={"model": LLAMA, "gpu": "H100", "job": TRAIN,
                                            "layout": {"gpus": 8, "zero": 3}})
    assert ok.status_code == 200 and ok.json()["layout"] == "DP8 ZeRO-3"
