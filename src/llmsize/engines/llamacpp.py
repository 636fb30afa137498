"""llama.cpp's own buffers, as llama.cpp allocates them: the model buffers (per device, mmap'd span or
allocated, CPU repack), the KV cache (per-slot streams, SWA cache, K/V types) and the context sizes
it derives from -c / -np / -kvu / -b / -ub. The compute buffer is in `llamacpp_compute`.

Checked against real llama.cpp runs (tests/data/llamacpp_buffers.jsonl, scripts/llamacpp/): model and
KV buffers to the byte."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from llmsize.errors import LlmsizeError, check_positive_ints
from llmsize.quant.ggml_types import ggml_type, row_bytes, tensor_bytes
from llmsize.spec import ModelSpec

CPU_ALIGN = 32  # TENSOR_ALIGNMENT (ggml/src/ggml-impl.h): the CPU buffer type's alignment
CUDA_ALIGN = 128  # ggml_backend_cuda_buffer_type_get_alignment
CUDA_ROW_PAD = 512  # MATRIX_ROW_PADDING (ggml-cuda/common.cuh): one padded row per quantized tensor
KV_PAD = 256  # n_ctx, n_ctx_seq and the SWA cache are padded to 256 cells
MAX_N_CTX = 1 << 24  # llmsize's bound on -c (16M tokens)
MAX_SEQ = 256  # LLAMA_MAX_SEQ (src/llama-cparams.h): llama_context refuses more sequences (-np)
# CPU "extra buffer" repacking (ggml-cpu/repack.cpp ggml_repack_get_optimal_repack_type) on x86:
# type -> the ISA it needs; the tensor's ne[1] must be a multiple of 8.
_REPACK_X86 = {"Q4_0": "avx2", "Q4_K": "avx2", "IQ4_NL": "avx2", "MXFP4": "avx2", "Q2_K": "avx512"}
_KV_TYPES = ("f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "iq4_nl", "q5_0", "q5_1")


def _pad(n: int, a: int) -> int:
    return -(-n // a) * a


@dataclass(frozen=True, slots=True)
class WeightTensor:
    """One GGUF tensor: name, ggml dims (ne0 innermost), ggml type, byte offset in the data section."""

    name: str
    ne: tuple[int, ...]
    type: str
    offset: int
    layer: int | None

    @property
    def nbytes(self) -> int:
        return tensor_bytes(self.type, self.ne)

    @property
    def matmul(self) -> bool:
        """Used as the weight of a MUL_MAT (2-D, not the embedding table, which is read by GET_ROWS) or of a
        MUL_MAT_ID (a 3-D expert stack, ffn_*_exps): the ops the CPU repack buffer takes (ggml-cpu/repack.cpp
        extra_buffer_type::supports_op)."""
        if len(self.ne) == 3:
            return "_exps." in self.name
        return len(self.ne) == 2 and self.name.endswith(".weight") and not self.name.startswith(
            ("token_embd", "position_embd", "token_types")) and "norm" not in self.name


def _layer_of(name: str) -> int | None:
    if name.startswith("blk."):
        return int(name.split(".")[1])
    return None


def weights_from_file(path: str) -> tuple[WeightTensor, ...]:
    """The tensors of a GGUF file, with their offsets, as llama.cpp maps them."""
    from llmsize.adapters.gguf import read_header

    _, ts, _, _ = read_header(path)
    base = min((t.offset for t in ts), default=0)
    return tuple(WeightTensor(t.name, tuple(reversed(t.shape)), t.dtype, t.offset - base, _layer_of(t.name))
                 for t in ts)


def weights_from_preset(spec: ModelSpec, ftype: str) -> tuple[WeightTensor, ...]:
    """The tensors llama-quantize writes for `spec` at preset `ftype` (F16, Q8_0, Q4_K_M, ...), laid out as
    gguf-py's writer does: in order, each tensor's data aligned to 32 bytes.

    # ASSUMES: tensors are stored by layer (globals first), as llmsize's GGUF writer and the measured files
    # do; the order only matters for the CPU repack buffers' mapped span, not for any total.
    Source: llama-quant"""
    from llmsize.quant.gguf_presets import tensor_types

    out, off = [], 0
    for g, t in tensor_types(spec, ftype, source="F16"):
        out.append(WeightTensor(g.name, g.ne, t.name, off, g.layer))
        off = _pad(off + tensor_bytes(t, g.ne), CPU_ALIGN)
    return tuple(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class LlamaParams:
    """What llama.cpp is started with: -c, -b, -ub, -np, -kvu, -fa, -ctk/-ctv, --swa-full, -ngl, mmap,
    CPU weight repacking (extra buffer types) and the CPU's widest vector ISA (avx2 / avx512 / none)."""

    n_ctx: int = 4096
    n_batch: int = 2048
    n_ubatch: int = 512
    n_seq_max: int = 1
    kv_unified: bool = False
    flash_attn: bool = False
    type_k: str = "f16"
    type_v: str = "f16"
    swa_full: bool = False
    n_gpu_layers: int = 0
    mmap: bool = True
    repack: bool = True
    cpu_isa: str = "avx2"

    def __post_init__(self) -> None:
        check_positive_ints({"n_ctx": self.n_ctx, "n_batch": self.n_batch, "n_ubatch": self.n_ubatch,
                             "n_seq_max": self.n_seq_max}, "llama.cpp")
        for k in (self.type_k, self.type_v):
            if k not in _KV_TYPES:
                raise LlmsizeError(f"llama.cpp KV cache type must be one of {', '.join(_KV_TYPES)}, got {k!r}")
        if self.type_v not in ("f32", "f16", "bf16") and not self.flash_attn:
            raise LlmsizeError("llama.cpp: a quantized V cache needs flash attention (-fa on)")
        if self.n_gpu_layers < 0:
            raise LlmsizeError(f"llama.cpp: -ngl must be >= 0, got {self.n_gpu_layers}")
        if self.cpu_isa not in ("avx2", "avx512", "none"):
            raise LlmsizeError(f"cpu_isa must be avx2, avx512 or none, got {self.cpu_isa!r}")
        if self.n_ctx > MAX_N_CTX or self.n_seq_max > MAX_SEQ:
            raise LlmsizeError(f"llama.cpp takes at most {MAX_SEQ} parallel sequences (-np, LLAMA_MAX_SEQ) and "
                               f"llmsize sizes -c up to 16M tokens; got -np {self.n_seq_max:,}, -c {self.n_ctx:,}")


