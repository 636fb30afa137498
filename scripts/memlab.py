"""Lab tool: run one truth case and print WHAT is live at the peak (shape, dtype, op, module, phase).

Uses /work/shared/truth/generate_truth.py's `measure` (credit: the truth generator) with a tracker
that labels every storage it sees. Run with the truth venv:
    /work/venv-truth/bin/python scripts/memlab.py MODEL MODE B S [--new N] [--wd float32] [--ac bfloat16]
        [--opt sgd] [--gc] [--lora r:qv|all] [--attn eager] [--cfg JSON]
"""
import argparse
import collections
import json
import os
import sys

TRUTH = os.environ.get("LLMSIZE_TRUTH_DIR", "/work/shared/truth")
sys.path.insert(0, TRUTH)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import generate_truth as g  # noqa: E402
from torch.distributed._tools.mem_tracker import _TOTAL_KEY  # noqa: E402


class LabTracker(g.GlobalPeakMemTracker):
    def __init__(self, light=False):
        super().__init__()
        self._light = light
        self._func = "external"
        self._seq = 0
        self._peak_live = []
        self.phase_peak = {}

    def _phase(self):
        if self._in_opt:
            return "opt"
        return "bw" if self._mod_tracker.is_bw else "fw"

    def _track(self, reftype, t):
        from torch.distributed._tools.mem_tracker import get_untyped_storages
        sts = get_untyped_storages(t)
        new = [st for st in sts if st not in self._WINFO]
        super()._track(reftype, t)
        for st in new:
            w, _ = self._WINFO[st]
            mods = [p for p in self._mod_tracker.parents if p != "Global"]
            w.label = (self._func, tuple(t.shape), str(t.dtype).replace("torch.", ""),
                       max(mods, key=len) if mods else "-", self._phase(), self._seq)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self._func = str(func).replace("aten.", "")
        self._seq += 1
        return super().__torch_dispatch__(func, types, args, kwargs)

    def _update_peak_stats(self, peak_state):
        ph = self._phase()
        if ph == "bw" and getattr(self, "_last_ph", None) == "fw" and not self._light:
            self.phase_peak["bw0"] = (0, [(w.mem_consumed, getattr(w, "label", None), w.reftype.name)
                                          for (w, _) in list(self._WINFO.values())], (self._seq, self._func))
        self._last_ph = ph
        for dev, dev_snap in self._curr_mem_snap.items():
            tot = dev_snap[_TOTAL_KEY]
            if tot > self.phase_peak.get(ph, (0,))[0]:
                live = [] if self._light else [(w.mem_consumed, getattr(w, "label", None), w.reftype.name)
                                               for (w, _) in list(self._WINFO.values())]
                self.phase_peak[ph] = (tot, live, (self._seq, self._func, list(self._mod_tracker.parents)))
            if self._peak_mem.get(dev, 0) < dev_snap[_TOTAL_KEY]:
                self._peak_mem[dev] = dev_snap[_TOTAL_KEY]
                self._peak_mem_snap[dev] = dict(dev_snap)
                if self._light:
                    continue
                self._peak_live = [(w.mem_consumed, getattr(w, "label", None), w.reftype.name)
                                   for (w, _) in list(self._WINFO.values())]
                self._peak_at = (self._seq, self._func, self._phase(),
                                 [p for p in self._mod_tracker.parents])


def add_workload_args(ap):
    """MODEL MODE B S and the workload flags (shared with phasecheck.py)."""
    ap.add_argument("model"); ap.add_argument("mode"); ap.add_argument("b", type=int); ap.add_argument("s", type=int)
    ap.add_argument("--new", type=int, default=0); ap.add_argument("--wd", default="bfloat16")
    ap.add_argument("--ac"); ap.add_argument("--opt"); ap.add_argument("--gc", action="store_true")
    ap.add_argument("--lora"); ap.add_argument("--attn", default="sdpa"); ap.add_argument("--cfg")


def workload(a):
    """The truth generator's workload for parsed add_workload_args arguments (--cfg registers the model)."""
    if a.cfg:
        g.MODELS[a.model] = json.loads(a.cfg)
    if g.MODELS[a.model]["model_type"] in ("t5", "bert", "roberta", "modernbert"):  # the class users train them with
        import peft
        from gen_encoder_truth import patch
        patch(g, peft)
    lo = None
    if a.lora:
        r, kind = a.lora.split(":")
        lo = g.lora(a.model, int(r), kind)
    return g.W(a.model, a.mode, a.b, a.s, a.new, a.wd, a.ac, a.opt, a.gc, lo, a.attn)


def main():
    ap = argparse.ArgumentParser()
    add_workload_args(ap)
    ap.add_argument("--phase", help="show the live set at this phase's peak: fw, bw or opt")
    ap.add_argument("--min", type=float, default=0.0, help="hide groups under this many MiB")
    a = ap.parse_args()
    w = workload(a)
    box = {}

    def mk():
        box["t"] = LabTracker()
        return box["t"]
    m, _ = g.measure(a.model, w, tracker=mk)
    t = box["t"]
    print("peak", m["peak_bytes"], "at", t._peak_at)
    for ph, (tot, _, at) in t.phase_peak.items():
        print(f"  phase {ph} peak {tot} at {at}")
    if a.phase:
        t._peak_live = t.phase_peak[a.phase][1]
    groups = collections.defaultdict(lambda: [0, 0])
    for size, label, ref in t._peak_live:
        if label is None:
            key = (ref, "external", "", "", "", "")
        else:
            f, shape, dt, mod, ph, seq = label
            import re
            mod = re.sub(r"\.(h|layers)\.\d+", ".L*", mod)
            key = (ref, f, str(shape), dt, mod, ph)
        groups[key][0] += size
        groups[key][1] += 1
    tot = 0
    for k, (size, n) in sorted(groups.items(), key=lambda kv: -kv[1][0]):
        tot += size
        if size >= a.min * 2**20:
            print(f"{size:>14d} {n:>5d}x  {' | '.join(k)}")
    print("total", tot)


if __name__ == "__main__":
    main()
