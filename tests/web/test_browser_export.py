"""The plan tab's export card writes every engine the CLI exports, Megatron-LM and torchtitan included, with
the layout the planner picks for that engine on the row's GPUs (as `llmsize export ENGINE MODEL --gpu --gpus`)."""
from __future__ import annotations

import re

import pytest

from .test_browser import browser, server  # noqa: F401  (fixtures; skips without chromium)
from .test_browser_v2 import ctx, load, pg  # noqa: F401


@pytest.mark.parametrize("engine, needle", [("megatron", "pretrain_gpt.py"), ("torchtitan", "[parallelism]"),
                                            ("fsdp", "distributed_type: FSDP"), ("deepspeed", "zero_optimization")])
def test_plan_tab_exports_each_training_engine(pg, engine, needle):  # noqa: F811
    load(pg, f"?m=Llama-3.1-70B&mode=train&tab=plan&w.gpu=H100-SXM&w.n=64&w.engine={engine}")
    box = pg.get_by_test_id("export").first
    box.wait_for()
    pg.wait_for_function("() => document.querySelector('[data-testid=export]').textContent.length > 5")
    text = box.inner_text()
    assert needle in text, text[:300]
    wrote = pg.get_by_test_id("export-layout").first.inner_text()
    assert re.search(r"Written for (TP|PP|DP)\d+", wrote) and "per GPU" in wrote, wrote
    if engine == "megatron":
        assert "--tensor-model-parallel-size" in text and "--global-batch-size 1024" in text
