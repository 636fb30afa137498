"""Every speed case a published benchmark could report is predicted (issue #11, "every case predicted"):
the schema's engines x tasks x weights x metrics x null fields x model forms x catalogue GPUs
(tests/speed/schema_matrix.py), spellings read as documented aliases with a note, and what the schema
rules out is still a broken file (one line, exit 2)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from llmsize.catalog.hardware import get_gpu
from llmsize.validate_speed import parse_speed_cases, predict_case, predict_or_error
from tests.speed import schema_matrix as M
from tests.conftest import DATA


def _one(obj):
    return predict_or_error(parse_speed_cases([json.dumps(obj)])[0])


def test_every_plausible_case_is_predicted(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    n, why, example = M.run()
    assert n > 20_000
    assert not why, "\n".join(f"{v} x {k} (e.g. {example[k]})" for k, v in why.most_common(10))


def test_every_catalogue_gpu_times_every_task():
    """fp16-only (T4, V100, P100), fp32-only (P40), AMD, Apple and TPU entries all give a number."""
    from llmsize.catalog.hardware import gpus

    for g in gpus():
        for task in ("decode", "prefill", "train"):
            w = M._train_w() if task == "train" else M._inference(task) | {"weights": "bf16"}
            r = _one(M.case(task, model="SmolLM2-135M", gpu=g.name, count=8, engine="unknown", **w))
            assert r.error is None and r.predicted > 0, (g.name, task, r.error)


@pytest.mark.parametrize("name, canonical", [
    ("A100 80GB SXM", "A100-SXM-80GB"), ("A100 SXM4 80GB", "A100-SXM-80GB"), ("A100 40GB SXM", "A100-SXM-40GB"),
    ("H100 SXM5 80GB", "H100-SXM"), ("H100-SXM5-80GB", "H100-SXM"), ("H100 80GB SXM", "H100-SXM"),
    ("H200 SXM 141GB", "H200-SXM"), ("RTX 4090", "RTX-4090"), ("MI300X", "MI300X"), ("M2 Ultra 76-core", "M2-Ultra"),
    ("L40S", "L40S"), ("M2 Ultra (76-core GPU)", "M2-Ultra"), ("Apple M2 Ultra (76-core GPU, 192GB)", "M2-Ultra"),
    ("RTX 4090 24GB", "RTX-4090"), ("NVIDIA GeForce RTX 3090 24GB", "RTX-3090"), ("H100 PCIe 80GB", "H100-PCIe"),
    ("H100 NVL 94GB", "H100-NVL"), ("MI300X 192GB", "MI300X"), ("A100 80 GB", "A100-SXM-80GB"),
    ("A100 40GB", "A100-SXM-40GB"), ("RTX 4060 Ti 8GB", "RTX-4060-Ti-8GB")])
def test_gpu_names_as_sources_spell_them(name, canonical):
    assert get_gpu(name).name == canonical


@pytest.mark.parametrize("name", ["H100 40GB", "RTX 4090 48GB", "M2 Ultra 128GB"])
def test_a_memory_size_the_gpu_does_not_have_is_not_dropped(name):
    from llmsize.errors import LlmsizeError

    with pytest.raises(LlmsizeError, match="unknown GPU"):
        get_gpu(name)


def _train(**over):
    w = M._train_w() | over
    return M.case("train", count=64, engine="fsdp", metric="tokens_per_s_per_gpu", **w)


def test_spellings_are_aliases_with_a_note_never_a_silent_change():
    base = _one(_train(layout={"dp": 64, "fsdp": "full_shard"}))
    upper = _one(_train(layout={"dp": 64, "fsdp": "FULL_SHARD"}))
    flag = _one(_train(layout={"dp": 64, "fsdp": True}))
    # before: "FULL_SHARD" and true were timed as unsharded, silently
    assert upper.predicted == base.predicted == flag.predicted
    assert any("read as full_shard" in x for x in flag.notes)
    r = _one(_train(precision="amp_bf16", recompute=True))
    assert r.predicted == _one(_train(precision="bf16-mixed", recompute="full")).predicted
    assert "precision 'amp_bf16' read as bf16-mixed" in r.notes and "recompute True read as full" in r.notes
    # the words of a spelling with other separators, and the names papers and trainers use for recompute
    spaced = _one(_train(precision="bf16 mixed", recompute="gradient_checkpointing"))
    assert spaced.predicted == r.predicted
    assert "precision 'bf16 mixed' read as bf16-mixed" in spaced.notes
    assert "recompute 'gradient_checkpointing' read as full" in spaced.notes
    sel = _one(_train(recompute="Selective activation recomputation"))
    assert sel.predicted == _one(_train(recompute="selective")).predicted
    zb = _one(_train(layout={"pp": 4, "tp": 2, "schedule": "zb"}))
    assert zb.predicted == _one(_train(layout={"pp": 4, "tp": 2, "schedule": "zero-bubble"})).predicted
    for wt, fmt in (("int4", "awq-int4-g128"), ("w4a16", "gptq-int4-g128-no-gidx"), ("fp8_e4m3", "fp8"),
                    ("bnb-4bit", "nf4"), ("4bit", "nf4")):
        r = _one(M.case("decode", weights=wt, batch=1, context=0, tokens=128))
        assert r.predicted == _one(M.case("decode", weights=fmt, batch=1, context=0, tokens=128)).predicted
        assert any(n.startswith(f"weights {wt!r} read as {fmt}") for n in r.notes)
    # vLLM's --dtype auto is the checkpoint's own format: the same as leaving it null, and said
    auto = _one(M.case("decode", weights="auto", batch=1, context=0, tokens=128))
    assert auto.predicted == _one(M.case("decode", weights=None, batch=1, context=0, tokens=128)).predicted
    assert "weights 'auto' read as not given: the checkpoint's own format, as the engines' dtype auto" in auto.notes


def test_an_unknown_spelling_is_its_case_error_naming_what_is_accepted():
    r = _one(_train(precision="int3-mixed"))
    assert r.predicted is None and "unknown precision 'int3-mixed'" in r.error and "amp_bf16" in r.error
    r = _one(_train(layout={"pp": 4, "schedule": "round-robin"}))
    assert r.predicted is None and "unknown pipeline schedule" in r.error and "zero-bubble" in r.error


def test_serve_request_rate_above_capacity():
    """At a bounded concurrency the benchmark's clients wait for a slot (closed-loop, the wait outside
    TTFT); at "max" the deployment runs saturated, and the median request of a finite benchmark (1,000
    requests unless num_prompts says) waits N/2·(1/μ − 1/λ) in its growing queue before its TTFT."""
    w = M._inference("serve") | {"concurrency": 1}
    closed = _one(M.case("serve", metric="tpot_s", **w))
    over = _one(M.case("serve", metric="tpot_s", **w | {"request_rate": 50.0}))
    assert over.predicted == closed.predicted and any("closed-loop" in n for n in over.notes)
    w = w | {"concurrency": "max"}
    sat = _one(M.case("serve", **w))
    assert _one(M.case("serve", **w | {"request_rate": 1e4})).predicted == sat.predicted
    r = _one(M.case("serve", metric="ttft_s", **w | {"request_rate": 1e4}))
    admitted = _one(M.case("serve", metric="ttft_s", **w))
    mu = sat.predicted / w["output"]  # requests/s of the saturated deployment
    assert r.error is None and r.predicted == pytest.approx(admitted.predicted + 500 * (1 / mu - 1 / 1e4))
    assert "num_prompts not given: 1,000 assumed (benchmark_serving's and bench_serving's default)" in r.notes
    few = _one(M.case("serve", metric="ttft_s", **w | {"request_rate": 1e4, "num_prompts": 100}))
    assert few.predicted == pytest.approx(admitted.predicted + 50 * (1 / mu - 1 / 1e4))
    assert admitted.predicted < few.predicted < r.predicted
    low = _one(M.case("serve", **w | {"request_rate": 0.5}))
    assert low.predicted == pytest.approx(0.5 * 256)  # a stable queue serves what arrives


def test_serve_null_tp_dp_take_the_gpu_count():
    w = M._inference("serve") | {"tp": None, "dp": None}
    r = _one(M.case("serve", count=8, **w))
    assert r.predicted == _one(M.case("serve", count=8, **w | {"tp": 8, "dp": 1})).predicted
    assert "tp not given: 8 assumed (hardware.count 8 over pp × dp)" in r.notes
    r = _one(M.case("serve", count=8, **w | {"tp": 2}))
    assert "dp not given: 4 assumed (hardware.count 8 over tp × pp)" in r.notes


def test_defaults_and_missing_units_are_said():
    r = _one(M.case("train", gpu="T4", count=8, metric="tokens_per_s_per_gpu", **M._train_w()))
    assert "T4 has no bf16 rate: timed on its fp16 path" in r.notes
    r = _one(M.case("decode", gpu="A100-SXM-80GB", weights="fp8", kv_dtype=None, batch=4, context=1024, tokens=None))
    assert r.predicted > 0 and any("no FP8 units" in n for n in r.notes)
    assert any(n.startswith("kv_dtype not given") for n in r.notes) and "tokens not given: 128 assumed" in r.notes


def test_knobs_as_the_cli_spells_them_and_a_missing_width_is_the_case_error():
    k = {"hidden": 2048, "layers": 16, "heads": 16, "vocab": 32000}
    a = _one(M.case("decode", model={"knobs": k | {"kv-heads": 4, "ffn": None}}))
    b = _one(M.case("decode", model={"knobs": k | {"kv_heads": 4}}))
    assert a.predicted == b.predicted and a.predicted > 0
    r = _one(M.case("decode", model={"knobs": {"hidden": 2048, "layers": 16}}))
    assert r.predicted is None and "missing heads, vocab" in r.error
    r = _one(M.case("decode", gpu=None))
    assert r.predicted is None and "hardware.gpu is null" in r.error


def run(args, **kw):
    return subprocess.run([sys.executable, "-c", "from llmsize.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=120, **kw)


@pytest.mark.parametrize("field, value, needle", [
    ("batch", "1", "workload.batch must be an integer"), ("context", -1, "workload.context must be an integer >= 0"),
    ("tokens", 1.5, "workload.tokens must be an integer"), ("kv_dtype", 8, "workload.kv_dtype must be a string"),
    ("layout", {"zero": 4}, "workload.layout.zero must be 0, 1, 2, 3"), ("layout", [8], "workload.layout must be"),
    ("concurrency", "lots", "workload.concurrency"), ("request_rate", -2, "workload.request_rate must be a positive number"),
    ("gpus_per_node", "8", "hardware.gpus_per_node must be a positive integer")])
def test_schema_violations_stay_one_line_exit_2(tmp_path, field, value, needle):
    task = "train" if field == "layout" else "serve" if field in ("concurrency", "request_rate") else "decode"
    obj = M.case(task, **(M._train_w() if task == "train" else M._inference(task)))
    if field == "gpus_per_node":
        obj["hardware"][field] = value
    else:
        obj["workload"][field] = value
    f = tmp_path / "bad.jsonl"
    f.write_text(json.dumps(obj) + "\n")
    p = run(["validate", str(f)])
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert needle in p.stderr, p.stderr


def test_mixed_file_with_a_bare_speed_case(tmp_path):
    """A memory case, a speed case without measured value or source, an alias-spelled one: --json
    predicts each, rel_error null where nothing was measured, exit 0."""
    memory = (DATA / "calib.jsonl").read_text().splitlines()[0]
    bare = M.case("serve", count=8, **M._inference("serve") | {"tp": None, "dp": None})
    del bare["source"]
    bare["measured"] = {"metric": "ttft_s"}
    alias = _train(precision="amp_bf16", layout={"dp": 64, "fsdp": "hybrid_shard", "zero": None})
    alias["id"] = "alias"
    f = tmp_path / "mixed.jsonl"
    f.write_text("\n".join([memory, json.dumps(bare | {"id": "bare"}), json.dumps(alias)]) + "\n")
    p = run(["validate", str(f), "--json"])
    assert p.returncode == 0, p.stderr
    rows = json.loads(p.stdout)["cases"]
    assert rows[0].get("kind") is None
    bare_row, alias_row = rows[1], rows[2]
    assert bare_row["predicted"] > 0 and bare_row["measured"] is None and bare_row["rel_error"] is None
    assert alias_row["predicted"] > 0 and alias_row["rel_error"] == pytest.approx(alias_row["predicted"] - 1)
    assert "precision 'amp_bf16' read as bf16-mixed" in alias_row["notes"]
    assert predict_case(parse_speed_cases([json.dumps(alias)])[0]).predicted == alias_row["predicted"]


def _maybe(st):
    from hypothesis import strategies as s

    return s.one_of(s.none(), st)


def _random_case():
    """Any task, model form, catalogue GPU, engine, spelling and null field at once."""
    from hypothesis import strategies as s

    from llmsize.catalog.hardware import gpus

    inference = s.fixed_dictionaries({
        "weights": _maybe(s.sampled_from(M.WEIGHTS)), "kv_dtype": _maybe(s.sampled_from(M.KV)),
        "batch": _maybe(s.sampled_from([1, 4, 64])), "context": _maybe(s.sampled_from([0, 512, 32768])),
        "tokens": _maybe(s.sampled_from([1, 128, 2048])), "prompt": _maybe(s.sampled_from([1, 128, 8192])),
        "output": _maybe(s.sampled_from([1, 128, 2048])), "concurrency": _maybe(s.sampled_from(["max", 1, 16, 512])),
        "request_rate": _maybe(s.sampled_from([0.1, 1.0, 50.0])), "tp": _maybe(s.sampled_from([1, 2, 8])),
        "pp": _maybe(s.sampled_from([1, 2])), "dp": _maybe(s.sampled_from([1, 4]))})
    training = s.fixed_dictionaries({
        "precision": _maybe(s.sampled_from(M.PRECISIONS)), "seq": _maybe(s.sampled_from([512, 4096, 131072])),
        "micro_batch": _maybe(s.sampled_from([1, 4])), "global_batch": _maybe(s.sampled_from([64, 4096])),
        "recompute": _maybe(s.sampled_from(M.RECOMPUTE)), "layout": s.sampled_from(M.LAYOUTS),
        "tokens": _maybe(s.sampled_from([1e9, 1.5e13]))})
    task = s.sampled_from(["decode", "prefill", "serve", "train"])
    return task.flatmap(lambda t: s.builds(
        lambda w, model, gpu, count, engine, metric: M.case(t, model=model, gpu=gpu, count=count, engine=engine,
                                                            metric=metric, **w),
        training if t == "train" else inference, s.sampled_from(M.MODELS + ("Mixtral-8x7B-v0.1", "gpt-oss-20b")),
        s.sampled_from([g.name for g in gpus()]), _maybe(s.sampled_from([1, 8, 1024])), s.sampled_from(M.ENGINES),
        s.sampled_from(M.DEC_METRIC[t])))


def test_any_combination_is_predicted_or_earns_its_refusal(monkeypatch):
    from hypothesis import HealthCheck, given, settings

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    @settings(max_examples=300, derandomize=True, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(_random_case())
    def check(obj):
        r = _one(obj)
        if r.error is None:
            assert r.predicted > 0 and r.predicted < float("inf")
        else:  # no "llmsize failed": every refusal is one the setup earns
            assert M.expected_refusal("", r.error), r.error

    check()


@pytest.mark.parametrize("model, preset, fmt", [
    ("Qwen/Qwen2-72B-Instruct", "Qwen2-72B", None), ("google/gemma-2-27b-it", "gemma-2-27b", None),
    ("nvidia/Llama-3.1-70B-Instruct-FP8", "Llama-3.1-70B", "fp8"), ("TheBloke/Llama-2-7B-GGUF", "Llama-2-7b-hf", None),
    ("hugging-quants/Meta-Llama-3.1-8B-Instruct-AWQ-INT4", "Llama-3.1-8B", "awq-int4-g128"),
    ("Qwen/Qwen2.5-32B-Instruct-GPTQ-Int8", "Qwen2.5-32B", "gptq-int8-g128"),
    ("RedHatAI/Qwen3-8B-FP8-dynamic", "Qwen3-8B", "fp8"),
    # date-tagged re-releases and NVIDIA's FP4 (NVFP4) checkpoints; the base preset's own stored format
    # (DeepSeek-R1's fp8 blocks) is not the named checkpoint's
    ("Qwen/Qwen3-30B-A3B-Instruct-2507", "Qwen3-30B-A3B", None), ("nvidia/Qwen3-235B-A22B-FP4", "Qwen3-235B-A22B", "nvfp4"),
    ("nvidia/DeepSeek-R1-0528-NVFP4-v2", "DeepSeek-R1", "nvfp4")])
def test_a_release_of_a_preset_is_read_as_it_and_its_named_format_is_the_default(monkeypatch, model, preset, fmt):
    """Offline, an instruction-tuned or quantized release llmsize has no config for is its base preset
    (the same architecture), said in the notes; with weights null, the format its name states."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    w = M._inference("serve") | {"weights": None, "tp": 8}
    r = _one(M.case("serve", model=model, count=8, **w))
    base = _one(M.case("serve", model=preset, count=8, **w | {"weights": fmt}))
    assert r.predicted == base.predicted, r.error
    assert any(n.startswith(f"model {model!r} has no config here: read as preset {preset}") for n in r.notes)
    said = f"assumed (from the model's name {model!r})" if fmt else "assumed (the config's dtype"
    assert any(n.startswith("weights not given") and said in n for n in r.notes), r.notes


