"""The model name is always set: from `_name_or_path` where it has a last part, else where the config came from."""
from __future__ import annotations

import json

import pytest

from llmsize.load import load

CFG = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1,
       "num_attention_heads": 4, "vocab_size": 100}


@pytest.mark.parametrize("given, name", [("/", "stdin"), ("./", "stdin"), ("", "stdin"), ("  ", "stdin"),
                                         ("org/My-Model", "My-Model"), ("org/My-Model/", "My-Model"), (123, "stdin")])
def test_name_never_empty(given, name):
    assert load("-", stdin_text=json.dumps({**CFG, "_name_or_path": given})).spec.name == name


def test_file_name_is_the_fallback(tmp_path):
    p = tmp_path / "my-config.json"
    p.write_text(json.dumps({**CFG, "_name_or_path": "/"}))
    assert load(str(p)).spec.name == "my-config"
    (tmp_path / "ModelDir").mkdir()
    (tmp_path / "ModelDir" / "config.json").write_text(json.dumps(CFG))
    assert load(str(tmp_path / "ModelDir")).spec.name == "ModelDir"
