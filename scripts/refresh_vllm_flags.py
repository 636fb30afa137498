"""Record `vllm serve`'s options from vLLM's own source, by static analysis (ast; vLLM is not installed or
imported), and write src/llmsize/export/vllm_flags.py with the version they were read from.

    python scripts/refresh_vllm_flags.py --download 0.34.0     # pip download vllm==0.34.0 --no-deps (wheel)
    python scripts/refresh_vllm_flags.py VLLM_SOURCE_ROOT       # a checkout or unpacked wheel holding vllm/

What it reads, as vLLM builds the parser (vllm/entrypoints/common/cli_args.py make_arg_parser):
- every `add_argument(...)` call in make_arg_parser and in the `add_cli_args` methods of
  vllm/engine/arg_utils.py (EngineArgs, AsyncEngineArgs): option strings, explicit action/type/choices;
- `**x_kwargs["field"]` where `x_kwargs = get_kwargs(SomeConfig)`: the dataclass field's annotation in
  vllm/config/*.py, typed as arg_utils._compute_kwargs types it (bool -> --x/--no-x, Literal -> choices,
  or only a metavar when the hint also allows str, int/float, list/tuple/set -> nargs, dict -> JSON);
- FrontendArgs (and its bases) fields in cli_args.py: one `--field-name` each (BaseFrontendArgs.add_cli_args).
Literal aliases (`CacheDType = Literal[...]`) are resolved across the files read, including
vllm/model_executor/layers/quantization/__init__.py (QuantizationMethods)."""
from __future__ import annotations

import ast
import os
import pprint
import subprocess
import sys
import tempfile
import zipfile

ENGINE = "vllm/engine/arg_utils.py"
FRONTEND = "vllm/entrypoints/common/cli_args.py"
QUANT = "vllm/model_executor/layers/quantization/__init__.py"
CONFIG_DIR = "vllm/config"
OUT = os.path.join(os.path.dirname(__file__), "..", "src", "llmsize", "export", "vllm_flags.py")


def _literal_values(node: ast.AST, aliases: dict[str, list]) -> list | None:
    """`Literal["a", "b", Alias]` -> ["a", "b", *Alias]; None when node is not a Literal."""
    if isinstance(node, ast.Name) and node.id in aliases:
        return aliases[node.id]
    if isinstance(node, ast.Subscript) and _name(node.value) == "Literal":
        elts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        out: list = []
        for e in elts:
            if isinstance(e, ast.Constant):
                out.append(e.value)
            else:
                out.extend(_literal_values(e, aliases) or [])
        return out
    return None


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def literal_aliases(trees: list[ast.Module]) -> dict[str, list]:
    """Module-level `Name = Literal[...]` (or `Name: TypeAlias = Literal[...]`), resolved in file order."""
    aliases: dict[str, list] = {}
    for _ in range(2):  # twice: an alias may name one defined in a later file
        for tree in trees:
            for st in tree.body:
                target, value = None, None
                if isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name):
                    target, value = st.targets[0].id, st.value
                elif isinstance(st, ast.AnnAssign) and isinstance(st.target, ast.Name) and st.value is not None:
                    target, value = st.target.id, st.value
                vals = _literal_values(value, aliases) if value is not None else None
                if target and vals:
                    aliases[target] = vals
    return aliases


def class_fields(trees: list[ast.Module]) -> dict[str, dict[str, ast.AST]]:
    """Class name -> {field: annotation}, bases' fields first (dataclass order)."""
    raw: dict[str, tuple[list[str], dict[str, ast.AST]]] = {}
    for tree in trees:
        for st in ast.walk(tree):
            if isinstance(st, ast.ClassDef):
                own = {b.target.id: b.annotation for b in st.body
                       if isinstance(b, ast.AnnAssign) and isinstance(b.target, ast.Name)
                       and not _name(b.annotation) == "ClassVar"
                       and not (isinstance(b.annotation, ast.Subscript) and _name(b.annotation.value) == "ClassVar")}
                raw[st.name] = ([_name(b) for b in st.bases], own)

    def resolve(name: str, seen: tuple = ()) -> dict[str, ast.AST]:
        if name not in raw or name in seen:
            return {}
        bases, own = raw[name]
        out: dict[str, ast.AST] = {}
        for b in bases:
            out.update(resolve(b, seen + (name,)))
        out.update(own)
        return out
    return {n: resolve(n) for n in raw}


