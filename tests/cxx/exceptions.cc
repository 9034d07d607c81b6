// Issue 11: C++ exceptions through many frames, built to wasm by
// Emscripten with -fwasm-exceptions (the legacy try/catch/rethrow form,
// exceptions.wasm) and rewritten to the new form by binaryen
// (exceptions-exnref.wasm); see build.sh. Its output must be the native
// build's, exceptions.stdout, byte for byte.
//
// Rule: print nothing whose text depends on the C++ library (library
// exceptions' what() strings, typeid names, addresses).

#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>

static int live = 0;       // Guards constructed and not yet destroyed.
static int destroyed = 0;  // Guards destroyed, all told.
static bool quiet = false; // No loud Guards (the many-throws loop).

struct Guard {
  char name[24];
  bool loud;
  Guard(const char* n, bool l = true) : loud(l) {
    std::snprintf(name, sizeof name, "%s", n);
    ++live;
    if (loud) std::printf("  +%s\n", name);
  }
  ~Guard() {
    --live;
    ++destroyed;
    if (loud) std::printf("  ~%s\n", name);
  }
};

// A std::exception subclass with its own what().
class ParseError : public std::exception {
 public:
  ParseError(int line, const char* why) : line_(line) {
    std::snprintf(msg_, sizeof msg_, "parse error at line %d: %s", line, why);
  }
  const char* what() const noexcept override { return msg_; }
  int line() const { return line_; }

 private:
  int line_;
  char msg_[80];
};

// Derived from a library exception, so `catch (std::runtime_error&)` and
// `catch (std::exception&)` both match it.
struct Overflow : std::runtime_error {
  long long value;
  explicit Overflow(long long v) : std::runtime_error("overflow"), value(v) {}
};

struct Plain {
  int code;
};

// Recurses `depth` times, a quiet Guard in every frame (one loud one every
// 16 levels), then throws `kind`.
static long long dive(int depth, int kind) {
  char n[24];
  std::snprintf(n, sizeof n, "level%d", depth);
  Guard g(n, !quiet && depth % 16 == 0);
  if (depth == 0) {
    switch (kind) {
      case 0: throw ParseError(17, "unexpected ')'");
      case 1: throw Overflow(1LL << 40);
      case 2: throw Plain{99};
      case 3: throw 7;
      case 4: throw std::string("a string");
      default: return 1;
    }
  }
  // Not a tail call: the frame stays until the callee returns.
  return dive(depth - 1, kind) + 1;
}

static void by_type(int kind) {
  try {
    long long r = dive(60, kind);
    std::printf("kind %d returned %lld\n", kind, r);
  } catch (const ParseError& e) {
    std::printf("kind %d: ParseError line %d: %s\n", kind, e.line(), e.what());
  } catch (const Overflow& e) {
    std::printf("kind %d: Overflow %lld (%s)\n", kind, e.value,
                std::strcmp(e.what(), "overflow") == 0 ? "what ok" : "what wrong");
  } catch (const Plain& p) {
    std::printf("kind %d: Plain %d\n", kind, p.code);
  } catch (...) {
    std::printf("kind %d: caught by catch(...)\n", kind);
  }
  std::printf("kind %d: live guards %d\n", kind, live);
}

// Catches, adds a frame's worth of context, rethrows the same object.
static void rethrower(int depth) {
  Guard g("rethrower");
  try {
    dive(depth, 0);
  } catch (ParseError& e) {
    std::printf("  rethrower saw line %d, rethrowing\n", e.line());
    throw;
  }
}

static void rethrow_test() {
  std::printf("rethrow:\n");
  try {
    rethrower(50);
  } catch (const std::exception& e) {
    const ParseError* p = dynamic_cast<const ParseError*>(&e);
    std::printf("outer caught std::exception: %s (ParseError: %s)\n", e.what(),
                p ? "yes" : "no");
  }
}

