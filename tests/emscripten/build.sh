#!/bin/sh
# Rebuilds the checked-in Emscripten builds of io.c with Debian's
# emscripten 3.1.6 (tests/tests/emscripten.rs also rebuilds them at test
# time when emcc is installed, comparing their output with the same goldens).
#   io.wasm             non-standalone: `env` imports next to WASI, started
#                       as Emscripten's JS starts it (-O1: at -O2 3.1.6's JS
#                       optimiser fails under node 20 after writing the wasm)
#   io-standalone.wasm  -sSTANDALONE_WASM (pure WASI with `_start`)
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
emcc -O1 -sALLOW_MEMORY_GROWTH=1 io.c -o "$tmp/io.js"
cp "$tmp/io.wasm" io.wasm
emcc -O2 -sALLOW_MEMORY_GROWTH=1 io.c -o io-standalone.wasm