def _hints(node: ast.AST) -> list[ast.AST]:
    """Flatten `A | B`, Optional[A], Union[A, B], Annotated[A, ...] into their members."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _hints(node.left) + _hints(node.right)
    if isinstance(node, ast.Subscript) and _name(node.value) in ("Optional", "Union", "Annotated"):
        elts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if _name(node.value) == "Annotated":
            elts = elts[:1]
        return [h for e in elts for h in _hints(e)] + ([ast.Constant(None)] if _name(node.value) == "Optional" else [])
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # a string annotation
        try:
            return _hints(ast.parse(node.value, mode="eval").body)
        except SyntaxError:
            return [node]
    return [node]


def kind_of(annotation: ast.AST, aliases: dict[str, list]) -> tuple[str, tuple | None, tuple | None]:
    """(kind, choices argparse enforces, values shown only as metavar), as arg_utils._compute_kwargs decides."""
    hs = _hints(annotation)
    names = {_name(h.value) if isinstance(h, ast.Subscript) else _name(h) for h in hs}
    names |= {"None" for h in hs if isinstance(h, ast.Constant) and h.value is None}
    lits = [v for h in hs for v in (_literal_values(h, aliases) or [])]
    if names == {"bool", "str", "None"}:
        return "optional", None, None
    if "bool" in names:
        return "flag", None, None
    if lits:
        vals = tuple(str(v) for v in sorted(lits, key=str))
        kind = "int" if all(isinstance(v, int) for v in lits) else "str"
        return (kind, None, vals) if "str" in names else (kind, vals, None)
    if names & {"tuple", "list", "set"}:
        return "list", None, None
    if "int" in names:
        return "int", None, None
    if "float" in names:
        return "float", None, None
    if "dict" in names:
        return "json", None, None
    return "str", None, None


def _add_argument_calls(func: ast.AST):
    for node in ast.walk(func):
        if isinstance(node, ast.Call) and _name(node.func) == "add_argument":
            yield node


def _keywords(call: ast.Call) -> list[ast.keyword]:
    """The call's keywords with `**{**x["f"], "default": None}` unpacked into `**x["f"]`, default=None."""
    out: list[ast.keyword] = []
    for k in call.keywords:
        if k.arg is None and isinstance(k.value, ast.Dict):
            for key, val in zip(k.value.keys, k.value.values):
                if key is None:
                    out.append(ast.keyword(arg=None, value=val))
                elif isinstance(key, ast.Constant) and isinstance(key.value, str):
                    out.append(ast.keyword(arg=key.value, value=val))
        else:
            out.append(k)
    return out


