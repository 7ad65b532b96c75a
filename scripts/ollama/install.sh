#!/usr/bin/env bash
# Makes an `ollama` binary available, printing its path on the last line.
# Uses one on PATH if it reports the pinned version; otherwise builds the pinned
# release from the Go module proxy (CGO, built-in CPU backend) once and caches it
# by version under ${POLSKI_CACHE:-~/.cache/polski}/ollama-<version>/.
set -euo pipefail

version="${OLLAMA_VERSION:-v0.24.0}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${POLSKI_CACHE:-$HOME/.cache/polski}/ollama-$version"

if command -v ollama >/dev/null 2>&1 && ollama --version 2>/dev/null | grep -q "${version#v}"; then
    command -v ollama
    exit 0
fi
if [ -x "$cache/ollama" ]; then
    echo "$cache/ollama"
    exit 0
fi

command -v go >/dev/null || { echo "error: Go is needed to build Ollama: apt-get install golang-go (>= 1.24)" >&2; exit 1; }
for header in /usr/include/nlohmann/json.hpp /usr/include/stb/stb_image.h; do
    [ -f "$header" ] || { echo "error: $header missing: apt-get install nlohmann-json3-dev libstb-dev" >&2; exit 1; }
done

echo "building ollama $version from the Go module proxy (about 10 minutes on 2 cores)..." >&2
start=$(date +%s)
build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
# The module zip leaves out llama.cpp's vendor/: nlohmann and stb come from Debian,
# miniaudio from our own stub header (audio input is not supported).
CGO_ENABLED=1 \
CGO_CPPFLAGS="-I/usr/include -I/usr/include/stb/.. -I$here/include" \
GOBIN="$build/bin" \
    go install -ldflags "-s -w -X github.com/ollama/ollama/version.Version=${version#v}" \
        "github.com/ollama/ollama@$version" >&2
mkdir -p "$cache"
mv "$build/bin/ollama" "$cache/ollama.tmp"
mv "$cache/ollama.tmp" "$cache/ollama"
echo "built ollama $version in $(( $(date +%s) - start )) s" >&2
echo "$cache/ollama"
