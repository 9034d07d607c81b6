// Issue 11: a C++ exception nothing catches. Natively the C++ runtime
// searches for a handler first (the Itanium ABI's two phases), finds none
// and calls std::terminate: a message on stderr, then abort (SIGABRT,
// status 134 in a shell), and no destructor runs. Built with
// -fwasm-exceptions the search is wasm's own, one phase: every frame's
// cleanup runs as the exception passes (the three ~Noisy lines), then the
// wasm `throw` of the C++ tag escapes to the host, and `wasmo run`/`exec`
// print `error: uncaught wasm exception` with its backtrace and exit with
// status 134 too (see README.md). Any engine runs those cleanups: they
// are catch_all handlers that rethrow, by the encoding, not wasmo's choice.

#include <cstdio>
#include <stdexcept>

struct Noisy {
  int depth;
  ~Noisy() { std::printf("~Noisy(%d)\n", depth); }
};

struct Fatal : std::runtime_error {
  Fatal() : std::runtime_error("nobody catches this") {}
};

static int descend(int depth) {
  Noisy n{depth};
  if (depth == 0) throw Fatal();
  return descend(depth - 1) + n.depth;
}

int main() {
  std::printf("before the throw\n");
  std::fflush(stdout);
  try {
    descend(2);
  } catch (const std::logic_error&) {
    std::printf("not this one\n");
  }
  std::printf("not reached\n");
  return 0;
}