def flags_from(engine_src: str, frontend_src: str, other_srcs: list[str]) -> dict:
    """{option: (aliases, kind, choices, metavar values)} for `vllm serve`, from the sources' text."""
    engine, frontend = ast.parse(engine_src), ast.parse(frontend_src)
    others = [ast.parse(s) for s in other_srcs]
    trees = others + [engine, frontend]
    aliases, fields = literal_aliases(trees), class_fields(trees)
    table: dict[str, tuple] = {}

    def record(names: list[str], kind: str, choices, metavar, negatable: bool) -> None:
        longs = [n for n in names if n.startswith("--")] or names
        table[longs[0]] = (tuple(n for n in names if n != longs[0]), kind, choices, metavar)
        if negatable:
            table["--no-" + longs[0][2:]] = ((), "flag", None, None)

    funcs = [f for f in ast.walk(engine) if isinstance(f, ast.FunctionDef) and f.name == "add_cli_args"]
    funcs += [f for f in ast.walk(frontend) if isinstance(f, ast.FunctionDef) and f.name == "make_arg_parser"]
    for func in funcs:
        kw_of: dict[str, str] = {}  # variable -> config class, from `x = get_kwargs(Cls)`
        for node in ast.walk(func):
            if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
                    and _name(node.value.func) == "get_kwargs" and node.value.args
                    and isinstance(node.targets[0], ast.Name)):
                kw_of[node.targets[0].id] = _name(node.value.args[0])
        for call in _add_argument_calls(func):
            names = [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            if not names or not all(n.startswith("-") for n in names):
                continue  # positional (model_tag) or built from a loop
            kind, choices, metavar, negatable = "str", None, None, False
            keywords = _keywords(call)
            for k in keywords:
                if k.arg is None and isinstance(k.value, ast.Subscript) and isinstance(k.value.slice, ast.Constant):
                    cls = kw_of.get(_name(k.value.value))
                    ann = fields.get(cls or "", {}).get(k.value.slice.value)
                    if ann is not None:
                        kind, choices, metavar = kind_of(ann, aliases)
                        negatable = kind == "flag"
            for k in keywords:
                if k.arg == "action":
                    act = k.value.value if isinstance(k.value, ast.Constant) else _name(k.value)
                    if act in ("store_true", "store_false", "BooleanOptionalAction"):
                        kind, negatable = "flag", act == "BooleanOptionalAction"
                elif k.arg == "type" and _name(k.value) in ("int", "float"):
                    kind = _name(k.value)
                elif k.arg == "choices" and isinstance(k.value, (ast.List, ast.Tuple)):
                    choices = tuple(str(e.value) for e in k.value.elts if isinstance(e, ast.Constant))
                elif k.arg == "nargs" and isinstance(k.value, ast.Constant) and k.value.value in ("+", "*"):
                    kind = "list"
            record(names, kind, choices, metavar, negatable)
    # BaseFrontendArgs.add_cli_args: `--{field}` for every field of the frontend dataclasses
    for cls in ("FrontendArgs",):
        for field, ann in fields.get(cls, {}).items():
            kind, choices, metavar = kind_of(ann, aliases)
            name = "--" + field.replace("_", "-")
            if name not in table:
                record([name], kind, choices, metavar, kind == "flag")
    return dict(sorted(table.items()))


def _download(version: str, into: str) -> str:
    """`pip download vllm==VERSION --no-deps` (the wheel) and unpack the files read here."""
    subprocess.run([sys.executable, "-m", "pip", "download", f"vllm=={version}", "--no-deps", "--only-binary",
                    ":all:", "-d", into], check=True)
    wheel = next(os.path.join(into, f) for f in os.listdir(into) if f.endswith(".whl"))
    with zipfile.ZipFile(wheel) as z:
        for n in z.namelist():
            if n in (ENGINE, FRONTEND, QUANT, "vllm/_version.py") or (n.startswith(CONFIG_DIR + "/")
                                                                       and n.endswith(".py")):
                z.extract(n, into)
    return into


def _version(root: str) -> str:
    ns: dict = {}
    path = os.path.join(root, "vllm", "_version.py")
    if os.path.exists(path):
        exec(compile(open(path).read(), path, "exec"), ns)  # noqa: S102 (a generated two-constant file)
        return f"{ns.get('__version__')} (commit {ns.get('__commit_id__')})"
    return "unknown"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        if sys.argv[1] == "--download":
            root, how = _download(sys.argv[2], tmp), f"pip download vllm=={sys.argv[2]} --no-deps"
        else:
            root, how = sys.argv[1], f"source tree {sys.argv[1]}"
        read = lambda rel: open(os.path.join(root, rel), encoding="utf-8").read()  # noqa: E731
        cfg = sorted(f for f in os.listdir(os.path.join(root, CONFIG_DIR)) if f.endswith(".py"))
        others = [read(QUANT)] + [read(os.path.join(CONFIG_DIR, f)) for f in cfg]
        table = flags_from(read(ENGINE), read(FRONTEND), others)
        version = _version(root)
    with open(OUT, "w") as f:
        f.write('"""`vllm serve` options recorded from vLLM\'s own source by scripts/refresh_vllm_flags.py (static\n'
                'analysis of its argument definitions): option -> (aliases, kind, choices argparse enforces,\n'
                'values vLLM lists only as a metavar). Generated: do not edit by hand."""\n'
                "from __future__ import annotations\n\n"
                f'VLLM_VERSION = "{version}"\n'
                f'VLLM_SOURCE = ("vllm {version}: {ENGINE} (EngineArgs/AsyncEngineArgs.add_cli_args), "\n'
                f'               "{FRONTEND} (make_arg_parser, FrontendArgs), {CONFIG_DIR}/*.py; read from {how}")\n'
                "VLLM_ALL_FLAGS: dict[str, tuple[tuple[str, ...], str, tuple[str, ...] | None, "
                "tuple[str, ...] | None]] = ")
        f.write(pprint.pformat(table, width=116, sort_dicts=True) + "\n")
    print(f"vLLM {version}: {len(table)} options recorded in {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
