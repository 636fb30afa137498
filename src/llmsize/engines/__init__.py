"""Inference engines' own memory accounting, read from their source and checked on the engine itself:
llama.cpp's buffers (model, KV, compute) and partial offload (`llamacpp`, `llamacpp_compute`,
`offload`), vLLM's KV budget (`vllm`)."""
