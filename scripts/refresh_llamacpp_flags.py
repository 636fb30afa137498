"""Check llmsize's recorded llama.cpp flag table (llmsize.export.flags.LLAMACPP_FLAGS) against a
llama.cpp checkout's common/arg.cpp: every flag and alias llmsize emits must be declared there, and
every recorded choice list must match the value hint ({a,b,c} or [a|b]). Prints what differs; exit 1
if anything does, so the table can be refreshed by hand with the printed lines.

    python scripts/refresh_llamacpp_flags.py /tmp/llama_cpp_python-0.3.36/vendor/llama.cpp/common/arg.cpp
"""
from __future__ import annotations

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

from llmsize.export.flags import LLAMACPP_FLAGS  # noqa: E402

# common_arg({"-x", "--xx"}, {"-no-x", "--no-xx"}?, "HINT"?, "help" ...
ARG = re.compile(r'common_arg\(\s*\{([^}]*)\}\s*,\s*(?:\{([^}]*)\}\s*,\s*)?(?:"([^"]*)"\s*,)?', re.S)


def declared(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in ARG.finditer(text):
        names = re.findall(r'"([^"]+)"', m.group(1)) + re.findall(r'"([^"]+)"', m.group(2) or "")
        for n in names:
            out[n] = m.group(3) or ""
    return out


def main() -> int:
    text = open(sys.argv[1], encoding="utf-8").read()
    decl = declared(text)
    bad = 0
    for flag, (aliases, kind, choices) in LLAMACPP_FLAGS.items():
        for name in (flag, *aliases):
            if name not in decl:
                print(f"MISSING {name} (recorded for {flag})")
                bad += 1
        hint = decl.get(flag, "")
        m = re.search(r"[{\[]([^}\]]+)[}\]]", hint)
        if choices and m:
            got = tuple(re.split(r"[,|]", m.group(1)))
            if set(got) != set(choices):
                print(f"CHOICES {flag}: recorded {choices}, arg.cpp says {got}")
                bad += 1
    print(f"{len(LLAMACPP_FLAGS)} recorded flags checked against {len(decl)} declared names: "
          f"{'OK' if not bad else f'{bad} differences'}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
