/* interp: a switch-dispatch bytecode interpreter (stack machine) running a
   nested counting loop program; prints the final accumulator. */
#include <stdint.h>
#include <stdio.h>

enum { PUSH, LOAD, STORE, ADD, SUB, MUL, XOR, SHR, JNZ, DUP, POP, HALT };

static int64_t run(const int32_t *code, int64_t *vars) {
  int64_t stack[64];
  int sp = 0, pc = 0;
  for (;;) {
    int32_t op = code[pc++];
    switch (op) {
    case PUSH: stack[sp++] = code[pc++]; break;
    case LOAD: stack[sp++] = vars[code[pc++]]; break;
    case STORE: vars[code[pc++]] = stack[--sp]; break;
    case ADD: sp--; stack[sp - 1] += stack[sp]; break;
    case SUB: sp--; stack[sp - 1] -= stack[sp]; break;
    case MUL: sp--; stack[sp - 1] *= stack[sp]; break;
    case XOR: sp--; stack[sp - 1] ^= stack[sp]; break;
    case SHR: sp--; stack[sp - 1] = (int64_t)((uint64_t)stack[sp - 1] >> (stack[sp] & 63)); break;
    case JNZ: { int32_t t = code[pc++]; if (stack[--sp]) pc = t; break; }
    case DUP: stack[sp] = stack[sp - 1]; sp++; break;
    case POP: sp--; break;
    case HALT: return vars[0];
    default: return -1;
    }
  }
}

int main(void) {
  /* vars: 0 = acc, 1 = i, 2 = j */
  volatile int32_t outer = 3000, inner = 5000;
  int32_t code[] = {
    PUSH, outer, STORE, 1,                         /* 0: i = outer */
    PUSH, inner, STORE, 2,                         /* 4: j = inner */
    LOAD, 0, PUSH, 31, MUL, LOAD, 2, XOR,          /* 8: acc = (acc*31 ^ j) */
    DUP, PUSH, 7, SHR, XOR, STORE, 0,              /* 16: acc ^= acc >> 7 */
    LOAD, 2, PUSH, 1, SUB, DUP, STORE, 2, JNZ, 8,  /* 23: if --j goto 8 */
    LOAD, 1, PUSH, 1, SUB, DUP, STORE, 1, JNZ, 4,  /* 34: if --i goto 4 */
    HALT,
  };
  int64_t vars[3] = {1, 0, 0};
  printf("interp %lld\n", (long long)run(code, vars));
  return 0;
}
