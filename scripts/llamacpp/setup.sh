#!/usr/bin/env bash
# Build real llama.cpp (CPU) from the source llama-cpp-python 0.3.36 vendors (ggml-org/llama.cpp@0c1e57098,
# ggml 0.25.3), install that llama.cpp's own gguf-py into a venv, and compile the memory probe against
# its libllama. Only libllama (+ ggml) is built, Release, as llama-cpp-python's build configures it.
#   bash scripts/llamacpp/setup.sh [VENV]      (default /work/venv-llamacpp; ~10-15 min on 2 cores)
# The measurement itself: $VENV/bin/python scripts/llamacpp/measure.py --venv $VENV
set -euo pipefail
VENV=${1:-/work/venv-llamacpp}
VER=0.3.36
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=/tmp/llama_cpp_python-$VER
BUILD=$VENV/llama.cpp-build
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
[ -f "/tmp/llama_cpp_python-$VER.tar.gz" ] || "$VENV/bin/pip" download --no-deps --no-binary :all: \
    "llama-cpp-python==$VER" -d /tmp
[ -d "$SRC" ] || tar xzf "/tmp/llama_cpp_python-$VER.tar.gz" -C /tmp
L=$SRC/vendor/llama.cpp
cmake -S "$L" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_CURL=OFF \
    -DCMAKE_UNITY_BUILD=ON
cmake --build "$BUILD" -j 2 --target llama
"$VENV/bin/pip" install numpy "$L/gguf-py"
LIB=$BUILD/bin
g++ -O1 -std=c++17 "$HERE/probe.cpp" -I"$L/include" -I"$L/src" -I"$L/ggml/include" -L"$LIB" -lllama -lggml \
    -lggml-base -Wl,-rpath,"$LIB" -o "$VENV/bin/llmsize-llama-probe"
echo "probe: $VENV/bin/llmsize-llama-probe"