// std::exception_ptr: captured in one handler, rethrown later elsewhere.
static void exception_ptr_test() {
  std::printf("exception_ptr:\n");
  std::exception_ptr saved;
  try {
    dive(52, 1);
  } catch (...) {
    saved = std::current_exception();
  }
  std::printf("saved: %s\n", saved ? "yes" : "no");
  try {
    std::rethrow_exception(saved);
  } catch (const Overflow& e) {
    std::printf("rethrown Overflow %lld\n", e.value);
  }
}

// A throw from inside a handler, caught further out; the first exception
// is destroyed when its handler exits by the second.
static void throw_in_handler() {
  std::printf("throw in handler:\n");
  try {
    Guard outer("outer");
    try {
      dive(55, 2);
    } catch (Plain& p) {
      Guard in("in-handler");
      std::printf("  handling Plain %d, throwing ParseError\n", p.code);
      throw ParseError(p.code, "from a handler");
    }
  } catch (const ParseError& e) {
    std::printf("caught %s\n", e.what());
  }
}

// A constructor that throws part way through a `new[]`: the elements
// already built are destroyed in reverse order and the array's memory is
// freed (the language's rule, so native and wasm agree whatever the C++
// library; a std::vector's destruction order is the library's choice).
static int next_picky = 0;
struct Picky {
  int id;
  Picky() : id(next_picky++) {
    if (id == 3) throw Plain{id};
    std::printf("  Picky(%d)\n", id);
  }
  ~Picky() { std::printf("  ~Picky(%d)\n", id); }
};

static void partial_construction() {
  std::printf("partial construction:\n");
  try {
    std::unique_ptr<Picky[]> v(new Picky[6]);
    std::printf("not reached\n");
  } catch (const Plain& p) {
    std::printf("Picky %d refused\n", p.code);
  }
}

// Throws through virtual calls (call_indirect in wasm).
struct Shape {
  virtual ~Shape() = default;
  virtual int area(int depth) const = 0;
};
struct Square : Shape {
  int side;
  explicit Square(int s) : side(s) {}
  int area(int depth) const override;
};
struct Broken : Shape {
  int area(int depth) const override;
};
static const Shape* next_shape(int depth);
int Square::area(int depth) const {
  if (depth == 0) return side * side;
  return next_shape(depth - 1)->area(depth - 1) + 0 * side;
}
int Broken::area(int) const { throw std::out_of_range("broken shape"); }
static const Square sq(5);
static const Broken br;
static int fault_depth = -1;  // Where the chain of shapes holds a Broken.
static const Shape* next_shape(int depth) {
  return depth == fault_depth ? static_cast<const Shape*>(&br) : &sq;
}

static void virtual_calls() {
  std::printf("virtual calls:\n");
  for (int depth : {57, 58, 59, 60}) {
    fault_depth = depth % 2 ? 3 : -1;
    try {
      std::printf("depth %d: area %d\n", depth, sq.area(depth));
    } catch (const std::out_of_range&) {
      std::printf("depth %d: out_of_range\n", depth);
    } catch (const std::logic_error&) {
      std::printf("depth %d: wrong handler\n", depth);
    }
  }
}

// Many throws in a row: nothing accumulates that changes the results.
static void many_throws() {
  long long sum = 0;
  quiet = true;
  for (int i = 0; i < 2000; i++) {
    try {
      dive(i % 70, i % 5);
    } catch (const ParseError& e) {
      sum += e.line();
    } catch (const Overflow&) {
      sum += 2;
    } catch (const Plain& p) {
      sum += p.code;
    } catch (int v) {
      sum += v;
    } catch (const std::string& s) {
      sum += static_cast<long long>(s.size());
    }
  }
  quiet = false;
  std::printf("many throws: sum %lld, live guards %d, destroyed %d\n", sum, live,
              destroyed);
}

int main() {
  std::printf("by type:\n");
  for (int kind = 0; kind < 6; kind++) by_type(kind);
  rethrow_test();
  exception_ptr_test();
  throw_in_handler();
  partial_construction();
  virtual_calls();
  many_throws();
  std::printf("done, live guards %d\n", live);
  return live == 0 ? 0 : 1;
}
