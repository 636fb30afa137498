"""FSDP2 + tensor parallelism on a 2-D mesh (dp × tp), measured per rank like dist_calib.jsonl.

Reuses the shared distributed truth generator (`generate_dist_truth.py`): its `measure()` runs
unchanged with two hooks: the mesh it builds becomes the "dp" dimension of a (dp, tp) mesh, and
before the decoder layers are wrapped with `fully_shard` the model gets its `base_model_tp_plan`
on the "tp" dimension (`apply_tp`: ColwiseParallel q/k/v/gate/up, RowwiseParallel o/down;
embeddings, norms and the LM head replicated over TP, then sharded by FSDP over DP) — the torchtitan
order (TP first, then FSDP on the DP submesh).

    /work/venv-truth/bin/python scripts/gen_dist_2d.py fake --out tests/data/dist_2d.jsonl
    /work/venv-truth/bin/python scripts/gen_dist_2d.py real     # gloo, 4 processes, vs fake PG per rank

Set LLMSIZE_TRUTH_DIR to the folder holding generate_dist_truth.py (default /work/shared/truth).
"""
import argparse
import json
import os
import socket
import sys
import tempfile
import time
import traceback

TRUTH = os.environ.get("LLMSIZE_TRUTH_DIR", "/work/shared/truth")
sys.path.insert(0, TRUTH)
import generate_dist_truth as g  # noqa: E402
import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402

_MESH = {}


_ORIG = (g.init_device_mesh, g.decoder_layers)


def _hook(tp):
    """Patch the generator: a (dp, tp) mesh, TP applied before FSDP wraps the layers."""
    real_mesh, real_layers = _ORIG

    def mesh_2d(device, shape, **kw):
        ws = shape[0]
        m = real_mesh(device, (ws // tp, tp), mesh_dim_names=("dp", "tp"))
        _MESH["tp"] = m["tp"]
        return m["dp"]

    def layers_after_tp(model):
        g.apply_tp(model, _MESH["tp"])
        return real_layers(model)

    g.init_device_mesh, g.decoder_layers = mesh_2d, layers_after_tp
    # fully_shard concatenates the DP and TP meshes (DeviceMesh._concatenate) inside the generator's
    # FakeTensorMode; the mesh's rank tensor must stay a real tensor (a few int32 values, made at init).
    from torch._subclasses.fake_tensor import unset_fake_temporarily
    from torch.distributed import _mesh_layout as ml

    from torch.distributed.device_mesh import DeviceMesh

    def real(f):
        def run(*a, **k):
            with unset_fake_temporarily():
                return f(*a, **k)
        run._real = True
        return run

    if not getattr(ml._MeshLayout.remap_to_tensor, "_real", False):
        ml._MeshLayout.remap_to_tensor = real(ml._MeshLayout.remap_to_tensor)
        DeviceMesh._concatenate = staticmethod(real(DeviceMesh._concatenate))


def case(name, b, s, dp, tp, raf=True, mp="bf16", gc=False):
    name_, w, par = g.C(name, b, s, dp * tp, raf=raf, mp=mp, gc=gc)
    par = dict(par, strategy="fsdp2+tp", dp=dp, tp=tp, tp_plan="hf base_model_tp_plan on mesh['tp'], then "
               "fully_shard per decoder layer and on the root over mesh['dp']")
    return name_, w, par


def case_id(name, w, par):
    base = g.dist_case_id(name, w, par)
    return base.replace(f"fsdp2-w{par['world_size']}", f"fsdp2-dp{par['dp']}-tp{par['tp']}")


CASES = [case("Llama-3.2-1B", 1, 1024, 2, 2), case("Qwen3-0.6B", 2, 512, 4, 2, gc=True),
         case("Llama-3.2-1B", 2, 1024, 2, 4, mp="mp", raf=False)]
REAL = [case("Llama-tiny-4L", 2, 256, 2, 2), case("Llama-tiny-4L", 1, 384, 2, 2, mp="mp", raf=False, gc=True)]


def fake(out):
    done = set()
    if os.path.exists(out):
        done = {json.loads(x)["id"] for x in open(out) if x.strip()}
    with open(out, "a") as f:
        for name, w, par in CASES:
            cid = case_id(name, w, par)
            if cid in done:
                continue
            _hook(par["tp"])
            t = time.time()
            g.init_fake_pg(par["world_size"], 0)
            m, _ = g.measure(name, w, par)
            dist.destroy_process_group()
            rec = dict(id=cid, model=name, config=g.MODELS[name], workload=w, parallel=par, measured=m,
                       source=dict(g.source(), wall_s=round(time.time() - t, 1)))
            f.write(json.dumps(rec) + "\n")
            f.flush()
            print(f"{cid:64s} {m['peak_bytes']:,} {m['peak_at']} {time.time() - t:.1f}s", flush=True)


def _worker(rank, ws, port, outdir):
    torch.set_num_threads(1)
    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
    dist.init_process_group("gloo", rank=rank, world_size=ws)
    with open(os.path.join(outdir, f"rank{rank}.jsonl"), "w") as f:
        for name, w, par in REAL:
            _hook(par["tp"])
            try:
                m, _ = g.measure(name, w, par, real=True)
                rec = dict(ok=True, peak=m["peak_bytes"], breakdown=m["peak_breakdown"], at=m["peak_at"])
            except Exception as e:  # noqa: BLE001
                rec = dict(ok=False, error=f"{type(e).__name__}: {e}"[:300], tb=traceback.format_exc()[-1500:])
            f.write(json.dumps(rec) + "\n")
            f.flush()
            dist.barrier()
    dist.destroy_process_group()


def real():
    import torch.multiprocessing as mp

    ws = 4
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as td:
        mp.spawn(_worker, args=(ws, port, td), nprocs=ws, join=True)
        got = {r: [json.loads(x) for x in open(os.path.join(td, f"rank{r}.jsonl"))] for r in range(ws)}
    for ci, (name, w, par) in enumerate(REAL):
        for r in range(ws):
            rr = got[r][ci]
            _hook(par["tp"])
            g.init_fake_pg(ws, r)
            fk, _ = g.measure(name, w, dict(par, rank=r))
            dist.destroy_process_group()
            if not rr["ok"]:
                print(f"[real] {case_id(name, w, par)} rank {r}: ERROR {rr['error']}\n{rr['tb']}", flush=True)
                continue
            print(f"[real] {case_id(name, w, par)} rank {r}: real {rr['peak']:,} fake {fk['peak_bytes']:,} "
                  f"equal={rr['peak'] == fk['peak_bytes']} breakdown_equal={rr['breakdown'] == fk['peak_breakdown']}",
                  flush=True)
            if rr["breakdown"] != fk["peak_breakdown"]:
                print(f"       real {rr['breakdown']} at {rr.get('at')}\n       fake {fk['peak_breakdown']} at "
                      f"{fk['peak_at']}", flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["fake", "real"])
    ap.add_argument("--out", default="tests/data/dist_2d.jsonl")
    a = ap.parse_args()
    fake(a.out) if a.what == "fake" else real()
