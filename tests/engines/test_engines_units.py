"""Host catalog, llama.cpp contexts and offload, vLLM budget arithmetic, the llama.cpp flag refresher."""
from __future__ import annotations


import pytest

from llmsize.catalog.hardware import get_gpu
from llmsize.catalog.presets import find_preset
from llmsize.engines.hosts import Host, get_host, hosts
from llmsize.engines.llamacpp import LlamaParams, contexts, gpu_layers, kv_bytes, weights_from_preset
from llmsize.engines.offload import find_ngl, split_at
from llmsize.engines.vllm import vllm_budget
from llmsize.errors import LlmsizeError
from llmsize.load import load_preset
from script_render import load_script


def _spec(name):
    return load_preset(find_preset(name)).spec


def test_host_catalog_entries_have_sources_and_consistent_bandwidth():
    hs = hosts()
    assert len(hs) >= 9 and all(h.source and h.retrieved for h in hs)
    for h in hs:
        if h.channels and h.mts:
            assert h.bandwidth == pytest.approx(h.channels * 8 * h.mts * 1e6)
    assert get_host("ddr5").name == "DDR5-5600-2ch" and get_host("M4 Max").unified
    with pytest.raises(LlmsizeError, match="unknown host"):
        get_host("ddr6")
    with pytest.raises(LlmsizeError, match="channels x 8 B"):
        Host(name="x", description="", memory_type="DDR5", bandwidth=1e9, isa="avx2", source="s", retrieved="r",
             channels=2, mts=5600)


def test_slots_split_the_context_unless_unified():
    s = _spec("Llama-3.1-8B")
    c = contexts(s, LlamaParams(n_ctx=8192, n_seq_max=4))
    assert (c.n_ctx_seq, c.n_stream, c.kv_size) == (2048, 4, 2048)
    u = contexts(s, LlamaParams(n_ctx=8192, n_seq_max=4, kv_unified=True))
    assert (u.n_ctx_seq, u.n_stream) == (8192, 1)
    # same total cells either way: -c is the pool, per slot only without -kvu
    assert kv_bytes(s, LlamaParams(n_ctx=8192, n_seq_max=4)) == kv_bytes(s, LlamaParams(n_ctx=8192))
    with pytest.raises(LlmsizeError, match="flash attention"):
        LlamaParams(type_v="q8_0")


def test_gpu_layers_follow_llamacpp():
    assert gpu_layers(80, 0) == (range(80, 80), False)
    assert gpu_layers(80, 10) == (range(71, 80), False)
    assert gpu_layers(80, 81) == (range(0, 80), True)


def test_offload_is_monotone_and_refuses_bad_ngl():
    s = _spec("Llama-3.1-8B")
    w = weights_from_preset(s, "Q4_K_M")
    p = LlamaParams(n_ctx=4096, flash_attn=True)
    g, h = get_gpu("RTX-4090"), get_host("ddr5")
    totals = [split_at(s, w, p, g, h, n).gpu_total for n in (0, 10, 20, 33)]
    assert totals == sorted(totals)
    best, full = find_ngl(s, w, p, g, h)
    assert best.ngl == 33 and full.ngl == 33  # an 8B Q4_K_M fits a 24 GB card whole
    small = get_gpu("T4")  # 16 GB, fp16 only
    part, _ = find_ngl(_spec("Llama-3.1-70B"), weights_from_preset(_spec("Llama-3.1-70B"), "Q4_K_M"), p, small, h)
    assert 0 < part.ngl < 81 and part.decode_host_s > part.decode_gpu_s
    with pytest.raises(LlmsizeError, match="-ngl must be between"):
        split_at(s, w, p, g, h, 40)


def test_vllm_budget_terms():
    b = vllm_budget(_spec("Llama-3.1-8B"), total_memory=80 * 2**30, gpu_memory_utilization=0.9,
                    weights=15 * 2**30, torch_peak_increase=2 * 2**30, non_torch_increase=2**30,
                    cuda_graphs=2**29, kv_bytes_per_token=131072)
    assert b.available_kv == int(72 * 2**30) - 15 * 2**30 - 2 * 2**30 - 2**30 - 2**29
    assert b.num_blocks == b.available_kv // (16 * 131072) and b.max_tokens == 16 * b.num_blocks
    off = vllm_budget(_spec("Llama-3.1-8B"), total_memory=80 * 2**30, gpu_memory_utilization=0.9,
                      weights=15 * 2**30, torch_peak_increase=0, non_torch_increase=0, cuda_graphs=2**29,
                      kv_bytes_per_token=131072, estimate_cuda_graphs=False)
    assert off.cuda_graphs == 0
    with pytest.raises(LlmsizeError):
        vllm_budget(_spec("Llama-3.1-8B"), total_memory=1, gpu_memory_utilization=1.5, weights=0,
                    torch_peak_increase=0, non_torch_increase=0, cuda_graphs=0, kv_bytes_per_token=1)


def test_llamacpp_flag_refresher_reads_arg_cpp_declarations():
    mod = load_script("scripts/refresh_llamacpp_flags.py")
    text = '''add_opt(common_arg(
        {"-ngl", "--gpu-layers", "--n-gpu-layers"}, "N", "help", [](common_params & p, int v) {}));
    add_opt(common_arg({"-kvu", "--kv-unified"}, {"-no-kvu", "--no-kv-unified"}, "help", [](){}));
    add_opt(common_arg({"-sm", "--split-mode"}, "{none,layer,row,tensor}", "help", [](){}));'''
    d = mod.declared(text)
    assert {"-ngl", "--n-gpu-layers", "-kvu", "-no-kvu", "--no-kv-unified", "-sm"} <= set(d)
    assert d["-sm"] == "{none,layer,row,tensor}"


def test_vllm_batch_defaults_follow_the_gpu_and_the_context():
    """`vllm serve`'s defaults (get_batch_defaults): 8,192 tokens and 1,024 sequences on a GPU of 70 GiB or
    more that is not an A100, else 2,048 and 256; the tokens capped at sequences x max_model_len and the
    sequences at the tokens."""
    from llmsize.engines.vllm import batch_defaults

    assert batch_defaults(get_gpu("H100-SXM")) == (8192, 1024)
    assert batch_defaults(get_gpu("H200")) == (8192, 1024)
    assert batch_defaults(get_gpu("A100-SXM-80GB")) == (2048, 256)  # kept small by name (PR 17885)
    assert batch_defaults(get_gpu("RTX-4090")) == (2048, 256)
    assert batch_defaults(None) == (2048, 256)
    assert batch_defaults(get_gpu("H100-SXM"), max_model_len=4) == (4096, 1024)
    assert batch_defaults(get_gpu("A100-SXM-80GB"), max_model_len=1) == (256, 256)
