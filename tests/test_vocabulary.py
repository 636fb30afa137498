"""One vocabulary (issue 13, item 4): walk every command's options and the JSON API's schema, and fail when
one idea shows under two names, an old spelling is visible, or one name has different choices or defaults
in different places (unless the difference is listed below, with its reason, and in docs/vocabulary.md)."""
from __future__ import annotations

import json
from typing import Any

import click
import pytest
from click.testing import CliRunner

from llmsize.cli import cli
from llmsize.cli.vocab import IDEAS, Opt, visible_opts

# idea -> every spelling it has: (canonical flag, hidden old flags, canonical JSON field, old JSON fields).
# Written out here, not read from llmsize.cli.vocab, so a change there must be made here too.
TABLE: dict[str, tuple[str, tuple[str, ...], str, tuple[str, ...]]] = {
    "tokens per sequence (the prompt when serving, the sequence when training)":
        ("--seq-len", ("--context", "--seq", "--prompt"), "seq_len", ("context", "seq", "prompt")),
    "tokens generated per sequence": ("--new-tokens", ("--output",), "new_tokens", ("output",)),
    "sequences per step (training micro-batch per GPU, requests served at once)":
        ("--batch", ("--micro-batch", "--concurrency"), "batch", ("micro_batch", "concurrency")),
    "KV-cache dtype": ("--kv-cache-dtype", ("--kv-dtype", "--kv-cache"), "kv_cache_dtype", ("kv_dtype", "kv_cache")),
    "weight format for inference and serving": ("--weights", ("--dtype",), "weights", ("dtype",)),
    "training precision": ("--precision", ("--dtype", "--amp"), "precision", ("dtype", "amp")),
    "activation (gradient) checkpointing":
        ("--grad-checkpointing", ("--recompute",), "grad_checkpointing", ("recompute",)),
    "inference engine": ("--engine", ("--runtime",), "engine", ("runtime",)),
    "LoRA rank": ("--lora-r", ("--rank",), "lora_r", ("rank",)),
    "GPU types to consider": ("--gpu", (), "gpu", ("gpus",)),
    "size past the trained context": ("--allow-long-context", (), "allow_long_context", ()),
}

# (command, visible flag) that spells another idea with an old name of one in TABLE, on purpose
OTHER_IDEA = {
    ("train", "--rank"): "the GPU rank whose memory the per-GPU report shows (torch.distributed's rank)",
}
# (flag, command): why this command's choices, type or default differ from the same flag elsewhere
DIFFERENT = {
    ("--seq-len", "trace"): "trace runs the model: a fixed 1024 it can always build, not a default shortened "
                            "to the model's context",
    ("--seq-len", "design"): "designed models are compared serving 8192 tokens (no checkpoint context to read)",
    ("--seq-len", "compare"): "as design",
    ("--seq-len", "whatif"): "as design",
    ("--precision", "plan"): "the planner sizes bf16-mixed, bf16 and fp32 (no fp16 throughput rows)",
    ("--precision", "fit"): "as plan", ("--precision", "speed"): "as plan", ("--precision", "cost"): "as plan",
    ("--precision", "export"): "as plan",
    ("--grad-checkpointing", "plan"): "planned multi-GPU runs checkpoint activations (Megatron-LM, torchtitan); "
                                      "train and trace measure one process as transformers runs it: off",
    ("--grad-checkpointing", "fit"): "as plan", ("--grad-checkpointing", "speed"): "as plan",
    ("--grad-checkpointing", "cost"): "as plan", ("--grad-checkpointing", "export"): "as plan",
    ("--engine", "infer"): "infer has a device model for transformers, vLLM and llama.cpp only; the planner "
                           "times five engines",
    ("--attn", "trace"): "trace runs on CPU fake tensors, where flash-attention does not exist",
    ("--optimizer", "trace"): "trace builds the torch optimizers it can run; train sizes more",
    ("--fsdp", "train"): "train sizes FSDP2's sharding strategies; no_shard is plain DDP there (no --fsdp)",
    ("--host", "serve"): "serve --host is the address to listen on (uvicorn's name), not host memory",
    ("--format", "whatif"): "the one format a quantization what-if converts to; quant --format lists formats",
    ("--price", "design"): "design prices its one --gpu (USD/GPU-hour); plan/cost take GPU=USD per type",
    ("--price", "compare"): "as design", ("--price", "whatif"): "as design",
    ("--tokens", "design"): "design takes quantities such as 15T", ("--tokens", "compare"): "as design",
    ("--tokens", "scaling"): "as design",
    ("--mfu", "design"): "a bounded float (0, 1]", ("--mfu", "compare"): "as design", ("--mfu", "whatif"): "as design",
    ("--virtual-stages", "export"): "Megatron's interleaving needs 2 or more stages",
    ("--gpus", "train"): "train reports one layout of --gpus; plan/fit search up to a bound",
    ("--gpu", "plan"): "plan and cost compare several GPU types: repeatable", ("--gpu", "cost"): "as plan",
    ("--gpu", "design"): "design times its candidates on one GPU: H100 unless given",
    ("--gpu", "compare"): "as design", ("--gpu", "whatif"): "as design",
    ("--new-tokens", "trace"): "trace runs a training step unless --mode generate: 0 new tokens",
    ("--batch", "plan"): "a serving batch may be max, an offline max-throughput run (every request queued); "
                         "infer, train, quant and design size a batch of a number of sequences",
    ("--batch", "fit"): "as plan", ("--batch", "speed"): "as plan", ("--batch", "cost"): "as plan",
    ("--batch", "export"): "as plan (vllm with --gpu)",
}

