"""SGLang's default --mem-fraction-static (engines.sglang), worked by hand from server_args.py's rule:
R = 512 + 1.5·max(C, 2048) + 2·G + tp·pp/8·1024 MiB (+ 3·G·dp, + 1.5·G·dp past G = 300, with DP
attention); u = round((M − R)/M, 3)."""
from __future__ import annotations

import pytest

from llmsize.engines.sglang import default_mem_fraction
from llmsize.errors import LlmsizeError

MIB = 2**20


@pytest.mark.parametrize("mib, tp, pp, dp_att, dp, c, g, r", [
    (15360, 1, 1, False, 1, 2048, 8, 512 + 3072 + 16 + 128),            # T4: 16 GB
    (24564, 1, 1, False, 1, 2048, 24, 512 + 3072 + 48 + 128),           # RTX 4090
    (24564, 4, 1, False, 1, 2048, 80, 512 + 3072 + 160 + 512),          # RTX 4090, TP 4
    (46068, 2, 1, False, 1, 4096, 32, 512 + 6144 + 64 + 256),           # L40S
    (81559, 1, 1, False, 1, 8192, 256, 512 + 12288 + 512 + 128),        # H100 (nvidia-smi's MiB)
    (81559, 8, 1, False, 1, 8192, 512, 512 + 12288 + 1024 + 1024),      # H100, TP 8
    (81559, 4, 2, False, 1, 8192, 512, 512 + 12288 + 1024 + 1024),      # H100, TP 4 × PP 2
    (143771, 8, 1, True, 8, 8192, 512, 512 + 12288 + 1024 + 1024 + 12288 + 6144),  # H200, DP attention 8
    (183359, 1, 1, False, 1, 16384, 512, 512 + 24576 + 1024 + 128),     # B200
])
def test_the_rule_by_hand(mib, tp, pp, dp_att, dp, c, g, r):
    s = default_mem_fraction(mib * MIB, tp, pp, dp_attention=dp_att, dp=dp)
    assert (s.chunked_prefill_size, s.cuda_graph_max_bs, s.reserved_mib) == (c, g, r)
    assert s.fraction == round((mib - r) / mib, 3)


def test_known_values():
    """0.835 of an H100 at TP 1, 0.818 at TP 8, 0.857 of a B200: the share grows with the GPU."""
    assert default_mem_fraction(81559 * MIB).fraction == 0.835
    assert default_mem_fraction(81559 * MIB, 8).fraction == 0.818
    assert default_mem_fraction(183359 * MIB).fraction == 0.857


def test_bad_sizes_are_refused():
    with pytest.raises(LlmsizeError, match="at least 1"):
        default_mem_fraction(81559 * MIB, 0)
    with pytest.raises(LlmsizeError, match="GPU memory"):
        default_mem_fraction(0)
