"""The calculator's page in the reader's language: `?lang=es`, else the browser's Accept-Language.

index.html is written in English; each element marked `data-t` (plain text) and each aria-label,
placeholder or title is looked up in static/<lang>.json, the same catalog the scripts use (English
strings are the keys). A string missing from the catalog stays English, and a test fails on it.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources

LANGS = ("en", "es")
_TEXT = re.compile(r"(<(\w+)\b[^>]*\bdata-t\b[^>]*>)([^<]+)(</\2>)")
_TITLE = re.compile(r"(<title>)([^<]+)(</title>)")
_ATTR = re.compile(r'\b(aria-label|placeholder|title)="([^"]+)"')
_SWITCH = {"en": ('href="?lang=es" hreflang="es" lang="es">Español<'),
           "es": ('href="?lang=en" hreflang="en" lang="en">English<')}


def _static() -> resources.abc.Traversable:
    return resources.files("llmsize.web").joinpath("static")


@lru_cache(maxsize=None)
def catalog(lang: str) -> dict[str, str]:
    """English -> `lang` for every string of the page (empty for English)."""
    if lang == "en":
        return {}
    return json.loads(_static().joinpath(f"{lang}.json").read_text(encoding="utf-8"))


def choose(query_lang: str | None, accept_language: str | None) -> str:
    """The page's language: a known ?lang= wins, then the first known language the browser accepts."""
    if query_lang in LANGS:
        return query_lang  # type: ignore[return-value]
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LANGS:
            return tag
    return "en"


def strings(html: str) -> set[str]:
    """Every translatable string of a page: data-t texts and label-like attributes."""
    out = {m.group(3).strip() for m in _TEXT.finditer(html)} | {m.group(2) for m in _TITLE.finditer(html)}
    out |= {m.group(2) for m in _ATTR.finditer(html) if not m.group(2).startswith(("—", "Llama"))}
    return {" ".join(s.split()) for s in out}


@lru_cache(maxsize=None)
def render(lang: str) -> bytes:
    """index.html in `lang`."""
    html = _static().joinpath("index.html").read_text(encoding="utf-8")
    if lang == "en":
        return html.encode()
    cat = catalog(lang)

    def text(m: re.Match[str]) -> str:
        key = " ".join(m.group(3).split())
        return m.group(1) + cat.get(key, m.group(3)) + m.group(4)

    def attr(m: re.Match[str]) -> str:
        return f'{m.group(1)}="{cat.get(m.group(2), m.group(2))}"'

    html = _TEXT.sub(text, html)
    html = _TITLE.sub(lambda m: m.group(1) + cat.get(m.group(2), m.group(2)) + m.group(3), html)
    html = _ATTR.sub(attr, html)
    html = html.replace('<html lang="en">', f'<html lang="{lang}">', 1).replace(_SWITCH["en"], _SWITCH[lang], 1)
    return html.encode()
