"""Quantization: exact byte layouts of weight formats, llama.cpp's per-tensor preset rules,
KV-cache dtypes, QLoRA memory and the quantization planner."""
