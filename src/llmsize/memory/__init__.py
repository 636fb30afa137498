"""Peak memory of PyTorch + transformers workloads, from tensor shapes, dtypes and lifetimes.

    from llmsize.memory import Workload, LoRA, estimate
    est = estimate(spec, Workload(mode="train", batch=1, seq_len=1024))
    est.peak_bytes, est.peak_phase, est.terms
"""
from llmsize.memory.device import DeviceEstimate, device_estimate
from llmsize.memory.estimate import estimate
from llmsize.memory.terms import MemoryEstimate, MemTerm
from llmsize.memory.workload import LoRA, Workload

__all__ = ["DeviceEstimate", "LoRA", "MemTerm", "MemoryEstimate", "Workload", "device_estimate", "estimate"]