@dataclass(frozen=True, slots=True)
class Contexts:
    """The sizes llama.cpp derives (llama_context constructor): padded n_ctx, per-sequence n_ctx_seq,
    KV streams, cells of the full and the SWA cache, effective n_batch / n_ubatch."""

    n_ctx: int
    n_ctx_seq: int
    n_stream: int
    kv_size: int
    swa_size: int
    n_batch: int
    n_ubatch: int


def contexts(spec: ModelSpec, p: LlamaParams) -> Contexts:
    """n_ctx = pad(c, 256); unified: n_ctx_seq = n_ctx, one stream; else n_ctx_seq = pad(n_ctx / np, 256),
    np streams, n_ctx = np · n_ctx_seq. n_batch = min(c, b), n_ubatch = min(n_batch, ub).
    SWA cells = pad(min(n_ctx_seq, n_swa · (np if unified else 1) + n_ubatch), 256) (full size with --swa-full).

    Source: llamacpp-context"""
    n_batch = min(p.n_ctx, p.n_batch)
    n_ubatch = min(n_batch, p.n_ubatch)
    n_ctx = _pad(p.n_ctx, KV_PAD)
    if p.kv_unified:
        seq, streams = n_ctx, 1
    else:
        seq, streams = _pad(n_ctx // p.n_seq_max, KV_PAD), p.n_seq_max
        if n_ctx // p.n_seq_max == 0:
            raise LlmsizeError(f"llama.cpp: -c {p.n_ctx} over -np {p.n_seq_max} leaves no context per sequence")
        n_ctx = seq * p.n_seq_max
    swa = seq
    if spec.sliding_window and "sliding" in spec.layer_types and not p.swa_full:
        swa = _pad(min(seq, spec.sliding_window * (p.n_seq_max if p.kv_unified else 1) + n_ubatch), KV_PAD)
    return Contexts(n_ctx=n_ctx, n_ctx_seq=seq, n_stream=streams, kv_size=seq, swa_size=swa, n_batch=n_batch,
                    n_ubatch=n_ubatch)


def kv_layer_bytes(spec: ModelSpec, p: LlamaParams, layer: int) -> int:
    """One layer's K + V cache: [n_embd_k_gqa, cells, streams] of type_k plus the same for V.

    KV_l = streams · cells_l · (row(ctk, n_kv·d_k) + row(ctv, n_kv·d_v))

    Source: llamacpp-kv"""
    from llmsize.quant.kv import kv_rows

    if not spec.has_attention(layer):  # a recurrent layer: no K/V cells (its state is not counted here)
        return 0
    c = contexts(spec, p)
    cells = c.swa_size if spec.layer_type(layer) == "sliding" and spec.sliding_window else c.kv_size
    k, v = kv_rows(spec)
    kb = row_bytes(p.type_k, k) if k else 0
    vb = row_bytes(p.type_v, v) if v else 0
    return c.n_stream * cells * (kb + vb)


def kv_bytes(spec: ModelSpec, p: LlamaParams, layers: Sequence[int] | None = None) -> int:
    """The KV buffer over `layers` (all by default).

    Source: llamacpp-kv"""
    if spec.attention.mla and not spec.traits.mla_expanded_serving and p.type_k != p.type_v:
        raise LlmsizeError(f"llama.cpp: an MLA model keeps V inside the K cache; -ctk {p.type_k} and -ctv {p.type_v} "
                           "must be the same type (llama.cpp refuses different K and V cache types for it)")
    idx = range(spec.num_layers) if layers is None else layers
    return sum(kv_layer_bytes(spec, p, i) for i in idx)


def gpu_layers(n_layer: int, ngl: int) -> tuple[range, bool]:
    """Which repeating layers llama.cpp puts on the GPU for -ngl: the last min(ngl, L) of them, and the
    output layer too when ngl > L (i_gpu_start = max(L + 1 − ngl, 0)).

    Source: llamacpp-offload"""
    start = max(n_layer + 1 - ngl, 0)
    return range(min(start, n_layer), n_layer), ngl > n_layer


def repacked(t: WeightTensor, p: LlamaParams) -> bool:
    """Whether the CPU backend repacks this weight into its CPU_REPACK buffer (x86).

    Source: llamacpp-repack"""
    isa = _REPACK_X86.get(t.type)
    if not p.repack or isa is None or not t.matmul or t.ne[1] % 8:
        return False
    return p.cpu_isa == "avx512" or isa == p.cpu_isa


@dataclass(frozen=True, slots=True)
class ModelBuffers:
    """llama.cpp's model buffers by buffer type name (CPU_Mapped, CPU_REPACK, CPU, CUDA0, ...)."""

    buffers: dict[str, int]

    @property
    def host(self) -> int:
        return sum(v for k, v in self.buffers.items() if not k.startswith("CUDA") or k == "CUDA_Host")

    @property
    def gpu(self) -> int:
        return sum(v for k, v in self.buffers.items() if k.startswith("CUDA") and k != "CUDA_Host")


def model_buffers(weights: Sequence[WeightTensor], n_layer: int, p: LlamaParams, *, gpu: bool = False) -> ModelBuffers:
    """Model buffers: GPU layers (-ngl) in CUDA0 (each tensor padded to 128 B, quantized ones by one
    512-value row), the rest on the host: with mmap the file span of its tensors (CPU_Mapped), without
    mmap allocated tensors padded to 32 B (CPU, or CUDA_Host pinned when a GPU is used); on a CPU-only build
    repackable weights (Q4_0, Q4_K, IQ4_NL, MXFP4; Q2_K with AVX-512) go to CPU_REPACK. With a GPU and mmap,
    host weights stay mapped (llama.cpp drops the pinned host buffer type under mmap, and with it the repack).

    mapped = max(off + bytes) − min(off);  allocated = Σ pad(bytes, align)

    Source: llamacpp-model-buffers"""
    on_gpu, out_gpu = gpu_layers(n_layer, p.n_gpu_layers if gpu else 0)
    host_mapped: list[WeightTensor] = []
    bufs: dict[str, int] = {}

    def add(name: str, n: int) -> None:
        bufs[name] = bufs.get(name, 0) + n

    for t in weights:
        if gpu and ((t.layer is not None and t.layer in on_gpu) or (t.layer is None and out_gpu and output_tensor(t))):
            add("CUDA0", cuda_tensor_bytes(t))
        elif not gpu and repacked(t, p):
            add("CPU_REPACK", _pad(t.nbytes, CPU_ALIGN))
        elif p.mmap:
            host_mapped.append(t)
        else:
            add("CUDA_Host" if gpu else "CPU", _pad(t.nbytes, CPU_ALIGN))
    if host_mapped:
        bufs["CPU_Mapped"] = max(t.offset + t.nbytes for t in host_mapped) - min(t.offset for t in host_mapped)
    return ModelBuffers(bufs)


def cuda_tensor_bytes(t: WeightTensor) -> int:
    """One tensor in a CUDA buffer: its bytes, one 512-value row more when quantized and its row is not a
    multiple of 512 (ggml-cuda.cu get_alloc_size), padded to 128 B.

    Source: llamacpp-model-buffers"""
    size = t.nbytes
    if ggml_type(t.type).quantized and t.ne[0] % CUDA_ROW_PAD:
        size += row_bytes(t.type, CUDA_ROW_PAD - t.ne[0] % CUDA_ROW_PAD)
    return _pad(size, CUDA_ALIGN)


def output_tensor(t: WeightTensor) -> bool:
    """Tensors of llama.cpp's output layer (output_norm, output); token/position embeddings stay on the host."""
    return t.name.startswith(("output", "output_norm"))


def output_buffer_bytes(spec: ModelSpec, p: LlamaParams) -> int:
    """The host output buffer as reserved at start-up (output_reserve(n_seq_max)): logits for one output
    per sequence; llama.cpp grows it when a batch asks for more outputs.

    out = n_vocab · max(1, n_seq_max) · 4

    Source: llamacpp-context"""
    return spec.vocab_size * p.n_seq_max * 4


def describe(spec: ModelSpec) -> str:
    """One line naming what the KV arithmetic uses (for notes)."""
    from llmsize.quant.kv import kv_rows

    k, v = kv_rows(spec)
    sw = f", SWA {spec.sliding_window} on {sum(t == 'sliding' for t in spec.layer_types)} layers" \
        if spec.sliding_window and "sliding" in spec.layer_types else ""
    return f"{spec.num_layers} layers, K row {k}, V row {v}{sw}"
