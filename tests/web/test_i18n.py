"""The page in English and Spanish: every string the page or its scripts show has a Spanish entry
(with the same placeholders), no entry is stale, and the server renders the page in the reader's
language (`?lang=es`, else Accept-Language)."""
from __future__ import annotations

import json
import re
from pathlib import Path

from llmsize.web import page

STATIC = Path(page.__file__).parent / "static"
CALL = re.compile(r'\bt\(\s*"((?:[^"\\]|\\.)*)"')
HOLES = re.compile(r"\{\w+\}")


def page_strings() -> set[str]:
    keys = {json.loads(f'"{m.group(1)}"') for f in STATIC.glob("*.js") for m in CALL.finditer(f.read_text())}
    return keys | page.strings((STATIC / "index.html").read_text())


def page_catalog() -> dict[str, str]:
    """es.json's page strings; its "@report" entry is the catalog for report strings (test_i18n_reports.py)."""
    es = json.loads((STATIC / "es.json").read_text(encoding="utf-8"))
    return {k: v for k, v in es.items() if not k.startswith("@")}


def test_every_string_has_a_spanish_translation_with_the_same_placeholders():
    es = page_catalog()
    keys = page_strings()
    assert len(keys) > 300, len(keys)
    missing = sorted(keys - es.keys())
    assert not missing, f"strings without a Spanish translation: {missing}"
    stale = sorted(es.keys() - keys)
    assert not stale, f"translations of strings the page no longer has: {stale}"
    holes = [k for k in es if sorted(HOLES.findall(k)) != sorted(HOLES.findall(es[k]))]
    assert not holes, holes
    untranslated = [k for k in es if es[k] == k and len(k) > 12 and not k.startswith(("{", "$"))]
    assert not untranslated, untranslated


def test_a_string_added_without_translation_is_caught(tmp_path):
    """The check above sees a new t("...") call: the extraction reads the scripts themselves."""
    src = (STATIC / "app.js").read_text() + '\nt("A brand new label");\n'
    found = {json.loads(f'"{m.group(1)}"') for m in CALL.finditer(src)}
    es = page_catalog()
    assert "A brand new label" in found and "A brand new label" not in es


def test_the_server_renders_the_page_in_spanish(client):
    es = client.get("/?lang=es")
    assert es.status_code == 200 and es.headers["content-language"] == "es"
    text = es.text
    assert '<html lang="es">' in text and "Copiar enlace" in text and "Carga de trabajo" in text
    assert ">Copy link<" not in text and ">Workload<" not in text
    assert 'hreflang="en"' in text and ">English<" in text
    assert 'title="Copiar un enlace a este cálculo"' in text and 'aria-label="Cambiar al tema oscuro"' in text


def test_browser_language_is_the_default_and_lang_overrides_it(client):
    assert '<html lang="es">' in client.get("/", headers={"accept-language": "es-ES,es;q=0.9,en;q=0.8"}).text
    assert '<html lang="en">' in client.get("/", headers={"accept-language": "de-DE,de;q=0.9,en;q=0.5"}).text
    assert '<html lang="en">' in client.get("/?lang=en", headers={"accept-language": "es"}).text
    assert '<html lang="en">' in client.get("/?lang=xx").text  # unknown: English, and the page says it ignored it
    english = client.get("/").text
    assert ">Copy link<" in english and ">Español<" in english


def test_choose():
    assert page.choose("es", None) == "es"
    assert page.choose(None, "fr, es;q=0.8") == "es"
    assert page.choose("zz", "en-GB") == "en"
    assert page.choose(None, None) == "en"
