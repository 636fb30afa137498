"""Preset models: verbatim config.json copies with their source, fed through the config adapter."""
from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from llmsize.errors import LlmsizeError, did_you_mean

_DIR = Path(__file__).parent / "models"  # package data, installed beside this module


@dataclass(frozen=True, slots=True, kw_only=True)
class Preset:
    name: str
    file: str
    repo: str
    source: str
    retrieved: str
    verbatim: bool
    family: str = ""
    aliases: tuple[str, ...] = ()
    note: str = ""

    def __post_init__(self) -> None:
        if not (self.name and self.file and self.source and self.retrieved):
            raise LlmsizeError(f"preset {self.name!r}: name, file, source and retrieved are required")


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9.]", "", name.lower())


@cache
def presets() -> tuple[Preset, ...]:
    """Every preset, in the order of index.toml."""
    text = (_DIR / "index.toml").read_text(encoding="utf-8")
    out = []
    for m in tomllib.loads(text).get("model", []):
        out.append(Preset(name=m["name"], file=m["file"], repo=m.get("repo", ""), source=m["source"],
                          retrieved=str(m["retrieved"]), verbatim=bool(m.get("verbatim", True)),
                          family=m.get("family", ""), aliases=tuple(m.get("aliases", ())), note=m.get("note", "")))
    return tuple(out)


@cache
def search_presets(search: str | None = None) -> list[Preset]:
    """Presets whose name or repo contains `search` (case-insensitive); all without one."""
    return [p for p in presets() if not search or search.lower() in (p.name + " " + p.repo).lower()]


def models_report(search: str | None = None) -> dict[str, Any]:
    """`llmsize models [SEARCH] --json`."""
    return {"models": [{"name": p.name, "repo": p.repo, "family": p.family, "source": p.source,
                        "retrieved": p.retrieved, "verbatim": p.verbatim} for p in search_presets(search)]}


def _index() -> dict[str, Preset]:
    idx: dict[str, Preset] = {}
    for p in presets():
        for n in (p.name, p.repo, *p.aliases):
            if n:
                idx.setdefault(n.lower(), p)
                idx.setdefault(_key(n), p)
    return idx


def find_preset(name: str) -> Preset | None:
    """The preset called `name` (case-insensitive; name, Hugging Face repo id or alias), or None."""
    idx = _index()
    return idx.get(name.lower()) or idx.get(_key(name))


def get_preset(name: str) -> Preset:
    p = find_preset(name)
    if p is None:
        raise did_you_mean(name, [q.name for q in presets()], what="model")
    return p


def preset_config(p: Preset) -> dict[str, Any]:
    """The stored config.json of a preset, parsed."""
    text = (_DIR / p.file).read_text(encoding="utf-8")
    return json.loads(text)