# JSON: field -> schemas where it differs from the same field elsewhere, with the reason
API_DIFFERENT = {
    ("seq_len", "TrainBody"): "train's 1024 (a default shortened to the model's context in the CLI)",
    ("seq_len", "TrainSweep"): "as TrainBody",
    ("seq_len", "NglBody"): "llama.cpp's -c per slot, 4096",
    ("seq_len", "Setting"): "as design --seq-len: 8192",
    ("precision", "TrainBody"): "train adds fp16-mixed and fp16 to the planner's three",
    ("precision", "TrainSweep"): "as TrainBody",
    ("grad_checkpointing", "TrainBody"): "as train (off); the planner's Job: on",
    ("grad_checkpointing", "TrainSweep"): "as TrainBody",
    ("engine", "Job"): "the planner's serving engines, vllm when absent (infer's default is transformers); "
                       "sglang and trt-llm are timed, with no device memory model of their own",
    ("kv_cache_dtype", "InferBody"): "infer sizes auto, bf16, fp16, fp32, fp8, int8",
    ("kv_cache_dtype", "NglBody"): "llama.cpp's -ctk/-ctv types, f16 by default as llama.cpp",
    ("kv_cache_dtype", "QuantBody"): "absent = auto (not allowed with qlora)",
    ("kv_cache_dtype", "ExportBody"): "absent = the engine's own default (auto; llama.cpp f16)",
    ("engine", "ExportBody"): "the engines export writes files for",
    ("weights", "NglBody"): "llama.cpp runs GGUF: Q4_K_M",
    ("weights", "Setting"): "as design --weights: bf16",
    ("gpu", "FitBody"): "one GPU type", ("gpu", "SpeedBody"): "one GPU type", ("gpu", "InferBody"): "one GPU",
    ("gpu", "InferSweep"): "one GPU", ("gpu", "TrainBody"): "one GPU", ("gpu", "TrainSweep"): "one GPU",
    ("gpu", "QuantBody"): "one GPU or a size", ("gpu", "NglBody"): "one GPU", ("gpu", "Setting"): "design's GPU, H100",
    ("batch", "ExportBody"): "absent = the planner's (micro-batch 1, or 1 request at once); \"max\" as Job's",
    ("batch", "Job"): "a serving batch may be \"max\", an offline max-throughput run (every request queued)",
    ("precision", "ExportBody"): "absent = the planner's bf16-mixed with gpu, else the engine's own",
    ("grad_checkpointing", "ExportBody"): "absent = the planner's (on)",
    ("new_tokens", "ExportBody"): "absent = the planner's 256",
    ("gpu", "ExportBody"): "one GPU type to plan the layout for",
    ("batch", "NglBody"): "llama.cpp slots, up to 4096",
    ("new_tokens", "InferBody"): "absent = 256 (as infer), and none with forward", ("new_tokens", "InferSweep"): "as infer",
}
API_OTHER_IDEA = {("gpus", "LayoutBody"): "the GPU count of a layout, as --gpus"}


