"""One interleaved default (issue 11): `validate`, `speed --schedule interleaved` and `plan` give an
interleaved layout whose virtual stages are unsaid one layer per chunk (speedmodel.train.default_virtual_stages),
and the memory side holds the in-flight chunks of that same v."""
from __future__ import annotations

import pytest

from llmsize.planner.jobs import TrainJob, make_layout
from llmsize.planner.search import train_layouts
from llmsize.speedmodel.train import bubble, default_virtual_stages
from tests.web.conftest import cli_json


def test_make_layout_takes_validates_default():
    lay = make_layout(32, tp=8, pp=4, schedule="interleaved", layers=80)
    assert lay.virtual_stages == default_virtual_stages(80, 4) == 20
    assert make_layout(32, tp=8, pp=4, schedule="interleaved", virtual_stages=2, layers=80).virtual_stages == 2


def test_plan_interleaves_with_the_same_default(llama70b):
    spec = llama70b
    job = TrainJob(seq_len=4096, global_batch=512)
    inter = [lay for lay in train_layouts(spec, job, 64) if lay.virtual_stages > 1]
    assert inter and all(lay.virtual_stages == default_virtual_stages(spec.num_layers, lay.pp) for lay in inter)


def test_speed_interleaved_unsaid_is_validates_layout():
    """speed's bubble and memory for --schedule interleaved without --virtual-stages are those of v = L/p."""
    args = ["Llama-3.1-70B", "--train", "--tokens", "1e11", "--gpu", "H100-SXM", "--gpus", "64", "--tp", "8",
            "--pp", "4", "--global-batch", "512"]
    unsaid = cli_json("speed", *args, "--schedule", "interleaved")
    said = cli_json("speed", *args, "--schedule", "interleaved", "--virtual-stages", "20")
    assert unsaid["layout"] == said["layout"] and "interleaved×20" in unsaid["layout"]
    assert unsaid["pipeline_bubble"] == pytest.approx(bubble(4, unsaid["micro_batches"], "interleaved", 20))
    assert unsaid["seconds"] == said["seconds"]
    fit_unsaid = cli_json("fit", *args, "--schedule", "interleaved")
    fit_said = cli_json("fit", *args, "--schedule", "interleaved", "--virtual-stages", "20")
    fit_two = cli_json("fit", *args, "--schedule", "interleaved", "--virtual-stages", "2")
    assert fit_unsaid == fit_said != fit_two


def test_bubble_needs_the_virtual_stages():
    from llmsize.errors import LlmsizeError

    with pytest.raises(LlmsizeError, match="virtual stages"):
        bubble(4, 8, "interleaved")
