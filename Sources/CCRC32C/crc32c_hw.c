#include "crc32c_hw.h"
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#include <pthread.h>

int tidemark_crc32c_hw_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2") ? 1 : 0;
}

/* The crc32 instruction has a latency of 3 cycles and a throughput of 1: one dependent stream
   runs at a third of its speed. Long buffers are split into three blocks computed side by side,
   then joined by shifting the first ones' registers over the zeros of the blocks after them
   (the register is linear over GF(2); the shift is a table lookup per byte of the register).
   Mark Adler's crc32c.c (zlib licence) is the method. */
#define CRC32C_POLY 0x82F63B78u
#define CRC32C_LONG 8192
#define CRC32C_SHORT 256

static uint32_t crc32c_long[4][256];
static uint32_t crc32c_short[4][256];
static pthread_once_t crc32c_tables_once = PTHREAD_ONCE_INIT;

static uint32_t gf2_matrix_times(const uint32_t *mat, uint32_t vec) {
    uint32_t sum = 0;
    while (vec) {
        if (vec & 1) sum ^= *mat;
        vec >>= 1;
        mat++;
    }
    return sum;
}

static void gf2_matrix_square(uint32_t *square, const uint32_t *mat) {
    for (int n = 0; n < 32; n++) square[n] = gf2_matrix_times(mat, mat[n]);
}

/* The operator that appends `length` zero bytes (a power of two) to a raw register. */
static void crc32c_zeros_op(uint32_t *even, size_t length) {
    uint32_t odd[32];
    odd[0] = CRC32C_POLY; /* one zero bit */
    uint32_t row = 1;
    for (int n = 1; n < 32; n++) {
        odd[n] = row;
        row <<= 1;
    }
    gf2_matrix_square(even, odd); /* two zero bits */
    gf2_matrix_square(odd, even); /* four */
    do {
        gf2_matrix_square(even, odd); /* one byte, then four, sixteen, ... */
        length >>= 1;
        if (length == 0) return;
        gf2_matrix_square(odd, even);
        length >>= 1;
    } while (length);
    for (int n = 0; n < 32; n++) even[n] = odd[n];
}

static void crc32c_zeros(uint32_t zeros[][256], size_t length) {
    uint32_t op[32];
    crc32c_zeros_op(op, length);
    for (uint32_t n = 0; n < 256; n++) {
        zeros[0][n] = gf2_matrix_times(op, n);
        zeros[1][n] = gf2_matrix_times(op, n << 8);
        zeros[2][n] = gf2_matrix_times(op, n << 16);
        zeros[3][n] = gf2_matrix_times(op, n << 24);
    }
}

static void crc32c_make_tables(void) {
    crc32c_zeros(crc32c_long, CRC32C_LONG);
    crc32c_zeros(crc32c_short, CRC32C_SHORT);
}

static inline uint32_t crc32c_shift(uint32_t zeros[][256], uint32_t crc) {
    return zeros[0][crc & 0xff] ^ zeros[1][(crc >> 8) & 0xff] ^ zeros[2][(crc >> 16) & 0xff] ^ zeros[3][crc >> 24];
}

static inline uint64_t load64(const uint8_t *data) {
    uint64_t word;
    memcpy(&word, data, 8); /* unaligned-safe load */
    return word;
}

/* Three blocks of `block` bytes at a time while they fit, joined with `zeros`. */
__attribute__((target("sse4.2")))
static uint64_t crc32c_three_way(uint64_t c, const uint8_t **data, size_t *length, size_t block, uint32_t zeros[][256]) {
    while (*length >= 3 * block) {
        const uint8_t *next = *data;
        const uint8_t *end = next + block;
        uint64_t c1 = 0, c2 = 0;
        do {
            c = _mm_crc32_u64(c, load64(next));
            c1 = _mm_crc32_u64(c1, load64(next + block));
            c2 = _mm_crc32_u64(c2, load64(next + 2 * block));
            next += 8;
        } while (next < end);
        c = crc32c_shift(zeros, (uint32_t)c) ^ (uint32_t)c1;
        c = crc32c_shift(zeros, (uint32_t)c) ^ (uint32_t)c2;
        *data += 3 * block;
        *length -= 3 * block;
    }
    return c;
}

__attribute__((target("sse4.2")))
uint32_t tidemark_crc32c_hw_update(uint32_t crc, const uint8_t *data, size_t length) {
    uint64_t c = crc;
    if (length >= 3 * CRC32C_SHORT) {
        pthread_once(&crc32c_tables_once, crc32c_make_tables);
        c = crc32c_three_way(c, &data, &length, CRC32C_LONG, crc32c_long);
        c = crc32c_three_way(c, &data, &length, CRC32C_SHORT, crc32c_short);
    }
    while (length >= 8) {
        c = _mm_crc32_u64(c, load64(data));
        data += 8;
        length -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (length > 0) {
        c32 = _mm_crc32_u8(c32, *data++);
        length--;
    }
    return c32;
}
#else
int tidemark_crc32c_hw_available(void) { return 0; }
uint32_t tidemark_crc32c_hw_update(uint32_t crc, const uint8_t *data, size_t length) {
    (void)data; (void)length;
    return crc;
}
#endif
