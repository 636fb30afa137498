"""Read exported command lines back with parsers built from the engines' recorded flag lists
(`llmsize.export.flags`): an unknown flag, a bad value or a bad choice is an error, as in the engine."""
from __future__ import annotations

import argparse
import shlex

from llmsize.errors import LlmsizeError
from llmsize.export.flags import LLAMACPP_FLAGS, VLLM_FLAGS, VLLM_VALUES


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise LlmsizeError(f"{self.prog}: {message}")


def _ngl(v: str) -> int | str:
    """llama.cpp -ngl: a layer count, 'auto' or 'all' (common/arg.cpp)."""
    if v in ("auto", "all"):
        return v
    return int(v)


def _parser(prog: str, flags: dict[str, tuple[tuple[str, ...], str, tuple[str, ...] | None]]) -> _Parser:
    p = _Parser(prog=prog, add_help=False, allow_abbrev=False)
    types = {"int": int, "float": float, "str": str, "json": str, "ngl": _ngl}
    for flag, (aliases, kind, choices) in flags.items():
        dest = flag.lstrip("-").replace("-", "_")
        if kind == "flag":
            p.add_argument(flag, *aliases, dest=dest, action="store_true")
        elif kind in ("list", "optional"):  # vLLM: nargs="+" collections; `bool | str` options (bare = True)
            p.add_argument(flag, *aliases, dest=dest, nargs="+" if kind == "list" else "?", const=None if
                           kind == "list" else True)
        else:
            p.add_argument(flag, *aliases, dest=dest, type=types[kind], choices=list(choices) if choices else None)
    return p


def parse_vllm(cmd: str) -> dict:
    """`vllm serve MODEL --flags` -> {flag: value}, as vLLM's EngineArgs parser would accept it."""
    argv = shlex.split(cmd.replace("\\\n", " "))  # a wrapped line (export.shell_text) reads as one
    if argv[:2] != ["vllm", "serve"] or len(argv) < 3:
        raise LlmsizeError("not a `vllm serve MODEL ...` command line")
    p = _parser("vllm serve", VLLM_FLAGS)
    ns = p.parse_args(argv[3:])
    for flag, known in VLLM_VALUES.items():  # `Literal | str` hints: vLLM's config validation checks these
        got = getattr(ns, flag.lstrip("-").replace("-", "_"))
        if got is not None and got not in known:
            raise LlmsizeError(f"vllm serve: {flag} {got!r} is not among the values vLLM lists: {', '.join(known)}")
    out = {k: v for k, v in vars(ns).items() if v not in (None, False)}
    out["model"] = argv[2]
    return out


def parse_llamacpp(cmd: str) -> dict:
    """`llama-server -m FILE ...` -> {flag: value}, against llama.cpp's common/arg.cpp flag table."""
    argv = shlex.split(cmd.replace("\\\n", " "))
    if not argv or argv[0] not in ("llama-server", "llama-cli"):
        raise LlmsizeError("not a llama-server / llama-cli command line")
    ns = _parser(argv[0], LLAMACPP_FLAGS).parse_args(argv[1:])
    return {k: v for k, v in vars(ns).items() if v not in (None, False)}
