/* vmswitch: a register-machine bytecode VM (32-bit instruction words
   decoded into opcode and three register fields, a switch per
   instruction, calls and returns through a frame stack), running a sieve
   and a recursive Fibonacci written in its bytecode. Unlike interp.c (a
   stack machine on one nested loop) it decodes fields, keeps registers in
   memory and calls. Prints both results. */
#include <stdint.h>
#include <stdio.h>

enum { LI, ADD, ADDI, SUB, MUL, AND, SHL, LD, ST, BLT, BNE, BEQ, JMP, CALL, RET, HALT };

#define OP(o, a, b, c) ((uint32_t)(o) | (uint32_t)(a) << 8 | (uint32_t)(b) << 16 | (uint32_t)(c) << 24)
/* Immediate form: opcode, register, signed 16-bit immediate. */
#define OPI(o, a, imm) ((uint32_t)(o) | (uint32_t)(a) << 8 | (uint32_t)(uint16_t)(int16_t)(imm) << 16)

static int32_t mem[1 << 16];

static int64_t run(const uint32_t *code, uint32_t entry, int32_t *regs) {
  /* A frame: the return pc, and one register the caller asked to keep
     (its number and value), restored by RET. */
  uint32_t frames[4096][3];
  int fp = 0;
  uint32_t pc = entry;
  for (;;) {
    uint32_t ins = code[pc++];
    uint32_t a = (ins >> 8) & 0xff, b = (ins >> 16) & 0xff, c = ins >> 24;
    int32_t imm = (int16_t)(ins >> 16);
    switch (ins & 0xff) {
    case LI: regs[a] = imm; break;
    case ADD: regs[a] = regs[b] + regs[c]; break;
    case ADDI: regs[a] += imm; break;
    case SUB: regs[a] = regs[b] - regs[c]; break;
    case MUL: regs[a] = regs[b] * regs[c]; break;
    case AND: regs[a] = regs[b] & regs[c]; break;
    case SHL: regs[a] = (int32_t)((uint32_t)regs[b] << (regs[c] & 31)); break;
    case LD: regs[a] = mem[(uint32_t)(regs[b] + regs[c]) & 0xffff]; break;
    case ST: mem[(uint32_t)(regs[b] + regs[c]) & 0xffff] = regs[a]; break;
    case BLT: if (regs[a] < regs[b]) pc = c; break;
    case BNE: if (regs[a] != regs[b]) pc = c; break;
    case BEQ: if (regs[a] == regs[b]) pc = c; break;
    case JMP: pc = b | c << 8; break;
    case CALL:
      if (fp == 4096) return -1;
      frames[fp][0] = pc;
      frames[fp][1] = a;
      frames[fp][2] = (uint32_t)regs[a];
      fp++;
      pc = b | c << 8;
      break;
    case RET:
      fp--;
      pc = frames[fp][0];
      regs[frames[fp][1]] = (int32_t)frames[fp][2];
      break;
    case HALT: return regs[a];
    default: return -2;
    }
  }
}

int main(void) {
  /* Sieve of Eratosthenes over mem[0..n), counting primes, repeated. */
  static const uint32_t sieve[] = {
      /* 0 */ OPI(LI, 1, 30000),      /* n */
      /* 1 */ OPI(LI, 10, 0),          /* reps done */
      /* 2 */ OPI(LI, 11, 1000),       /* reps */
      /* 3 */ OPI(LI, 9, 0),           /* count */
      /* 4 */ OPI(LI, 2, 0),           /* i = 0: clear */
      /* 5 */ OPI(LI, 0, 0),
      /* 6 */ OPI(LI, 7, 1),
      /* 7 */ OP(ST, 7, 2, 0),         /* mem[i] = 1 */
      /* 8 */ OPI(ADDI, 2, 1),
      /* 9 */ OP(BLT, 2, 1, 7),
      /* 10 */ OPI(LI, 2, 2),          /* i = 2 */
      /* 11 */ OP(LD, 3, 2, 0),        /* r3 = mem[i] */
      /* 12 */ OP(BEQ, 3, 0, 20),
      /* 13 */ OPI(ADDI, 9, 1),        /* count++ */
      /* 14 */ OP(MUL, 4, 2, 2),       /* j = i*i */
      /* 15 */ OP(BLT, 1, 4, 20),      /* if n < j: skip */
      /* 16 */ OP(ST, 0, 4, 0),        /* mem[j] = 0 */
      /* 17 */ OP(ADD, 4, 4, 2),
      /* 18 */ OP(BLT, 4, 1, 16),
      /* 19 */ OP(JMP, 0, 20, 0),
      /* 20 */ OPI(ADDI, 2, 1),
      /* 21 */ OP(BLT, 2, 1, 11),
      /* 22 */ OPI(ADDI, 10, 1),
      /* 23 */ OP(BLT, 10, 11, 4),
      /* 24 */ OP(HALT, 9, 0, 0),
  };
  /* fib(r1) -> r2, recursive; r5 = 2 and r6 = 1 constants. */
  static const uint32_t fib[] = {
      /* 0 */ OPI(LI, 1, 34),
      /* 1 */ OPI(LI, 5, 2),
      /* 2 */ OPI(LI, 6, 1),
      /* 3 */ OP(CALL, 1, 5, 0),
      /* 4 */ OP(HALT, 2, 0, 0),
      /* 5 */ OP(BLT, 1, 5, 13),       /* n < 2: return n */
      /* 6 */ OPI(ADDI, 1, -1),
      /* 7 */ OP(CALL, 1, 5, 0),       /* r2 = fib(n-1); keeps r1 = n-1 */
      /* 8 */ OP(ADD, 8, 2, 0),        /* r8 = fib(n-1) (r0 == 0) */
      /* 9 */ OPI(ADDI, 1, -1),
      /* 10 */ OP(CALL, 8, 5, 0),      /* r2 = fib(n-2); keeps r8 */
      /* 11 */ OP(ADD, 2, 2, 8),
      /* 12 */ OP(RET, 0, 0, 0),       /* restores what the caller kept */
      /* 13 */ OP(ADD, 2, 1, 0),
      /* 14 */ OP(RET, 0, 0, 0),
  };
  int32_t regs[256] = {0};
  int64_t primes = run(sieve, 0, regs);
  int32_t regs2[256] = {0};
  int64_t f = run(fib, 0, regs2);
  printf("vmswitch primes=%lld fib=%lld\n", (long long)primes, (long long)f);
  return 0;
}
