/* wasm_simd128.h intrinsics, one line per operator family; the expected
 * output was checked against Wasmtime. Inputs come from volatile globals
 * so clang cannot fold the operators away. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <wasm_simd128.h>

static volatile int8_t src8[16] = {-128, -1, 0, 1, 2, 127, -100, 100,
                                   50, -50, 16, 17, 31, 15, -16, 64};
static volatile int16_t src16[8] = {-32768, -1, 0, 1, 32767, 12345, -12345, 256};
static volatile float srcf[4] = {1.5f, -0.0f, 3e9f, -2.5f};
static volatile double srcd[2] = {-1e300, 2.75};
static uint8_t memory[64];

static void print_bytes(const char *name, v128_t v) {
    uint8_t b[16];
    wasm_v128_store(b, v);
    printf("%-14s", name);
    for (int i = 0; i < 16; i++) printf(" %02x", b[i]);
    printf("\n");
}

static v128_t load8(void) {
    int8_t b[16];
    for (int i = 0; i < 16; i++) b[i] = src8[i];
    return wasm_v128_load(b);
}

static v128_t load16(void) {
    int16_t h[8];
    for (int i = 0; i < 8; i++) h[i] = src16[i];
    return wasm_v128_load(h);
}

int main(void) {
    v128_t a = load8();
    v128_t b = load16();
    v128_t idx = wasm_u8x16_make(15, 0, 16, 200, 3, 3, 7, 1, 8, 9, 10, 11, 12, 13, 14, 255);
    print_bytes("swizzle", wasm_i8x16_swizzle(a, idx));
    print_bytes("shuffle", wasm_i8x16_shuffle(a, b, 0, 17, 2, 19, 4, 21, 6, 23, 31, 30, 29, 28, 1, 1, 1, 1));
    print_bytes("add_sat_s", wasm_i8x16_add_sat(a, a));
    print_bytes("sub_sat_u", wasm_u8x16_sub_sat(a, wasm_i8x16_splat(100)));
    print_bytes("avgr_u", wasm_u8x16_avgr(a, wasm_i8x16_splat(-1)));
    print_bytes("abs", wasm_i8x16_abs(a));
    print_bytes("popcnt", wasm_i8x16_popcnt(a));
    print_bytes("shl 9", wasm_i8x16_shl(a, 9));
    print_bytes("shr_s 3", wasm_i8x16_shr(a, 3));
    print_bytes("narrow_s", wasm_i8x16_narrow_i16x8(b, b));
    print_bytes("narrow_u", wasm_u8x16_narrow_i16x8(b, b));
    print_bytes("q15mulr", wasm_i16x8_q15mulr_sat(b, b));
    print_bytes("dot", wasm_i32x4_dot_i16x8(b, b));
    print_bytes("extmul_hi_u", wasm_u16x8_extmul_high_u8x16(a, a));
    print_bytes("extadd_s", wasm_i16x8_extadd_pairwise_i8x16(a));
    print_bytes("extend_lo_s", wasm_i32x4_extend_low_i16x8(b));
    print_bytes("cmp_gt_u", wasm_u8x16_gt(a, wasm_i8x16_splat(16)));
    printf("bitmask8       %04x\n", (unsigned)wasm_i8x16_bitmask(a));
    printf("bitmask16      %02x\n", (unsigned)wasm_i16x8_bitmask(b));
    printf("all_true       %d %d\n", wasm_i8x16_all_true(a), wasm_i8x16_all_true(wasm_i8x16_splat(1)));
    printf("any_true       %d %d\n", wasm_v128_any_true(a), wasm_v128_any_true(wasm_i64x2_splat(0)));
    printf("extract        %d %u %d\n", wasm_i8x16_extract_lane(a, 0), wasm_u8x16_extract_lane(a, 1),
           wasm_i16x8_extract_lane(b, 0));

    v128_t f = wasm_v128_load((const void *)srcf);
    v128_t g = wasm_f32x4_make(-0.0f, 0.0f, __builtin_nanf(""), -3.0f);
    print_bytes("f32 min", wasm_f32x4_min(f, g));
    print_bytes("f32 max", wasm_f32x4_max(f, g));
    print_bytes("f32 pmin", wasm_f32x4_pmin(f, g));
    print_bytes("f32 pmax", wasm_f32x4_pmax(f, g));
    print_bytes("f32 nearest", wasm_f32x4_nearest(f));
    print_bytes("trunc_sat_s", wasm_i32x4_trunc_sat_f32x4(f));
    print_bytes("trunc_sat_u", wasm_u32x4_trunc_sat_f32x4(f));
    print_bytes("convert_u", wasm_f32x4_convert_u32x4(wasm_i32x4_splat(-1)));
    v128_t d = wasm_v128_load((const void *)srcd);
    print_bytes("demote_zero", wasm_f32x4_demote_f64x2_zero(d));
    print_bytes("promote_low", wasm_f64x2_promote_low_f32x4(f));
    print_bytes("trunc_f64_u", wasm_u32x4_trunc_sat_f64x2_zero(d));
    print_bytes("cvt_low_u", wasm_f64x2_convert_low_u32x4(wasm_i32x4_splat(-2)));

    memcpy(memory, (const void *)src8, 16);
    print_bytes("load8x8_s", wasm_i16x8_load8x8(memory + 1));
    print_bytes("load32_zero", wasm_v128_load32_zero(memory + 3));
    print_bytes("load16_splat", wasm_v128_load16_splat(memory + 5));
    print_bytes("load64_lane", wasm_v128_load64_lane(memory + 7, a, 1));
    wasm_v128_store32_lane(memory + 40, b, 3);
    wasm_v128_store8_lane(memory + 45, a, 5);
    print_bytes("stored", wasm_v128_load(memory + 36));
    return 0;
}
