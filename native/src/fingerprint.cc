// Page fingerprint (docs/native.md): 8 lanes of 32 bits, lane j starts at
// 0x9E3779B9 * (j + 1); word i (little-endian u32) goes into lane i mod 8 as
// lane = rotl(lane ^ word, 13) * 0x85EBCA77; then out[k] = fmix32(lane[k] ^
// rotl(lane[k + 4], 16) ^ byte length) for k = 0..3. All-zero pages give 16 zero bytes.
#include "fingerprint.h"

#include <cstring>

namespace ttj {
namespace {
inline uint32_t rotl(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }
inline uint32_t fmix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85EBCA6Bu;
  h ^= h >> 13;
  h *= 0xC2B2AE35u;
  h ^= h >> 16;
  return h;
}
}  // namespace

__attribute__((target_clones("avx2", "default"))) bool page_is_zero(const uint8_t* p, size_t len) {
  uint64_t acc = 0;
  for (size_t i = 0; i + 8 <= len; i += 8) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    acc |= w;
  }
  return acc == 0;
}

__attribute__((target_clones("avx2", "default"))) void page_fingerprint(const uint8_t* p, size_t len, uint8_t out[16]) {
  if (page_is_zero(p, len)) {
    memset(out, 0, 16);
    return;
  }
  uint32_t lane[8];
  for (int j = 0; j < 8; j++) lane[j] = 0x9E3779B9u * (uint32_t)(j + 1);
  const size_t words = len / 4;
  for (size_t i = 0; i + 8 <= words; i += 8) {
    uint32_t w[8];
    memcpy(w, p + 4 * i, 32);
    for (int j = 0; j < 8; j++) lane[j] = rotl(lane[j] ^ w[j], 13) * 0x85EBCA77u;
  }
  for (int k = 0; k < 4; k++) {
    const uint32_t v = fmix32(lane[k] ^ rotl(lane[k + 4], 16) ^ (uint32_t)len);
    out[4 * k] = v;
    out[4 * k + 1] = v >> 8;
    out[4 * k + 2] = v >> 16;
    out[4 * k + 3] = v >> 24;
  }
}

}  // namespace ttj
