from fractions import Fraction

import pytest

from llmsize.errors import LlmsizeError
from llmsize.quant.ggml_types import GGML_TYPES, ggml_type, row_bytes, tensor_bytes

# (block values, bytes per block) from ggml-common.h's static_asserts, as the brief lists them
BRIEF = {"F32": (1, 4), "F16": (1, 2), "BF16": (1, 2), "Q4_0": (32, 18), "Q4_1": (32, 20), "Q5_0": (32, 22),
         "Q5_1": (32, 24), "Q8_0": (32, 34), "Q2_K": (256, 84), "Q3_K": (256, 110), "Q4_K": (256, 144),
         "Q5_K": (256, 176), "Q6_K": (256, 210), "Q8_K": (256, 292), "IQ1_S": (256, 50), "IQ1_M": (256, 56),
         "IQ2_XXS": (256, 66), "IQ2_XS": (256, 74), "IQ2_S": (256, 82), "IQ3_XXS": (256, 98), "IQ3_S": (256, 110),
         "IQ4_NL": (32, 18), "IQ4_XS": (256, 136), "TQ1_0": (256, 54), "TQ2_0": (256, 66), "MXFP4": (32, 17),
         "NVFP4": (64, 36)}


@pytest.mark.parametrize("name", sorted(BRIEF))
def test_block_sizes(name):
    t = ggml_type(name)
    assert (t.block, t.block_bytes) == BRIEF[name]


def test_agrees_with_gguf_package():
    pytest.importorskip("gguf")
    from gguf.constants import GGML_QUANT_SIZES

    for qt, (block, size) in GGML_QUANT_SIZES.items():
        if qt.name == "Q8_1":  # gguf-py still lists the old float d/s layout (40 B); ggml-common.h has 36
            assert ggml_type("Q8_1").block_bytes == 36
            continue
        t = ggml_type(int(qt))
        assert t.name == qt.name and (t.block, t.block_bytes) == (block, size), qt.name


def test_bits_per_weight():
    assert ggml_type("Q4_K").bits_per_weight == Fraction(9, 2)
    assert ggml_type("Q6_K").bits_per_weight == Fraction(105, 16)  # 6.5625
    assert ggml_type("MXFP4").bits_per_weight == Fraction(17, 4)  # 4.25


def test_row_and_tensor_bytes():
    assert row_bytes("Q4_K", 4096) == 16 * 144
    assert tensor_bytes("Q8_0", (4096, 1024)) == 1024 * 128 * 34
    assert tensor_bytes("F32", (7,)) == 28


def test_row_not_multiple_of_block():
    with pytest.raises(LlmsizeError, match="not a multiple"):
        row_bytes("Q6_K", 29568)


def test_unknown_id_names_known_ones():
    with pytest.raises(LlmsizeError, match=r"unknown ggml type id 99.*known ids: 0=F32"):
        ggml_type(99)
    with pytest.raises(LlmsizeError, match="removed from ggml"):
        ggml_type(31)
    with pytest.raises(LlmsizeError, match="did you mean"):
        ggml_type("Q4_KK")


def test_names_unique():
    assert len({t.id for t in GGML_TYPES.values()}) == len(GGML_TYPES)
