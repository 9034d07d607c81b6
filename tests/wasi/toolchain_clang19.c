// The same program as toolchain_clang22.c, built by clang-19 with the
// features clang-22 turns on by default asked for by flag (see .cflags).
#include "toolchain_clang22.c"
