"""Record torchtitan's TOML job-config schema (torchtitan/config/job_config.py JobConfig at the last release
that reads TOML, v0.2.2; later torchtitan replaced TOML by a Python config registry) as section.key -> (type,
choices), so exported TOMLs are checked against torchtitan's own definitions without installing it.

    python scripts/refresh_torchtitan_fields.py TORCHTITAN_CHECKOUT_JOB_CONFIG_PY TAG COMMIT
"""
from __future__ import annotations

import dataclasses
import importlib.util
import os
import pprint
import sys
import types
import typing


def main() -> None:
    path, tag, commit = sys.argv[1:4]
    log = types.ModuleType("torchtitan.tools.logging")
    log.logger = types.SimpleNamespace(info=print, warning=print)  # type: ignore[attr-defined]
    for name in ("torchtitan", "torchtitan.tools"):
        sys.modules[name] = types.ModuleType(name)
    sys.modules["torchtitan.tools.logging"] = log
    spec = importlib.util.spec_from_file_location("tt_job_config", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["tt_job_config"] = mod
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    out: dict[str, tuple[str, tuple[str, ...] | None]] = {}

    def walk(cls: type, prefix: str) -> None:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            t = hints[f.name]
            if dataclasses.is_dataclass(t):
                walk(t, f"{prefix}{f.name}.")
                continue
            args = typing.get_args(t)
            lits = [a for a in args if typing.get_origin(a) is typing.Literal] if args else []
            if typing.get_origin(t) is typing.Literal:
                out[prefix + f.name] = ("str", tuple(map(str, args)))
            elif lits:
                out[prefix + f.name] = ("str", tuple(str(x) for a in lits for x in typing.get_args(a)))
            else:
                base = {int: "int", float: "float", bool: "bool", str: "str"}.get(t)
                if base is None:
                    base = "int|float" if set(args) >= {int, float} else next(
                        ({int: "int", float: "float", bool: "bool", str: "str"}[a] for a in args
                         if a in (int, float, bool, str)), "other")
                out[prefix + f.name] = (base, None)

    walk(mod.JobConfig, "")
    dest = os.path.join(os.path.dirname(__file__), "..", "src", "llmsize", "export", "torchtitan_fields.py")
    with open(dest, "w") as fh:
        fh.write('"""torchtitan\'s TOML job config schema, recorded from its own JobConfig dataclasses by\n'
                 'scripts/refresh_torchtitan_fields.py: "section.key" -> (type, choices)."""\n'
                 "from __future__ import annotations\n\n"
                 f'TORCHTITAN_SOURCE = "pytorch/torchtitan torchtitan/config/job_config.py @{tag} ({commit}), the last '
                 'release read from TOML"\n'
                 "TORCHTITAN_FIELDS: dict[str, tuple[str, tuple[str, ...] | None]] = ")
        fh.write(pprint.pformat(out, width=116, sort_dicts=True) + "\n")
    print(f"{len(out)} fields")


if __name__ == "__main__":
    main()