@pytest.mark.parametrize("model, preset", [
    ("DeepSeek-R1-0528", "DeepSeek-R1"), ("deepseek-ai/DeepSeek-V3.1", "DeepSeek-V3"),
    ("DeepSeek-V3.1-Terminus", "DeepSeek-V3"), ("DeepSeek-V3-0324", "DeepSeek-V3")])
def test_later_releases_of_one_architecture_are_aliases_with_their_evidence(monkeypatch, model, preset):
    """TensorRT-LLM's and SGLang's tables name DeepSeek-R1-0528 and V3.1: the same 671B architecture
    (catalog/models/index.toml cites the model cards), so no guess is said and the fp8 blocks stand."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    w = M._inference("serve") | {"weights": None, "tp": 8}
    r = _one(M.case("serve", model=model, gpu="H200-SXM", count=8, **w))
    assert r.predicted == _one(M.case("serve", model=preset, gpu="H200-SXM", count=8, **w)).predicted, r.error
    assert not any("has no config here" in n for n in r.notes), r.notes


def test_a_release_whose_config_was_read_is_its_preset_without_a_guess(monkeypatch):
    """gemma-2-9b-it and Qwen2.5-14B-Instruct are aliases of their presets (their config.json read and the
    shapes checked, catalog/models/index.toml): no 'read as preset' note."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    w = M._inference("serve") | {"weights": None, "tp": 8}
    for model, preset in (("google/gemma-2-9b-it", "gemma-2-9b"), ("Qwen/Qwen2.5-14B-Instruct", "Qwen2.5-14B")):
        r = _one(M.case("serve", model=model, count=8, **w))
        assert r.predicted == _one(M.case("serve", model=preset, count=8, **w)).predicted
        assert not any("has no config here" in n for n in r.notes), r.notes


