; factor.smt2: find the factors of a 34-bit semiprime (65521 * 131063)
; as a bit-vector problem: two 32-bit unknowns, zero-extended to 64 bits,
; whose product is the number, neither of them 1. The classic shape of
; SMT-LIB's QF_BV factoring benchmarks; boolector bit-blasts the
; multiplier and the SAT solver does the rest. Expected answer: sat.
(set-logic QF_BV)
(declare-fun a () (_ BitVec 32))
(declare-fun b () (_ BitVec 32))
(assert (= (bvmul ((_ zero_extend 32) a) ((_ zero_extend 32) b)) (_ bv8587378823 64)))
(assert (bvugt a (_ bv1 32)))
(assert (bvugt b (_ bv1 32)))
(assert (bvule a b))
(check-sat)
(exit)