def commands() -> dict[str, click.Command]:
    ctx = click.Context(cli)
    return {n: c for n in cli.list_commands(ctx) if (c := cli.get_command(ctx, n)) is not None}


def _signature(p: click.Option) -> tuple[Any, ...]:
    t = p.type
    choices = tuple(t.choices) if isinstance(t, click.Choice) else None
    default = None if p.default is None or p.default.__class__.__name__ == "Sentinel" else p.default
    return (t.name, choices, p.multiple, p.is_flag, default)


def vocabulary_problems(cmds: dict[str, click.Command]) -> list[str]:
    """Everything the vocabulary rule forbids in these commands, as sentences (empty: none)."""
    problems = []
    old = {a: idea for idea, (_, aliases, _, _) in TABLE.items() for a in aliases}
    by_flag: dict[str, dict[str, tuple[Any, ...]]] = {}
    for name, cmd in cmds.items():
        for p in cmd.params:
            if not isinstance(p, click.Option):
                continue
            shown = [o for o in visible_opts(p) if not p.hidden]
            for o in shown:
                if o in old and (name, o) not in OTHER_IDEA:
                    problems.append(f"{name}: {o} is shown, but it is an old name of {TABLE[old[o]][0]} "
                                    f"({old[o]})")
            if shown and not p.hidden:
                by_flag.setdefault(shown[0], {})[name] = _signature(p)
    for flag, per in by_flag.items():
        usual = [s for n, s in per.items() if (flag, n) not in DIFFERENT]
        for n, s in per.items():
            if (flag, n) in DIFFERENT:
                continue
            for other in usual:
                if s[:4] != other[:4] or (s[4] is not None and other[4] is not None and s[4] != other[4]):
                    problems.append(f"{flag}: {n} has {s}, another command {other}")
                    break
    return problems


def test_every_command_speaks_one_vocabulary():
    assert vocabulary_problems(commands()) == []


def test_the_checker_fails_on_two_names_or_two_defaults():
    """The walk is not vacuous: a command showing an old name, or a flag with another default, is caught."""
    @click.command("fake")
    @click.option("--context", type=int)
    @click.option("--batch", type=click.IntRange(min=1), default=4)
    def fake(context: int, batch: int) -> None: ...

    got = vocabulary_problems({**commands(), "fake": fake})
    assert any("fake: --context is shown" in p for p in got)
    assert any(p.startswith("--batch: fake has") or "--batch: " in p and "fake" in p for p in got)


def test_the_table_is_the_documented_one():
    assert {k: (v[0], v[2]) for k, v in TABLE.items()} == {k: (v[0], v[1]) for k, v in IDEAS.items()}
    doc = open("docs/vocabulary.md", encoding="utf-8").read()
    for idea, (flag, aliases, field, olds) in TABLE.items():
        assert f"`{flag}`" in doc and f"`{field}`" in doc, idea
        for a in aliases + olds:
            assert f"`{a}`" in doc, (idea, a)
    for (flag, cmd) in DIFFERENT:
        assert flag in doc, flag


def test_every_canonical_flag_is_used_and_every_alias_still_parses():
    cmds = commands()
    for idea, (flag, aliases, _, _) in TABLE.items():
        having = [n for n, c in cmds.items() for p in c.params if isinstance(p, click.Option) and flag in p.opts]
        assert having, f"{idea}: no command has {flag}"
    hidden = {o for c in cmds.values() for p in c.params if isinstance(p, click.Option)
              for o in (p.opts + p.secondary_opts if p.hidden else getattr(p, "aliases", ()))}
    for _, aliases, _, _ in TABLE.values():
        for a in aliases:
            assert a in hidden, f"{a} is no longer accepted anywhere"
    assert any(isinstance(p, Opt) for c in cmds.values() for p in c.params)