@pytest.mark.parametrize("model, fmt, origin", [
    ("gpt-oss-20b", "mxfp4", "the checkpoint's quantization_config"),
    ("DeepSeek-V3", "fp8-block", "the checkpoint's quantization_config"),
    ("Llama-2-7b-hf", "fp16", "the config's dtype"), ({"knobs": {"hidden": 512, "layers": 2, "heads": 8, "vocab": 999}},
                                                       "bf16", "llmsize's default")])
def test_null_weights_take_the_format_the_checkpoint_stores(model, fmt, origin):
    """As every other command (quant.native): a null `weights` is the checkpoint's own format."""
    w = M._inference("decode") | {"weights": None}
    r = _one(M.case("decode", model=model, gpu="H200-SXM", count=8, **w))
    assert f"weights not given: {fmt!r} assumed ({origin})" in r.notes
    assert r.predicted == _one(M.case("decode", model=model, gpu="H200-SXM", count=8, **w | {"weights": fmt})).predicted


def test_a_name_that_is_no_release_of_a_preset_stays_the_case_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    r = _one(M.case("decode", model="deepseek-ai/deepseek-coder-33b-instruct"))
    assert r.predicted is None and "deepseek-coder-33b-instruct" in r.error


def test_an_unnamed_engine_with_gguf_weights_is_llama_cpp_and_decode_tp_follows_the_engine():
    w = M._inference("decode") | {"weights": "Q4_K_M"}
    r = _one(M.case("decode", engine=None, **w))
    assert r.predicted == _one(M.case("decode", engine="llama.cpp", **w)).predicted
    assert "engine not given: llama.cpp assumed (weights Q4_K_M are a GGUF type)" in r.notes
    r = _one(M.case("decode", engine="llama.cpp", count=2, **w | {"tp": None}))
    assert r.predicted == _one(M.case("decode", engine="llama.cpp", count=2, **w | {"tp": 1})).predicted
    w = w | {"weights": "bf16", "tp": None}
    r = _one(M.case("decode", engine="vllm", count=2, **w))
    assert r.predicted == _one(M.case("decode", engine="vllm", count=2, **w | {"tp": 2})).predicted
    assert "tp not given: 2 assumed (hardware.count)" in r.notes


