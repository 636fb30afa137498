"""Whole-run rows whose source leaves the GPU count, layout or global batch null: the defaults taken are
physical (never a 405B model's training state on one unsharded GPU) and each is said in a note."""
from __future__ import annotations

import json

import pytest

from llmsize.validate_speed import parse_speed_cases, predict_case
from tests.conftest import DATA

ROWS = {r["id"]: r for r in (json.loads(x) for x in (DATA / "speed_calib.jsonl").read_text().splitlines() if x.strip())}


def _predict(row):
    return predict_case(parse_speed_cases([json.dumps(row)])[0])


def test_null_layout_shards_a_model_whose_state_cannot_fit_one_gpu():
    # Llama 3.1 405B's card: 16 B/param of Adam state = 6,048 GiB, far over an H100's 79 GiB
    r = _predict(ROWS["modelcard-llama-3.1-405b-gpu-hours"])
    assert any("6048 GiB" in n and "fully sharded" in n for n in r.notes), r.notes
    assert any("hardware.count not given" in n and "no communication timed" in n for n in r.notes)
    # SmolLM3 3B: 46 GiB of state fits an H100: plain data parallel, no sharding note
    r = _predict(ROWS["smollm3-3b-run-days"])
    assert not any("sharded" in n for n in r.notes) and not any("count not given" in n for n in r.notes)
    # a layout the source gives is never overridden (BloombergGPT: ZeRO-3 as published)
    r = _predict(ROWS["bloomberggpt-50b-run-days"])
    assert not any("layout not given" in n for n in r.notes)


def test_a_count_too_small_even_fully_sharded_is_said():
    row = json.loads(json.dumps(ROWS["modelcard-llama-3.1-405b-gpu-hours"]))
    row["hardware"]["count"] = 8
    row["measured"] = {"metric": "days"}
    r = _predict(row)
    assert r.predicted > 0 and any("does not fit" in n and "8 GPUs" in n for n in r.notes), r.notes
    row["hardware"]["count"] = 1024  # 5.9 GiB of state a GPU: fits, nothing more to say
    assert not any("does not fit" in n for n in _predict(row).notes)


def test_sharding_default_leaves_the_rate_of_a_run_without_a_batch_unchanged():
    # with no global batch the data-parallel traffic is not timed: the default changes notes, not numbers
    row = json.loads(json.dumps(ROWS["modelcard-llama-3.1-405b-gpu-hours"]))
    a = _predict(row).predicted
    row["workload"]["layout"] = {"dp": 1}
    assert _predict(row).predicted == a


def _without(row, *keys):
    row = json.loads(json.dumps(row))
    for k in keys:
        row["workload"]["layout"].pop(k, None)
    return row


def test_an_unsaid_pipeline_schedule_is_the_engines_usual_one_and_said():
    """Llama 3 Table 4 as the issue's schema writes it (no `schedule`, virtual stages null): interleaved with one
    layer per virtual stage, as the row that states it; 1F1B (-41%) was the old reading. DeepSpeed and
    torchtitan default to 1F1B."""
    row = ROWS["llama3-paper-table4-16384gpu-seq8192"]
    stated = _predict(row)
    bare = _predict(_without(row, "schedule"))
    assert bare.predicted == stated.predicted
    assert any(n.startswith("pipeline schedule not given: interleaved 1F1B with 8 virtual stages") for n in bare.notes)
    assert any(n.startswith("virtual_stages not given: 8 per rank") for n in stated.notes)
    one = json.loads(json.dumps(row))
    one["workload"]["layout"]["schedule"] = "1f1b"
    assert _predict(one).predicted < 0.65 * stated.predicted  # 16 micro-batches on 16 stages idle ~half a step
    for engine in ("deepspeed", "torchtitan"):
        r = _predict({**_without(row, "schedule"), "engine": engine})
        assert r.predicted == _predict({**one, "engine": engine}).predicted
        assert any(n.startswith(f"pipeline schedule not given: 1F1B assumed ({engine}'s default)") for n in r.notes)


def test_an_unsaid_all_to_all_overlap_is_on_in_house_and_off_under_megatron():
    """DeepSeek-V3's pre-training without its extension fields: an in-house engine (`unknown`) overlaps its
    all-to-alls (DualPipe), within 11% of the 2.664M GPU-hours; Megatron-Core's default (off) far above."""
    row = ROWS["deepseek-v3-h800-pretrain-gpu-hours"]
    bare = _predict(_without(row, "a2a_overlap", "dispatcher", "schedule"))
    assert abs(bare.rel_error) < 0.11
    assert any("a2a_overlap not given: the expert all-to-alls overlapped" in n for n in bare.notes)
    mega = _predict({**_without(row, "a2a_overlap", "dispatcher", "schedule"), "engine": "megatron"})
    assert mega.predicted > 1.5 * bare.predicted
    assert any("not overlapped assumed (megatron's default)" in n for n in mega.notes)


def test_an_engine_spelling_is_read_as_its_engine_everywhere_and_said():
    """"DeepSpeed" takes DeepSpeed's 1F1B default as "deepspeed" does (the raw spelling missed it); NeMo and
    FSDP2 are read as Megatron-Core and FSDP, said in the notes."""
    row = _without(ROWS["llama3-paper-table4-16384gpu-seq8192"], "schedule")
    low = _predict({**row, "engine": "deepspeed"})
    cap = _predict({**row, "engine": "DeepSpeed"})
    assert cap.predicted == low.predicted and any("1F1B assumed (deepspeed's default)" in n for n in cap.notes)
    nemo = _predict({**row, "engine": "NeMo"})
    assert nemo.predicted == _predict({**row, "engine": "megatron"}).predicted
    assert "engine 'NeMo' read as megatron" in nemo.notes
    assert "engine 'FSDP2' read as fsdp" in _predict({**row, "engine": "FSDP2"}).notes


def test_the_stacks_a_source_names_otherwise_are_read_as_the_engine_they_run():
    """Megatron-DeepSpeed trains on DeepSpeed's engine (its 1F1B pipeline), Composer is llm-foundry's trainer,
    a lab's own stack is `unknown`, and a parenthesised backend is read past; a serving engine llmsize has no
    efficiencies for stays an error that lists the known ones."""
    from llmsize.errors import LlmsizeError
    from llmsize.speedmodel.efficiency import engine_name

    row = _without(ROWS["llama3-paper-table4-16384gpu-seq8192"], "schedule")
    md = _predict({**row, "engine": "Megatron-DeepSpeed"})
    assert md.predicted == _predict({**row, "engine": "deepspeed"}).predicted
    assert "engine 'Megatron-DeepSpeed' read as deepspeed" in md.notes
    assert any("1F1B assumed (deepspeed's default)" in n for n in md.notes)
    assert [engine_name(e) for e in ("MosaicML Composer", "in-house", "llama.cpp (CUDA)", "Ollama", "PyTorch FSDP")] \
        == ["llm-foundry", "unknown", "llama.cpp", "llama.cpp", "fsdp"]
    for bad in ("lmdeploy", "TGI", "(CUDA)"):
        with pytest.raises(LlmsizeError, match="unknown engine .* \\(known: llama.cpp, vllm"):
            engine_name(bad)
