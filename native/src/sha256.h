// SHA-256 of byte ranges: SHA-NI when the CPU has it, portable C otherwise.
#pragma once
#include <cstddef>
#include <cstdint>

namespace ttj {
bool sha_ni_available();
void sha256(const uint8_t* data, size_t len, uint8_t out[32]);
// Two messages of the same length at once (faster than two calls with SHA-NI).
void sha256_x2(const uint8_t* a, const uint8_t* b, size_t len, uint8_t outA[32], uint8_t outB[32]);
}  // namespace ttj
