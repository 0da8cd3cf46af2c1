// The page fingerprint of docs/native.md ("ttj-fp2"): a fast 128-bit
// non-cryptographic hash of a page, identical to src/native/fallback.ts.
#pragma once
#include <cstddef>
#include <cstdint>

namespace ttj {
// Version of the fingerprint definition; src/native/load.ts refuses an addon
// built with another one (its fingerprints would differ from the fallback's).
constexpr int kFingerprintVersion = 2;
// True when all `len` bytes at p are zero (stops at the first non-zero byte).
bool page_is_zero(const uint8_t* p, size_t len);
// Writes the 16-byte fingerprint of a page (len a multiple of 128, at least 128);
// all zero for a zero page. Returns true when the page is all zero.
bool page_fingerprint(const uint8_t* p, size_t len, uint8_t out[16]);
// Fingerprints pages [first, last) of buf (page size len): fps gets 16 bytes per
// page at 16 * i, zero[i] is set to 1 for an all-zero page and 0 otherwise.
// The same results as page_fingerprint page by page, but with AVX2 two non-zero
// pages are hashed interleaved (8 independent dependency chains instead of 4).
void fingerprint_pages(const uint8_t* buf, size_t len, size_t first, size_t last, uint8_t* fps, uint8_t* zero);
// "avx2" or "portable": the code page_fingerprint runs on (TTJ_NO_AVX2=1 forces portable).
const char* fingerprint_simd();
}  // namespace ttj
