"""BERT and RoBERTa encoders, counted and replayed as their masked-LM classes (BertForMaskedLM,
RobertaForMaskedLM: the classes with a training loss; no pooler, which only BertModel and the
classification heads build).

Post-LN layers (LayerNorm(x + dropout(dense(branch)))), separate query/key/value/dense with biases,
GELU MLP (intermediate.dense, output.dense), bidirectional attention with dropout on the
probabilities (attention_probs_dropout_prob) and on both branch outputs (hidden_dropout_prob).
Embeddings: word + token type + learned absolute positions, then LayerNorm and dropout; the MLM head
is dense d -> d, activation, LayerNorm, then the vocabulary projection tied to the word embeddings
plus a bias of V; the loss is CrossEntropyLoss on the logits' dtype. RoBERTa derives positions from
the tokens (cumsum of non-pad ids, offset by pad_token_id + 1), so its table of
max_position_embeddings rows holds max_position_embeddings - pad_token_id - 1 usable positions.
Encoders do not generate.

Source: hf-bert
"""
from __future__ import annotations

from llmsize.errors import LlmsizeError
from llmsize.families._config import Config, common, heads, integer, rate
from llmsize.spec import MLP, Attention, ModelSpec, Norms, Traits

_LEAVES = (("attn_q", "query"), ("attn_k", "key"), ("attn_v", "value"), ("attn_output", "dense"),
           ("ffn_up", "dense"), ("ffn_down", "dense"), ("head_transform", "dense"))
_BERT = Traits(family="bert", source="hf-bert", gguf_arch="bert", leaves=_LEAVES, norm_placement="post_add",
               encoder=True, embed_norm=True, mlm_head=True, loss_fp32=False, index_buffers=2,
               eager_softmax_fp32=False)
_ROBERTA = Traits(family="bert", source="hf-roberta", gguf_arch="bert", leaves=_LEAVES, norm_placement="post_add",
                  encoder=True, embed_norm=True, mlm_head=True, loss_fp32=False, index_buffers=2,
                  eager_softmax_fp32=False, position_ids_from_tokens=True, position_ids_per_row=True)


def _read(cfg: Config, name: str, traits: Traits, pad_default: int) -> ModelSpec:
    if cfg.get("is_decoder") or cfg.get("add_cross_attention"):
        raise LlmsizeError(f"{name}: a {cfg.get('model_type')} config with is_decoder/add_cross_attention (a causal "
                           f"BERT decoder) is not one llmsize sizes; measure it with `llmsize trace`")
    c = common(cfg, name, tie_default=True)
    d = c["hidden_size"]
    nh, _, hd = heads({}, d, integer(cfg, "num_attention_heads"), 1)
    c["attention"] = Attention(num_heads=nh, num_kv_heads=nh, head_dim=hd, qkv_bias=True, o_bias=True)
    c["mlp"] = MLP(kind="plain", intermediate_size=integer(cfg, "intermediate_size"), bias=True,
                   activation=str(cfg.get("hidden_act") or "gelu"))
    table = integer(cfg, "max_position_embeddings", default=512)
    offset = 0
    if traits.position_ids_from_tokens:
        pad = integer(cfg, "pad_token_id", default=pad_default)
        offset = pad + 1
        if table <= offset:
            raise LlmsizeError(f"config.json: max_position_embeddings ({table}) leaves no position after the "
                               f"padding offset pad_token_id + 1 = {offset}")
    c["max_position_embeddings"] = table - offset
    return ModelSpec(**c, norms=Norms(kind="layernorm", bias=True, final=False), position="learned",
                     position_offset=offset, type_vocab_size=integer(cfg, "type_vocab_size", default=2),
                     lm_head_bias=True, hidden_dropout=rate(cfg, "hidden_dropout_prob", default=0.1),
                     attention_dropout=rate(cfg, "attention_probs_dropout_prob", default=0.1),
                     embed_dropout=rate(cfg, "hidden_dropout_prob", default=0.1), traits=traits)


def read_bert(cfg: Config, name: str) -> ModelSpec:
    return _read(cfg, name, _BERT, 0)


def read_roberta(cfg: Config, name: str) -> ModelSpec:
    return _read(cfg, name, _ROBERTA, 1)


READERS = {"bert": read_bert, "roberta": read_roberta}
TRAITS = {"bert": _BERT, "roberta": _ROBERTA}