def test_request_rate_inf_and_torchtitan_layout_names():
    w = M._inference("serve") | {"concurrency": "max"}
    for rate in ("inf", float("inf")):
        r = _one(M.case("serve", metric="ttft_s", **w | {"request_rate": rate}))
        assert r.predicted == _one(M.case("serve", metric="ttft_s", **w | {"request_rate": None})).predicted
        assert "request rate inf: every request sent at once (a max-throughput run)" in r.notes
    r = _one(_train(layout={"dp_shard": 8, "dp_replicate": 8, "tp": None}))
    assert r.predicted == _one(_train(layout={"dp": 64, "fsdp": "hybrid_shard"})).predicted
    assert "layout dp_shard 8, dp_replicate 8 read as dp 64, fsdp hybrid_shard" in r.notes
    assert not any("not used" in n for n in r.notes)


def test_a_fixed_concurrency_run_the_memory_model_cannot_hold_is_still_timed():
    """The run held its requests, so where llmsize's memory model leaves no KV room (a 70B FP8 on one H100
    at 8K prompts) a fixed concurrency is timed all the same, said in a note; at "max" the batch the memory
    held is the unknown, so that case stays its own error."""
    w = M._inference("serve") | {"weights": "fp8", "kv_dtype": "fp8", "prompt": 8000, "output": 500, "tp": 1,
                                 "pp": 1, "dp": 1, "concurrency": 4}
    base = M.case("serve", model="Llama-3.1-70B", **w)
    four = _one(base)
    assert four.error is None and four.predicted > 0
    assert any(n.startswith("llmsize's memory model says H100-SXM × 1 leaves room for 0 KV tokens, one request "
                            "needs 8,500; the run held its requests, so its concurrency 4 is timed") for n in four.notes)
    at_max = _one(base | {"workload": base["workload"] | {"concurrency": "max"}})
    assert at_max.predicted is None and "does not fit" in at_max.error
