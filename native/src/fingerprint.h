// The page fingerprint of docs/native.md: a fast 128-bit non-cryptographic hash.
#pragma once
#include <cstddef>
#include <cstdint>

namespace ttj {
// True when the page is all zero.
bool page_is_zero(const uint8_t* p, size_t len);
// Writes the 16-byte fingerprint of a page (len a multiple of 32); all zero for a zero page.
void page_fingerprint(const uint8_t* p, size_t len, uint8_t out[16]);
}  // namespace ttj
