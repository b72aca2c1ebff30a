#ifndef TIDEMARK_CRC32C_HW_H
#define TIDEMARK_CRC32C_HW_H
#include <stddef.h>
#include <stdint.h>

/// 1 when the CPU has the SSE4.2 CRC32 instruction, else 0.
int tidemark_crc32c_hw_available(void);

/// Raw CRC32C update (no pre/post inversion) using the SSE4.2 `crc32` instruction.
/// Only call when tidemark_crc32c_hw_available() returned 1.
uint32_t tidemark_crc32c_hw_update(uint32_t crc, const uint8_t *data, size_t length);

#endif
