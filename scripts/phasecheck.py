"""Lab tool: measured peak of each phase (forward, backward, optimizer step) vs the memory model's.

    /work/venv-truth/bin/python scripts/phasecheck.py MODEL MODE B S [memlab flags...]

Runs the truth generator's `measure` (see memlab.py) with a phase-aware tracker, then llmsize's
estimate for the same case, and prints both per phase.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
import memlab  # noqa: E402

from llmsize.validate import parse_cases, predict  # noqa: E402
from llmsize.memory import estimate  # noqa: E402
import json  # noqa: E402


def main():
    import argparse
    ap = argparse.ArgumentParser()
    memlab.add_workload_args(ap)
    a = ap.parse_args()
    g = memlab.g
    w = memlab.workload(a)
    box = {}

    def mk():
        box["t"] = memlab.LabTracker(light=True)
        return box["t"]
    m, _ = g.measure(a.model, w, tracker=mk)
    t = box["t"]
    rec = dict(id="x", model=a.model, config=g.MODELS[a.model], workload=w, measured=m)
    res = predict(parse_cases([json.dumps(rec)])[0])
    case = parse_cases([json.dumps(rec)])[0]
    from llmsize.adapters.hf_config import spec_from_config
    est = estimate(spec_from_config(dict(case.config), a.model), case.workload)
    names = {"fw": "forward", "bw": "backward", "opt": "optimizer step"}
    print(f"peak measured {m['peak_bytes']:>14,d} predicted {res.predicted_peak:>14,d} "
          f"{(res.predicted_peak - m['peak_bytes']) / m['peak_bytes'] * 100:+.2f}% ({est.peak_phase})")
    for ph, (tot, _, at) in t.phase_peak.items():
        if ph == "bw0":
            continue
        # generate: the tracker does not split prefill from decode, so compare with the larger
        mine = est.phases.get(names[ph]) or max(est.phases.get("prefill", 0), est.phases.get("decode", 0))
        print(f"  {names[ph]:15s} measured {tot:>14,d} predicted {mine:>14,d} {(mine - tot) / tot * 100:+.2f}%  "
              f"at {at[1]} {sorted(at[2], key=len)[-1] if at[2] else ''}")
    for k, v in est.phases.items():
        print(f"  model {k:15s} {v:,d}")


if __name__ == "__main__":
    main()