def _json(args: list[str]) -> Any:
    r = CliRunner().invoke(cli, [*args, "--json"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


@pytest.mark.parametrize("old, new", [
    (["infer", "gpt2", "--context", "512", "--kv-dtype", "fp8", "--runtime", "torch", "--dtype", "fp16"],
     ["infer", "gpt2", "--seq-len", "512", "--kv-cache-dtype", "fp8", "--engine", "transformers", "--weights", "fp16"]),
    (["infer", "gpt2", "--runtime", "llamacpp"], ["infer", "gpt2", "--engine", "llama.cpp"]),
    (["train", "gpt2", "--context", "256", "--dtype", "fp32", "--amp", "bf16"], ["train", "gpt2", "--seq-len", "256"]),
    (["train", "gpt2", "--dtype", "bfloat16"], ["train", "gpt2", "--precision", "bf16"]),
    (["quant", "gpt2", "--context", "512", "--kv-cache", "q8_0"], ["quant", "gpt2", "--seq-len", "512",
                                                                   "--kv-cache-dtype", "q8_0"]),
    (["quant", "gpt2", "--qlora", "--rank", "8"], ["quant", "gpt2", "--qlora", "--lora-r", "8"]),
    (["speed", "Llama-3.1-8B", "--gpu", "H100", "--prompt", "2048", "--output", "64", "--concurrency", "4",
      "--kv-dtype", "fp8"],
     ["speed", "Llama-3.1-8B", "--gpu", "H100", "--seq-len", "2048", "--new-tokens", "64", "--batch", "4",
      "--kv-cache-dtype", "fp8"]),
    (["speed", "Llama-3.1-8B", "--gpu", "H100", "--train", "--tokens", "1e9", "--seq", "2048", "--micro-batch", "2",
      "--no-recompute"],
     ["speed", "Llama-3.1-8B", "--gpu", "H100", "--train", "--tokens", "1e9", "--seq-len", "2048", "--batch", "2",
      "--no-grad-checkpointing"]),
    (["compare", "gpt2", "gpt2-medium", "--context", "1024", "--dtype", "fp16"],
     ["compare", "gpt2", "gpt2-medium", "--seq-len", "1024", "--weights", "fp16"]),
])
def test_old_spellings_give_the_same_answer(old, new):
    assert _json(old) == _json(new)


def test_train_defaults_to_mixed_precision_like_the_planner():
    """One training precision: train without flags sizes bf16-mixed (fp32 master weights + fp32 Adam, bf16
    autocast), the planner's default; pure bf16 is asked for."""
    default = _json(["train", "Llama-3.1-8B"])
    assert default == _json(["train", "Llama-3.1-8B", "--precision", "bf16-mixed"])
    assert default["peak_bytes"] > 1.9 * _json(["train", "Llama-3.1-8B", "--precision", "bf16"])["peak_bytes"]
    plan = commands()["plan"]
    assert next(p.default for p in plan.params if p.name == "precision") == "bf16-mixed"


def test_old_and_canonical_together_must_agree():
    r = CliRunner().invoke(cli, ["speed", "gpt2", "--gpu", "H100", "--batch", "2", "--concurrency", "3"])
    assert r.exit_code != 0 and "--batch 2 and --concurrency 3" in str(r.exception)
    r = CliRunner().invoke(cli, ["train", "gpt2", "--precision", "bf16", "--amp", "bf16"])
    assert r.exit_code != 0 and "--precision replaces --dtype/--amp" in str(r.exception)


# -- the JSON API ---------------------------------------------------------------------------------
def _schemas() -> dict[str, Any]:
    pytest.importorskip("fastapi")
    from llmsize.web.app import create_app

    return create_app().openapi()["components"]["schemas"]


def _field_sig(p: dict[str, Any]) -> tuple[Any, ...]:
    kinds = p.get("anyOf", [p])
    enum = tuple(sorted(v for k in kinds for v in k.get("enum", ())))
    types = tuple(sorted(str(k.get("type", k.get("$ref", ""))) for k in kinds if k.get("type") != "null"))
    return (types, enum, p.get("default"))


def api_problems(schemas: dict[str, Any]) -> list[str]:
    problems = []
    old = {a: idea for idea, (_, _, _, olds) in TABLE.items() for a in olds}
    per: dict[str, dict[str, tuple[Any, ...]]] = {}
    for name, s in schemas.items():
        for field, p in (s.get("properties") or {}).items():
            if field in old and (field, name) not in API_OTHER_IDEA:
                problems.append(f"{name}.{field} is an old name of {TABLE[old[field]][2]}")
            per.setdefault(field, {})[name] = _field_sig(p)
    canon = {v[2] for v in TABLE.values()}
    for field in canon & set(per):
        usual = [s for n, s in per[field].items() if (field, n) not in API_DIFFERENT]
        for n, s in per[field].items():
            if (field, n) not in API_DIFFERENT and any(s != o for o in usual):
                problems.append(f"{field}: {n} has {s}, elsewhere {usual}")
    return problems


def test_the_api_schema_speaks_the_same_vocabulary():
    assert api_problems(_schemas()) == []


def test_the_api_checker_fails_on_an_old_name():
    s = _schemas()
    s = {**s, "Fake": {"properties": {"context": {"type": "integer"}, "batch": {"type": "integer", "default": 9}}}}
    got = api_problems(s)
    assert "Fake.context is an old name of seq_len" in got and any(p.startswith("batch: Fake") for p in got)


@pytest.fixture(scope="module")
def client():
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from llmsize.web.app import create_app

    with TestClient(create_app()) as c:
        yield c


GPT2 = {"preset": "gpt2"}


@pytest.mark.parametrize("path, old, new", [
    ("infer", {"context": 512, "kv_dtype": "fp8", "runtime": "torch", "dtype": "fp16"},
     {"seq_len": 512, "kv_cache_dtype": "fp8", "engine": "transformers", "weights": "fp16"}),
    ("train", {"dtype": "fp32", "amp": "bf16", "seq_len": 256}, {"precision": "bf16-mixed", "seq_len": 256}),
    ("train", {"seq_len": 256}, {"precision": "bf16-mixed", "seq_len": 256}),
    ("quant", {"context": 512, "kv_cache": "q8_0"}, {"seq_len": 512, "kv_cache_dtype": "q8_0"}),
    ("speed", {"gpu": "H100", "job": {"prompt": 512, "output": 64, "concurrency": 4, "kv_dtype": "fp8"}},
     {"gpu": "H100", "job": {"seq_len": 512, "new_tokens": 64, "batch": 4, "kv_cache_dtype": "fp8"}}),
    ("speed", {"gpu": "H100", "job": {"mode": "train", "tokens": 1e9, "seq": 512, "micro_batch": 2, "prompt": 9,
                                      "recompute": False}},
     {"gpu": "H100", "job": {"mode": "train", "tokens": 1e9, "seq_len": 512, "batch": 2, "grad_checkpointing": False}}),
    ("cost", {"gpus": ["H100"]}, {"gpu": ["H100"]}),
])
def test_the_api_takes_old_names(client, path, old, new):
    a = client.post(f"/api/v1/{path}", json={"model": GPT2, **old})
    b = client.post(f"/api/v1/{path}", json={"model": GPT2, **new})
    assert a.status_code == b.status_code == 200, (a.text[:300], b.text[:300])
    assert a.json() == b.json()


def test_api_and_cli_train_share_the_precision_default(client):
    r = client.post("/api/v1/train", json={"model": {"preset": "Llama-3.1-8B"}, "seq_len": 1024})
    assert r.status_code == 200
    assert r.json()["peak_bytes"] == _json(["train", "Llama-3.1-8B"])["peak_bytes"]


@pytest.mark.parametrize("path, body", [
    ("infer", {"model": {"preset": "Llama-3.1-8B"}, "seq_len": 200_000}),
    ("train", {"model": {"preset": "Llama-3.1-8B"}, "seq_len": 200_000}),
    ("quant", {"model": {"preset": "Llama-3.1-8B"}, "seq_len": 200_000}),
    ("speed", {"model": {"preset": "Llama-3.1-8B"}, "gpu": "H100", "job": {"seq_len": 200_000}}),
    ("plan", {"model": {"preset": "Llama-3.1-8B"}, "job": {"mode": "train", "seq_len": 200_000, "tokens": 1e9}}),
])
def test_api_context_limit_is_a_422_naming_it(client, path, body):
    r = client.post(f"/api/v1/{path}", json=body)
    assert r.status_code == 422 and "131,072" in r.json()["detail"] and "allow_long_context" in r.json()["detail"]
    ok = json.loads(json.dumps(body))
    (ok["job"] if "job" in ok else ok)["allow_long_context"] = True
    assert client.post(f"/api/v1/{path}", json=ok).status_code == 200


def test_api_learned_positions_are_a_hard_limit(client):
    r = client.post("/api/v1/infer", json={"model": GPT2, "seq_len": 2048, "allow_long_context": True})
    assert r.status_code == 422 and "learned position table of 1,024" in r.json()["detail"]
