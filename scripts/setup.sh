#!/usr/bin/env bash
# Installs everything polski and Purple need on a fresh Debian/Ubuntu machine:
# system packages, Go (from the Go module proxy when missing or too old), the
# Python packages, and the pinned Ollama server. Then, unless --no-run is given,
# starts Ollama, registers the shipped polski-mini model and opens Purple on it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
run_app=1
[ "${1:-}" = "--no-run" ] && run_app=0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
cache="${POLSKI_CACHE:-$HOME/.cache/polski}"
mkdir -p "$cache"

# 1. System packages (apt-get update only when something is missing).
apt_packages=(python3 python3-venv python3-pip python3-dev build-essential cmake git curl unzip xz-utils zstd
              nlohmann-json3-dev libstb-dev tmux)
missing=()
for p in "${apt_packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    echo "==> apt-get install ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

# 2. Go >= 1.26 to build Ollama; Debian's golang-go is older, so take the toolchain from the module proxy.
go_ok() { command -v go >/dev/null && go version | grep -qE 'go1\.(2[6-9]|[3-9][0-9])'; }
if ! go_ok; then
    goroot="$cache/go1.26.0"
    if [ ! -x "$goroot/bin/go" ]; then
        echo "==> Go 1.26.0 toolchain from the Go module proxy"
        tmp=$(mktemp -d)
        curl -fsSL -o "$tmp/go.zip" "${GOPROXY_URL:-https://proxy.golang.org}/golang.org/toolchain/@v/v0.0.1-go1.26.0.linux-amd64.zip"
        unzip -q "$tmp/go.zip" -d "$tmp"
        rm -rf "$goroot" && mv "$tmp/golang.org/toolchain@v0.0.1-go1.26.0.linux-amd64" "$goroot"
        chmod +x "$goroot"/bin/* "$goroot"/pkg/tool/*/* 2>/dev/null || true
        rm -rf "$tmp"
    fi
    export PATH="$goroot/bin:$PATH"
fi

# 3. Python packages: into the active environment when pip may write there, else into .venv.
python=python3
if [ -n "${VIRTUAL_ENV:-}" ]; then
    python="$VIRTUAL_ENV/bin/python"
elif [ -x .venv/bin/python ]; then
    python=.venv/bin/python
elif python3 -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")))'; then
    python3 -m venv .venv
    python=.venv/bin/python
fi
echo "==> pip install -e .[dev] (python: $python)"
"$python" -m pip install -q --upgrade pip >/dev/null
# llama-cpp-python compiles llama.cpp here. -march=native (its default) also turns on AMX where the CPU has it, and
# virtual machines that do not enable AMX then die with SIGILL on the first matmul: build for portable AVX2 instead.
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}"
"$python" -m pip install -q -e ".[dev]"
# An earlier native build of llama-cpp-python stays installed (and cached by pip): rebuild it if it cannot run a model.
if ! "$python" -c 'import llama_cpp; llama_cpp.Llama("modelfiles/polski-mini/polski-mini.gguf", n_ctx=64, verbose=False)("Polska", max_tokens=2)' >/dev/null 2>&1; then
    echo "==> llama-cpp-python cannot run a model here: rebuilding it for portable AVX2 (several minutes)"
    "$python" -m pip install -q --no-cache-dir --force-reinstall --no-deps "llama-cpp-python>=0.3.16"
fi

# DeepSpeed (the ZeRO-2 engine) as pure Python: its CUDA ops compile on first use on a GPU machine; here the tests
# check our generated config against its schema classes. Its setup imports torch, hence no build isolation.
"$python" -c 'import deepspeed' >/dev/null 2>&1 || DS_BUILD_OPS=0 "$python" -m pip install -q --no-build-isolation "deepspeed>=0.15"

# 4. The Ollama server, pinned (built once from the Go module proxy, then cached).
ollama_bin=$(bash scripts/ollama/install.sh | tail -n 1)
if [ "$(id -u)" -eq 0 ]; then bindir=/usr/local/bin; else bindir="$HOME/.local/bin"; mkdir -p "$bindir"; fi
[ -e "$bindir/ollama" ] || ln -s "$ollama_bin" "$bindir/ollama"
echo "==> ollama: $ollama_bin ($("$ollama_bin" --version 2>/dev/null | tail -n 1))"

if [ "$run_app" -eq 1 ]; then
    "$python" -m training.cli register --name polski-mini --modelfile modelfiles/polski-mini/Modelfile --start-server
    exec "$python" -m purple.cli --model polski-mini
fi
