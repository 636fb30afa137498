"""`llmsize trace`: PyTorch's own peak on fake tensors. Runs wherever torch and transformers are
installed (the dev extra has both, so CI runs it); the package and CLI never import them otherwise."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from llmsize.adapters.hf_config import spec_from_config
from llmsize.memory import Workload, estimate

pytest.importorskip("transformers", reason="the trace extra (torch + transformers) is not installed")
from llmsize.trace import trace  # noqa: E402

TINY_LLAMA = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
              "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 512, "max_position_embeddings": 256,
              "tie_word_embeddings": False}
# a type llmsize does not know (ALiBi, an embedding LayerNorm, its own attention code)
TINY_CODEGEN = {"model_type": "codegen", "n_embd": 64, "n_layer": 2, "n_head": 4, "rotary_dim": 8, "n_positions": 128,
                "vocab_size": 512, "bos_token_id": 0, "eos_token_id": 0, "pad_token_id": 0}


def run(args, stdin=None):
    return subprocess.run([sys.executable, "-c", "from llmsize.cli import main; main()", *args],
                          capture_output=True, text=True, input=stdin, timeout=300)


@pytest.mark.parametrize("wl", [Workload(mode="train", batch=2, seq_len=32),
                                Workload(mode="forward", batch=2, seq_len=32),
                                Workload(mode="generate", batch=2, seq_len=16, new_tokens=4)],
                         ids=["train", "forward", "generate"])
def test_trace_equals_the_replay_on_a_family_it_knows(wl):
    """Two independent routes to one number: PyTorch's tracker and llmsize's analytical replay (exact on
    this shape for forward and generate; 248 B of 1.58 MB apart in training)."""
    r = trace(TINY_LLAMA, wl)
    assert r.peak_bytes == pytest.approx(estimate(spec_from_config(TINY_LLAMA), wl).peak_bytes,
                                         rel=0 if wl.mode != "train" else 2e-4)
    assert r.params == 2 * 512 * 64 + 2 * (2 * 64 + 64 * 64 * 2 + 2 * 64 * 32 + 3 * 64 * 128) + 64
    assert sum(r.breakdown.values()) == r.peak_bytes


def test_trace_cli_on_a_type_llmsize_does_not_know():
    r = run(["params", "-"], json.dumps(TINY_CODEGEN))
    assert r.returncode == 2 and "not one llmsize knows" in r.stderr
    r = run(["trace", "-", "--mode", "train", "--batch", "2", "--seq-len", "32"], json.dumps(TINY_CODEGEN))
    assert r.returncode == 2 and "try --attn eager" in r.stderr  # codegen has no SDPA path in transformers
    r = run(["trace", "-", "--mode", "train", "--batch", "2", "--seq-len", "32", "--attn", "eager", "--json"],
            json.dumps(TINY_CODEGEN))
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert obj["model_type"] == "codegen" and obj["transformers"] and obj["torch"]
    assert obj["peak_bytes"] == sum(obj["breakdown"].values()) > obj["params"] * 2 * 4  # W, G, Adam m and v
    assert obj["breakdown"]["optimizer"] > 0


@pytest.mark.parametrize("args, needle", [
    (["trace", "-", "--mode", "forward", "--grad-checkpointing"], "apply to --mode train"),
    (["trace", "-", "--new-tokens", "3"], "applies to --mode generate"),
])
def test_trace_bad_input_is_one_line(args, needle):
    r = run(args, json.dumps(TINY_LLAMA))
    assert r.returncode == 2 and needle in r.stderr and "Traceback" not in r.stderr


def test_unknown_to_transformers_is_one_line():
    r = run(["trace", "-", "--mode", "forward"], json.dumps({**TINY_LLAMA, "model_type": "no_such_arch"}))
    assert r.returncode == 2 and "cannot build model_type 'no_such_arch'" in r.stderr


def test_without_the_extra_the_message_says_what_to_install():
    code = ("import sys; sys.modules['transformers'] = None\n"
            "from llmsize.cli import main; main(['trace', 'gpt2', '--mode', 'forward'])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "pip install 'llmsize[trace]'" in r.stderr


def test_the_package_does_not_import_torch_for_trace():
    code = "import sys, llmsize.trace, llmsize.cli.trace; print('torch' in sys.modules, 'transformers' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.split() == ["False", "False"]


_REMOTE_CONFIG = '''
import os
from transformers import PretrainedConfig

open(os.path.join(os.path.dirname(os.path.realpath(__file__)), "RAN"), "a").close()  # proof the code ran
ROOT = os.environ.get("LLMSIZE_TEST_REMOTE_DIR")
if ROOT:
    open(os.path.join(ROOT, "RAN"), "a").close()


class TinyRemoteConfig(PretrainedConfig):
    model_type = "tiny_remote"

    def __init__(self, hidden_size=32, vocab_size=64, **kw):
        self.hidden_size, self.vocab_size = hidden_size, vocab_size
        super().__init__(**kw)
'''
_REMOTE_MODEL = '''
import torch
from transformers import GenerationMixin, PreTrainedModel
from transformers.modeling_outputs import CausalLMOutput

from .configuration_tiny import TinyRemoteConfig


class TinyRemoteForCausalLM(PreTrainedModel, GenerationMixin):
    config_class = TinyRemoteConfig

    def __init__(self, config):
        super().__init__(config)
        self.embed = torch.nn.Embedding(config.vocab_size, config.hidden_size)
        self.mix = torch.nn.Linear(config.hidden_size, config.hidden_size)
        self.lm_head = torch.nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def forward(self, input_ids=None, labels=None, **kwargs):
        logits = self.lm_head(torch.relu(self.mix(self.embed(input_ids))))
        loss = None
        if labels is not None:
            loss = torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), labels.flatten())
        return CausalLMOutput(loss=loss, logits=logits)
'''


def test_trust_remote_code_runs_the_folder_code_only_when_allowed(tmp_path):
    """A model folder with its own code (config.json with auto_map, local .py files; no network): refused
    in one line without --trust-remote-code (its code never runs), traced with it."""
    import os

    folder = tmp_path / "tiny-remote"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({
        "model_type": "tiny_remote", "hidden_size": 32, "vocab_size": 64, "architectures": ["TinyRemoteForCausalLM"],
        "auto_map": {"AutoConfig": "configuration_tiny.TinyRemoteConfig",
                     "AutoModelForCausalLM": "modeling_tiny.TinyRemoteForCausalLM"}}))
    (folder / "configuration_tiny.py").write_text(_REMOTE_CONFIG)
    (folder / "modeling_tiny.py").write_text(_REMOTE_MODEL)
    marker = tmp_path / "RAN"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_MODULES_CACHE": str(tmp_path / "modules"),
           "LLMSIZE_TEST_REMOTE_DIR": str(tmp_path)}

    def cli(*extra):
        return subprocess.run([sys.executable, "-c", "from llmsize.cli import main; main()", "trace", str(folder),
                               "--mode", "train", "--batch", "2", "--seq-len", "8", "--attn", "eager", "--json", *extra],
                              capture_output=True, text=True, timeout=300, env=env)

    r = cli()
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "--trust-remote-code" in r.stderr
    assert not marker.exists()
    r = cli("--trust-remote-code")
    assert r.returncode == 0, r.stderr
    assert marker.exists()
    obj = json.loads(r.stdout)
    params = 64 * 32 + 32 * 32 + 32 + 32 * 64
    assert obj["model_type"] == "tiny_remote" and obj["params"] == params
    # weights (bf16), their gradients and AdamW's two states at the optimizer step, at the least
    assert obj["peak_bytes"] == sum(obj["breakdown"].values()) >= params * 2 * 4
