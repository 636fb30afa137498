"""Reliability measurements for docs/reliability.md (issue 17), bounded and on loopback only.

1. Hostile CLI inputs (the issue's reproducers and more) and the crafted-file corpus (tests/data/crafted,
   `inspect` and `params` on each), each in its own process: exit status, wall time, peak RSS (wait4).
2. Hypothesis-drawn CLI runs over every command (tests/test_fuzz_cli.py's strategies), in process:
   exit statuses and the slowest run.
3. API requests drawn from every endpoint's OpenAPI schema plus junk bodies (in process): status counts.
4. Load: `llmsize serve`'s stack in a subprocess; N repeated /infer requests over C connections while a
   thread keeps sending slow, distinct /quant requests; errors, p50/p99; then stalled clients.

Run: python bench/bench_reliability.py [--cli-fuzz 150] [--api 20000] [--requests 20000] [--concurrency 64]
Exit 0 when: no exit 1, no 500, no single bad input over 200 MB or 5 s, zero load errors, p99 < 50 ms.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
CRAFTED = ROOT / "tests" / "data" / "crafted"
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
TINY = {"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
        "intermediate_size": 128, "vocab_size": 100}

HOSTILE: list[tuple[list[str], str | None]] = [
    (["params", "--hidden", "64", "--layers", "1000000000000", "--heads", "4", "--vocab", "100"], None),
    (["export", "llamacpp", "gpt2", "--pp", "2147483648"], None),
    (["export", "vllm", "gpt2", "--tp", "3082", "--pp", "2361", "--cp", "271"], None),
    (["plan", "gpt-oss-20b", "--experts", "2147483648"], None),
    (["quant", "Qwen3-235B-A22B", "--layers", "4096"], None),
    (["quant", "Qwen3-235B-A22B", "--layers", "1024"], None),
    (["params", "-"], json.dumps({**TINY, "torch_dtype": ["bf16"]})),
    (["params", "-"], json.dumps({**TINY, "model_type": ["llama"]})),
    (["params", "-"], json.dumps({k: v for k, v in TINY.items() if k != "model_type"})),
    (["params", "-"], "[" * 100_000 + "]" * 100_000),
    (["params", "-"], '{"model_type": "llama", "hidden_size": ' + "9" * 5000 + "}"),
    (["params", "a" * 256], None),
    (["params", "~nouser/x"], None),
    (["validate", os.devnull], None),
    (["validate", "-"], None),
    (["design", "--params", "7B", "--mfu", "1e-308", "--json"], None),
    (["whatif", "attention", "gpt2", "--mfu", "1e-308", "--json"], None),
    (["compare", "gpt2", "Qwen3-0.6B", "--mfu", "1e-308", "--json"], None),
    (["speed", "gpt2", "--train", "--gpu", "H100", "--mfu", "1e-308", "--tokens", "1e12", "--json"], None),
    (["cost", "gpt2", "--train", "--mfu", "1e-308", "--tokens", "1e12", "--json"], None),
    (["plan", "DeepSeek-V3", "--train", "--tokens", "1e13", "--json"], None),
]


def _rss_run(args: list[str], stdin: str | None) -> dict:
    """One `llmsize` process: exit status, seconds, peak RSS in MB (from wait4)."""
    t = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-c", "from llmsize.cli import main; main()", *args], env=ENV,
                         stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if stdin:
        threading.Thread(target=lambda: (p.stdin.write(stdin.encode()), p.stdin.close()), daemon=True).start()
    else:
        p.stdin.close()
    timer = threading.Timer(30, p.kill)
    timer.start()
    _, status, ru = os.wait4(p.pid, 0)
    timer.cancel()
    err = p.stderr.read().decode(errors="replace").strip().splitlines()
    code = os.waitstatus_to_exitcode(status)
    return {"args": " ".join(a if len(a) < 40 else a[:20] + "..." for a in args), "code": code,
            "s": round(time.perf_counter() - t, 2), "mb": round(ru.ru_maxrss / 1024, 1),
            "err": err[-1][:140] if err else ""}


def cli_hostile() -> list[dict]:
    return [_rss_run(a, s) for a, s in HOSTILE]


def crafted() -> list[dict]:
    manifest = json.loads((CRAFTED / "manifest.json").read_text())
    out = []
    for name, want in sorted(manifest.items()):
        for cmd in ("inspect", "params"):
            r = _rss_run([cmd, str(CRAFTED / name)], None)
            r.update(file=name, cmd=cmd, want=want[cmd])
            out.append(r)
    return out


def cli_fuzz(n: int) -> dict:
    from hypothesis import HealthCheck, given, settings

    from tests import test_fuzz_cli as F

    counts: Counter[str] = Counter()
    slowest = (0.0, "")
    for name in F.COMMANDS:
        @settings(max_examples=n, deadline=None, suppress_health_check=list(HealthCheck), database=None,
                  derandomize=True)
        @given(case=F.argv(name))
        def go(case: tuple[list[str], str | None]) -> None:
            nonlocal slowest
            t = time.perf_counter()
            code, _ = F.run(*case)
            dt = time.perf_counter() - t
            counts[f"{name} {code}"] += 1
            if dt > slowest[0]:
                slowest = (dt, " ".join(case[0])[:120])

        go()
    return {"counts": dict(counts), "slowest_s": round(slowest[0], 2), "slowest": slowest[1]}


def api_fuzz(n: int) -> dict:
    from fastapi.testclient import TestClient
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from llmsize.web.app import create_app
    from tests.web import test_fuzz_schema as S

    client = TestClient(create_app(), raise_server_exceptions=False)
    paths = S._posts()
    counts: Counter[str] = Counter()
    slowest = (0.0, "")
    per = max(1, n // (2 * len(paths)))
    junk = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10)),
                        lambda k: st.one_of(st.lists(k, max_size=3), st.dictionaries(st.text(max_size=6), k, max_size=3)),
                        max_leaves=8)
    for path in paths:
        schema = S._spec()["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        for kind, strat in (("schema", S.from_schema(schema)), ("junk", junk)):
            @settings(max_examples=per, deadline=None, suppress_health_check=list(HealthCheck), database=None,
                      derandomize=True)
            @given(body=strat)
            def go(body: object) -> None:
                nonlocal slowest
                t = time.perf_counter()
                r = client.post(path, content=json.dumps(body).encode(), headers={"content-type": "application/json"})
                dt = time.perf_counter() - t
                counts[str(r.status_code)] += 1
                counts[f"{path} {r.status_code}"] += 1
                if dt > slowest[0]:
                    slowest = (dt, f"{path} {json.dumps(body)[:100]}")

            go()
    return {"counts": dict(counts), "slowest_s": round(slowest[0], 2), "slowest": slowest[1]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_test(requests: int, conc: int) -> dict:
    from bench.bench_web import BODIES, load

    port = _free_port()
    from llmsize.web.server import spawn

    proc = spawn(port, env=ENV)
    try:
        quant: Counter[str] = Counter()
        stop = threading.Event()

        def slow_quant() -> None:  # distinct requests (new context each), so each is computed
            i = 0
            while not stop.is_set():
                i += 1
                body = json.dumps({"model": {"preset": "Qwen3-235B-A22B"}, "context": 1000 + i}).encode()
                req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/quant", body,
                                             {"content-type": "application/json"})
                try:
                    with urllib.request.urlopen(req, timeout=30) as r:
                        quant[str(r.status)] += 1
                except urllib.error.HTTPError as e:
                    quant[str(e.code)] += 1
                except OSError as e:
                    quant[type(e).__name__] += 1

        t = threading.Thread(target=slow_quant, daemon=True)
        path = "/api/v1/infer"
        asyncio.run(load(port, path, BODIES[path], 500, 64))
        t.start()
        lat, errors, wall = asyncio.run(load(port, path, BODIES[path], requests, conc))
        stop.set()
        t.join(timeout=60)
        lat.sort()
        q = lambda p: 1000 * lat[min(len(lat) - 1, int(p * len(lat)))]  # noqa: E731
        stalled = _stalled_clients(port)
        return {"requests": requests, "connections": conc, "responses": len(lat), "errors": len(errors),
                "first_error": errors[0] if errors else None, "wall_s": round(wall, 2),
                "req_per_s": round(len(lat) / wall), "p50_ms": round(q(.5), 2), "p99_ms": round(q(.99), 2),
                "max_ms": round(1000 * lat[-1], 2), "quant_alongside": dict(quant), **stalled}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _stalled_clients(port: int, n: int = 20) -> dict:
    """n connections that send half a request and stall: seconds until the server closes each."""
    socks = []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"POST /api/v1/params HTTP/1.1\r\nHost: localhost\r\n" if i % 2 else
                  b"POST /api/v1/params HTTP/1.1\r\nHost: localhost\r\ncontent-length: 99\r\n\r\n{")
        socks.append(s)
    t = time.monotonic()
    closed = []
    for s in socks:
        s.settimeout(max(0.1, 30 - (time.monotonic() - t)))
        try:
            while s.recv(4096):
                pass
            closed.append(time.monotonic() - t)
        except OSError:
            pass
        s.close()
    return {"stalled_clients": n, "stalled_closed": len(closed), "stalled_closed_max_s": round(max(closed, default=0), 1)}


def table(res: dict) -> str:
    """The measured results as the markdown tables of docs/reliability.md."""
    out = []
    single = res["hostile"] + res["crafted"]

    def outcome(codes: Counter[int]) -> str:
        return ", ".join(f"exit {c}: {n}" for c, n in sorted(codes.items()))

    out.append("### Single bad inputs, each in its own process (exit, wall time, peak RSS)\n")
    out.append("| input | exit | s | peak MB |\n|---|---:|---:|---:|")
    for r, (_, stdin) in zip(res["hostile"], HOSTILE):
        shown = r["args"][:70] + (f" < {stdin[:30]}{'...' if len(stdin) > 30 else ''}" if stdin else "")
        out.append(f"| `{shown.replace('|', '/')}` | {r['code']} | {r['s']} | {r['mb']} |")
    cr = res["crafted"]
    by_kind: dict[str, list[dict]] = {}
    for r in cr:
        by_kind.setdefault(r["file"].split("/")[0] + " " + r["cmd"], []).append(r)
    out.append("\n### Crafted files (`tests/data/crafted/`, 69 files)\n")
    out.append("| files, command | runs | outcomes | as the manifest says | max s | max peak MB |\n|---|---:|---|---:|---:|---:|")
    for k, rs in sorted(by_kind.items()):
        out.append(f"| {k} | {len(rs)} | {outcome(Counter(r['code'] for r in rs))} | "
                   f"{sum(r['code'] == r['want'] for r in rs)}/{len(rs)} | {max(r['s'] for r in rs)} | "
                   f"{max(r['mb'] for r in rs)} |")
    heavy = sorted(cr, key=lambda r: -r["mb"])[:5]
    out.append("\nLargest peaks: " + "; ".join(f"{r['cmd']} {r['file']} {r['mb']} MB" for r in heavy) + ".")
    out.append(f"\nAll {len(single)} single inputs: {outcome(Counter(r['code'] for r in single))}; "
               f"max {max(r['s'] for r in single)} s, max peak {max(r['mb'] for r in single)} MB.")
    cf = res["cli_fuzz"]["counts"]
    cmds = sorted({k.split()[0] for k in cf})
    out.append("\n### Hypothesis over every CLI command (in process)\n")
    out.append("| command | runs | exit 0 | exit 2 | other |\n|---|---:|---:|---:|---:|")
    for c in cmds:
        n = {code: cf.get(f"{c} {code}", 0) for code in ("0", "2")}
        other = sum(v for k, v in cf.items() if k.split()[0] == c and k.split()[1] not in ("0", "2"))
        out.append(f"| {c} | {n['0'] + n['2'] + other} | {n['0']} | {n['2']} | {other} |")
    out.append(f"\nSlowest run: {res['cli_fuzz']['slowest_s']} s (`{res['cli_fuzz']['slowest']}`).")
    af = res["api_fuzz"]["counts"]
    out.append("\n### API requests from each endpoint's OpenAPI schema plus junk bodies (in process)\n")
    out.append("| endpoint | requests | statuses |\n|---|---:|---|")
    paths = sorted({k.split()[0] for k in af if " " in k})
    for p in paths:
        st = {k.split()[1]: v for k, v in af.items() if k.startswith(p + " ")}
        out.append(f"| `{p}` | {sum(st.values())} | {', '.join(f'{c}: {n}' for c, n in sorted(st.items()))} |")
    tot = {k: v for k, v in af.items() if " " not in k}
    out.append(f"\nAll: {sum(tot.values())} requests; " + ", ".join(f"{c}: {n}" for c, n in sorted(tot.items()))
               + f"; slowest {res['api_fuzz']['slowest_s']} s.")
    L = res["load"]
    out.append("\n### Load on loopback (`llmsize serve`'s stack)\n")
    out.append("| requests | connections | errors | req/s | p50 ms | p99 ms | max ms | /quant alongside | "
               "stalled clients closed (max s) |\n|---:|---:|---:|---:|---:|---:|---:|---|---|")
    out.append(f"| {L['requests']} | {L['connections']} | {L['errors']} | {L['req_per_s']} | {L['p50_ms']} | "
               f"{L['p99_ms']} | {L['max_ms']} | {L['quant_alongside']} | {L['stalled_closed']}/{L['stalled_clients']} "
               f"({L['stalled_closed_max_s']}) |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli-fuzz", type=int, default=150, help="Hypothesis examples per CLI command")
    ap.add_argument("--api", type=int, default=20000, help="API requests in the fuzz (about)")
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--out", default=str(ROOT / "bench" / "reliability_results.json"))
    ap.add_argument("--resume", action="store_true", help="keep the phases already in --out")
    ap.add_argument("--table", metavar="JSON", help="print the markdown tables of a results file and stop")
    a = ap.parse_args()
    if a.table:
        print(table(json.loads(Path(a.table).read_text())))
        return
    if not (1 <= a.cli_fuzz <= 2000 and 1 <= a.api <= 200_000 and 1 <= a.requests <= 200_000
            and 1 <= a.concurrency <= 256):
        raise SystemExit("bounds: --cli-fuzz 1..2000, --api 1..200000, --requests 1..200000, --concurrency 1..256")
    out = Path(a.out)
    res = json.loads(out.read_text()) if a.resume and out.exists() else {}
    phases = {"hostile": cli_hostile, "crafted": crafted, "cli_fuzz": lambda: cli_fuzz(a.cli_fuzz),
              "api_fuzz": lambda: api_fuzz(a.api), "load": lambda: load_test(a.requests, a.concurrency)}
    for name, phase in phases.items():
        if name not in res:
            res[name] = phase()
            out.write_text(json.dumps(res, indent=1) + "\n")  # kept after each phase
            print(f"{name} done", flush=True)
    single = res["hostile"] + res["crafted"]
    bad = [r for r in single if r["code"] not in (0, 2) or r["mb"] > 200 or r["s"] > 5]
    bad += [r for r in res["crafted"] if r["code"] != r["want"]]
    exit1 = sum(v for k, v in res["cli_fuzz"]["counts"].items() if not k.endswith((" 0", " 2")))
    api500 = res["api_fuzz"]["counts"].get("500", 0)
    L = res["load"]
    print(json.dumps({"single_inputs": len(single), "max_mb": max(r["mb"] for r in single),
                      "max_s": max(r["s"] for r in single), "bad": bad[:5], "cli_fuzz_runs":
                      sum(res["cli_fuzz"]["counts"].values()), "cli_fuzz_not_0_or_2": exit1,
                      "api_requests": sum(v for k, v in res["api_fuzz"]["counts"].items() if " " not in k),
                      "api_500": api500, "load": L}, indent=1))
    ok = not bad and not exit1 and not api500 and L["errors"] == 0 and L["p99_ms"] < 50
    print("targets:", "met" if ok else "NOT met")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
