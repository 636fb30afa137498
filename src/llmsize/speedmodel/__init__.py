"""Speed from evidence: roofline times scaled by achieved efficiencies that were derived from published
measurements (``catalog/efficiency.toml``, written by ``scripts/fit_speed.py``; derivation in docs/speed.md).

``efficiency``: GPU architecture classes, compute paths and the efficiency table with its fallbacks.
``predict``: single-stream decode and prefill; ``builds``: the llama.cpp build a measurement ran;
``serving``: continuous batching; ``train``: training rates; ``comm``: collectives; ``dequant``: GGUF
unpacking cost.
"""
