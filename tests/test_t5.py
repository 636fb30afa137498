"""T5 (encoder-decoder): parameters equal PyTorch's count of T5ForConditionalGeneration for the t5-3b
reference config, per layer (counted with torch 2.13.0, transformers 5.23.0 under FakeTensorMode)."""
from __future__ import annotations

import sys
from pathlib import Path

from llmsize.families import read
from llmsize.params import count

sys.path.insert(0, str(Path(__file__).parent / "planner"))
from test_anchors import T5_3B  # noqa: E402

T5_3B_CFG = dict(model_type="t5", d_model=1024, d_kv=128, d_ff=16384, num_layers=24, num_heads=32, vocab_size=32128,
                 decoder_start_token_id=0)


def test_t5_3b_equals_pytorch_per_layer():
    """sum(numel) of T5ForConditionalGeneration(t5-3b config): 2,851,598,336; encoder layer 0 50,334,720
    (with the 32 x 32 relative-position table), layers 1-23 50,333,696; decoder layer 0 67,112,960, layers
    1-23 67,111,936 (torch 2.13.0, transformers 5.23.0). The planner's DeepSpeed anchor uses the same count."""
    pc = count(read(T5_3B_CFG, "t5-3b"))
    assert pc.total == 2_851_598_336 == T5_3B
    per = {i: k.params for k in pc.layer_kinds for i in k.layers}
    assert [per[i] for i in range(48)] == [50_334_720] + [50_333_696] * 23 + [67_112_960] + [67_111_936] * 23
