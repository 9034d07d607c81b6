#!/bin/sh
# Regenerates the checked-in wasm builds of the C++ programs here (issue 11)
# and the native expected output. CI has neither Emscripten nor binaryen
# 132, so tests/tests/cxx.rs runs the .wasm files checked in beside this
# script; run this after editing a .cc, then review `git diff`.
#
# Needs: em++ (Debian: apt-get install -y emscripten), binaryen 132's
# wasm-opt (npm install binaryen@132 in a directory outside the repo; set
# WASM_OPT=/that/dir/node_modules/binaryen/bin/wasm-opt), g++.
#
#   NAME.wasm         em++ -O2 -fwasm-exceptions -sSTANDALONE_WASM: the
#                     legacy form (try/catch/rethrow/delegate)
#   NAME-exnref.wasm  NAME.wasm through wasm-opt --translate-to-exnref: the
#                     new form (try_table/throw_ref/exnref)
#   exceptions.stdout the native build's (g++ -O2) output
#
# Finally `BLESS=1 cargo test -p wasmo-tests --test cxx` records the
# sources' hashes (sources.blake3, so a .cc edited without running this
# script fails the test) and rewrites uncaught.{stdout,stderr,status}, the
# wasm runs' goldens (a native uncaught exception ends differently: see
# uncaught.cc).
set -eu
cd "$(dirname "$0")"
WASM_OPT=${WASM_OPT:-wasm-opt}
case "$("$WASM_OPT" --version)" in
  *"version 132"*) ;;
  *) echo "build.sh: $WASM_OPT is not binaryen 132 (npm install binaryen@132)" >&2; exit 1 ;;
esac
export NODE_PATH=${NODE_PATH:-/usr/share/nodejs}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for name in exceptions uncaught; do
  em++ -O2 -fwasm-exceptions -sSTANDALONE_WASM -o "$name.wasm" "$name.cc"
  "$WASM_OPT" --enable-exception-handling --enable-reference-types --enable-gc \
    --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
    --enable-nontrapping-float-to-int --enable-multivalue --translate-to-exnref \
    "$name.wasm" -o "$name-exnref.wasm"
done
g++ -O2 -o "$tmp/exceptions" exceptions.cc
"$tmp/exceptions" > exceptions.stdout
BLESS=1 cargo test -p wasmo-tests --test cxx
