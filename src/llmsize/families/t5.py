"""T5 (and T5 v1.1 / Flan-T5 configs), counted as T5ForConditionalGeneration: the class with a
training loss (seq2seq cross-entropy on labels, decoder input = labels shifted right).

An encoder stack of num_layers blocks (RMSNorm without bias, pre-norm, self-attention q/k/v/o with no
bias and no 1/sqrt(d_kv) scaling, d_kv x num_heads wide, then the feed-forward: wi -> act -> wo, or
gated wi_0/wi_1 -> wo for "gated-gelu"/"gated-silu") and a decoder stack of num_decoder_layers blocks
with a cross-attention block (q/k/v/o and its norm) between self-attention and feed-forward. The first
block of each stack holds the relative-position bias (relative_attention_num_buckets x num_heads, an
nn.Embedding added to every layer's attention scores); no absolute positions. One shared embedding
(V x d) feeds both stacks; in transformers 5.23 the lm_head is always tied to it (the config's
tie_word_embeddings false only turns off the d^-0.5 scaling of the decoder output, T5 v1.1). Each stack
ends in a final RMSNorm.

The memory replay (llmsize.memory.t5, .seq2seq) runs the whole model: the encoder over the s input
tokens, the decoder over s tokens (train: labels shifted right; forward: decoder_input_ids = input_ids),
or, to generate, the decoder from one start token for new_tokens steps on an EncoderDecoderCache.
Dropout (dropout_rate) follows the embeddings, every sub-layer's output, the feed-forward activation,
the attention probabilities (SDPA's math path in training) and the final norm.

Source: hf-t5
"""
from __future__ import annotations

from dataclasses import replace

from llmsize.errors import LlmsizeError
from llmsize.families._config import Config, common, get, integer, rate
from llmsize.spec import MLP, Attention, ModelSpec, Norms, Traits

_LEAVES = (("attn_q", "q"), ("attn_k", "k"), ("attn_v", "v"), ("attn_output", "o"), ("ffn_up", "wi"),
           ("ffn_down", "wo"))
_GATED = (("attn_q", "q"), ("attn_k", "k"), ("attn_v", "v"), ("attn_output", "o"), ("ffn_gate", "wi_0"),
          ("ffn_up", "wi_1"), ("ffn_down", "wo"))
_T5 = Traits(family="t5", source="hf-t5", gguf_arch="t5", leaves=_LEAVES, encoder_decoder=True)
_T5_GATED = Traits(family="t5", source="hf-t5", gguf_arch="t5", leaves=_GATED, encoder_decoder=True)


def read(cfg: Config, name: str) -> ModelSpec:
    d = integer(cfg, "d_model", "hidden_size", default=512)
    n = integer(cfg, "num_layers", "num_hidden_layers", default=6)
    cfg = {**cfg, "hidden_size": d, "num_hidden_layers": n, "vocab_size": integer(cfg, "vocab_size", default=32128),
           "max_position_embeddings": integer(cfg, "n_positions", default=512)}
    c = common(cfg, name, tie_default=True)
    # T5Config: scale_decoder_outputs = tie_word_embeddings is not False (T5 v1.0 scales, v1.1 / Flan-T5 do not)
    scale = cfg.get("tie_word_embeddings") is not False
    c["tie_word_embeddings"] = True  # transformers 5.23 ties lm_head to the shared embedding for every T5 config
    nh = integer(cfg, "num_heads", "num_attention_heads", default=8)
    dkv = integer(cfg, "d_kv", default=64)
    proj = str(get(cfg, "feed_forward_proj", default="relu"))
    parts = proj.split("-")
    if len(parts) > 2 or (len(parts) == 2 and parts[0] != "gated"):
        raise LlmsizeError(f"config.json: feed_forward_proj must be ACT or gated-ACT (relu, gated-gelu), got {proj!r}")
    gated = parts[0] == "gated"
    act = "gelu_new" if proj == "gated-gelu" else parts[-1]
    dec = integer(cfg, "num_decoder_layers", default=None)
    return ModelSpec(**c, attention=Attention(num_heads=nh, num_kv_heads=nh, head_dim=dkv),
                     mlp=MLP(kind="gated" if gated else "plain", intermediate_size=integer(cfg, "d_ff", default=2048),
                             activation=act),
                     norms=Norms(kind="rmsnorm", per_layer=2), position="relative",
                     decoder_layers=n if dec is None else dec,
                     relative_buckets=integer(cfg, "relative_attention_num_buckets", default=32),
                     hidden_dropout=rate(cfg, "dropout_rate", default=0.1),
                     attention_dropout=rate(cfg, "dropout_rate", default=0.1),
                     embed_dropout=rate(cfg, "dropout_rate", default=0.1),
                     traits=replace(_T5_GATED if gated else _T5, scale_decoder_output=scale))


READERS = {"t5": read}
TRAITS = {"t5": _T5}
