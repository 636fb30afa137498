"""Config values of the models the planner tests use (no preset needed)."""
from __future__ import annotations

from llmsize.adapters.hf_config import spec_from_config

LLAMA_31_8B = {"model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
               "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256,
               "max_position_embeddings": 131072, "tie_word_embeddings": False, "torch_dtype": "bfloat16"}
LLAMA_31_70B = dict(LLAMA_31_8B, hidden_size=8192, intermediate_size=28672, num_hidden_layers=80,
                    num_attention_heads=64)
LLAMA_31_405B = dict(LLAMA_31_8B, hidden_size=16384, intermediate_size=53248, num_hidden_layers=126,
                     num_attention_heads=128)
LLAMA_2_7B = {"model_type": "llama", "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
              "num_attention_heads": 32, "num_key_value_heads": 32, "vocab_size": 32000,
              "max_position_embeddings": 4096}
LLAMA_65B = dict(LLAMA_2_7B, hidden_size=8192, intermediate_size=22016, num_hidden_layers=80, num_attention_heads=64,
                 num_key_value_heads=64, max_position_embeddings=2048)
# GPT-3 175B (Brown et al. 2020, Table 2.1): d 12288, 96 layers, 96 heads, 2048 context, 4d FFN.
GPT3 = {"model_type": "gpt2", "n_embd": 12288, "n_layer": 96, "n_head": 96, "n_positions": 2048, "vocab_size": 50257}


def spec(cfg: dict, name: str):
    return spec_from_config(cfg, name)
