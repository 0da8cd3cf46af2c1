// Page fingerprint "ttj-fp2" (docs/native.md has the normative definition).
//
// 32 lanes of 32 bits in 8 groups of 4; group g holds lanes 4g..4g+3. Each
// 128-byte block of the page feeds its little-endian u32 words 4g..4g+3 to
// group g with the step
//     t[k] = rotl32(x[k] ^ w[k], 13) * 0x85EBCA77
//     x[k] = t[k] + 2 * t[(k + 1) mod 4]            (all mod 2^32)
// which is a bijection of the group's 128-bit state for fixed words (the
// cross-lane add is I + 2P, invertible mod 2^32) and of the words for a fixed
// state. The 8 group states are then absorbed one after another into a 128-bit
// final state with the same step, 4 more steps with zero words spread every
// lane into every other, and each lane goes through MurmurHash3's fmix32.
//
// AVX2: 4 ymm accumulators (8 lanes = 2 groups each) take a 128-byte block per
// iteration; vpshufd rotates lanes within each 128-bit half, which is exactly
// the group's "k + 1 mod 4". Portable: the same arithmetic on scalars.
#include "fingerprint.h"

#if (defined(__x86_64__) || defined(__i386__)) && !defined(TTJ_PORTABLE_ONLY)
#define TTJ_X86 1
#include <immintrin.h>
#else
#define TTJ_X86 0
#endif

#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace ttj {
namespace {

constexpr uint32_t kMul = 0x85EBCA77u;
constexpr uint32_t kFinalInit[4] = {0x243F6A88u, 0x85A308D3u, 0x13198A2Eu, 0x03707344u};

inline uint32_t rotl(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }
inline uint32_t fmix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85EBCA6Bu;
  h ^= h >> 13;
  h *= 0xC2B2AE35u;
  h ^= h >> 16;
  return h;
}
inline uint32_t load32(const uint8_t* p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

// One step of a 4-lane group with words w.
inline void step(uint32_t x[4], const uint32_t w[4]) {
  uint32_t t[4];
  for (int k = 0; k < 4; k++) t[k] = rotl(x[k] ^ w[k], 13) * kMul;
  for (int k = 0; k < 4; k++) x[k] = t[k] + (t[(k + 1) & 3] << 1);
}

void init_lanes(uint32_t lanes[32]) {
  for (int j = 0; j < 32; j++) lanes[j] = 0x9E3779B9u * (uint32_t)(j + 1);
}

void finish(const uint32_t lanes[32], size_t len, uint8_t out[16]) {
  uint32_t h[4];
  for (int k = 0; k < 4; k++) h[k] = kFinalInit[k] ^ (uint32_t)len;
  for (int g = 0; g < 8; g++) step(h, lanes + 4 * g);
  static const uint32_t zero[4] = {0, 0, 0, 0};
  for (int r = 0; r < 4; r++) step(h, zero);
  for (int k = 0; k < 4; k++) {
    const uint32_t v = fmix32(h[k]);
    out[4 * k] = (uint8_t)v;
    out[4 * k + 1] = (uint8_t)(v >> 8);
    out[4 * k + 2] = (uint8_t)(v >> 16);
    out[4 * k + 3] = (uint8_t)(v >> 24);
  }
}

void lanes_portable(const uint8_t* p, size_t len, uint32_t lanes[32]) {
  for (size_t off = 0; off + 128 <= len; off += 128) {
    for (int g = 0; g < 8; g++) {
      uint32_t w[4];
      for (int k = 0; k < 4; k++) w[k] = load32(p + off + 16 * g + 4 * k);
      step(lanes + 4 * g, w);
    }
  }
}

#if TTJ_X86
__attribute__((target("avx2"))) inline __m256i step_avx2(__m256i x, __m256i w) {
  const __m256i mul = _mm256_set1_epi32((int)kMul);
  __m256i t = _mm256_xor_si256(x, w);
  t = _mm256_or_si256(_mm256_slli_epi32(t, 13), _mm256_srli_epi32(t, 19));
  t = _mm256_mullo_epi32(t, mul);
  // lane k of each 128-bit half <- lane (k + 1) mod 4
  const __m256i next = _mm256_shuffle_epi32(t, _MM_SHUFFLE(0, 3, 2, 1));
  return _mm256_add_epi32(t, _mm256_slli_epi32(next, 1));
}

__attribute__((target("avx2"))) void lanes_avx2(const uint8_t* p, size_t len, uint32_t lanes[32]) {
  __m256i a0 = _mm256_loadu_si256((const __m256i*)(lanes + 0));
  __m256i a1 = _mm256_loadu_si256((const __m256i*)(lanes + 8));
  __m256i a2 = _mm256_loadu_si256((const __m256i*)(lanes + 16));
  __m256i a3 = _mm256_loadu_si256((const __m256i*)(lanes + 24));
  for (size_t off = 0; off + 128 <= len; off += 128) {
    // x86 is little-endian: the loaded u32 lanes are the little-endian words.
    a0 = step_avx2(a0, _mm256_loadu_si256((const __m256i*)(p + off)));
    a1 = step_avx2(a1, _mm256_loadu_si256((const __m256i*)(p + off + 32)));
    a2 = step_avx2(a2, _mm256_loadu_si256((const __m256i*)(p + off + 64)));
    a3 = step_avx2(a3, _mm256_loadu_si256((const __m256i*)(p + off + 96)));
  }
  _mm256_storeu_si256((__m256i*)(lanes + 0), a0);
  _mm256_storeu_si256((__m256i*)(lanes + 8), a1);
  _mm256_storeu_si256((__m256i*)(lanes + 16), a2);
  _mm256_storeu_si256((__m256i*)(lanes + 24), a3);
}

// Two pages at once: the same arithmetic as lanes_avx2 on each, interleaved so the
// multiply latency of one page's chains hides behind the other's.
__attribute__((target("avx2"))) void lanes_avx2_pair(const uint8_t* p, const uint8_t* q, size_t len, uint32_t lp[32], uint32_t lq[32]) {
  __m256i a[4], b[4];
  for (int i = 0; i < 4; i++) {
    a[i] = _mm256_loadu_si256((const __m256i*)(lp + 8 * i));
    b[i] = _mm256_loadu_si256((const __m256i*)(lq + 8 * i));
  }
  // Hardware prefetchers stop at 4 KiB boundaries: ask for the pages two and
  // three after q (the pair after next, on a run of non-zero pages) meanwhile.
  // A prefetch never faults, also beyond the buffer; uintptr_t keeps it defined.
  const uintptr_t ahead = (uintptr_t)q + 2 * len;
  for (size_t off = 0; off + 128 <= len; off += 128) {
    _mm_prefetch((const char*)(ahead + off), _MM_HINT_T0);
    _mm_prefetch((const char*)(ahead + off + 64), _MM_HINT_T0);
    _mm_prefetch((const char*)(ahead + len + off), _MM_HINT_T0);
    _mm_prefetch((const char*)(ahead + len + off + 64), _MM_HINT_T0);
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
      a[i] = step_avx2(a[i], _mm256_loadu_si256((const __m256i*)(p + off + 32 * i)));
      b[i] = step_avx2(b[i], _mm256_loadu_si256((const __m256i*)(q + off + 32 * i)));
    }
  }
  for (int i = 0; i < 4; i++) {
    _mm256_storeu_si256((__m256i*)(lp + 8 * i), a[i]);
    _mm256_storeu_si256((__m256i*)(lq + 8 * i), b[i]);
  }
}

__attribute__((target("avx2"))) bool is_zero_avx2(const uint8_t* p, size_t len) {
  size_t i = 0;
  const uintptr_t ahead = (uintptr_t)p + 2 * len;  // as in lanes_avx2_pair
  for (; i + 128 <= len; i += 128) {
    _mm_prefetch((const char*)(ahead + i), _MM_HINT_T0);
    _mm_prefetch((const char*)(ahead + i + 64), _MM_HINT_T0);
    __m256i v = _mm256_or_si256(_mm256_or_si256(_mm256_loadu_si256((const __m256i*)(p + i)), _mm256_loadu_si256((const __m256i*)(p + i + 32))),
                                _mm256_or_si256(_mm256_loadu_si256((const __m256i*)(p + i + 64)), _mm256_loadu_si256((const __m256i*)(p + i + 96))));
    if (!_mm256_testz_si256(v, v)) return false;
  }
  for (; i < len; i++)
    if (p[i]) return false;
  return true;
}

#endif  // TTJ_X86

bool is_zero_portable(const uint8_t* p, size_t len) {
  size_t i = 0;
  for (; i + 64 <= len; i += 64) {
    uint64_t w[8], acc = 0;
    memcpy(w, p + i, 64);
    for (int k = 0; k < 8; k++) acc |= w[k];
    if (acc) return false;
  }
  for (; i < len; i++)
    if (p[i]) return false;
  return true;
}

bool detect_avx2() {
#if TTJ_X86
  if (getenv("TTJ_NO_AVX2")) return false;
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2");
#else
  return false;
#endif
}

const bool kAvx2 = detect_avx2();

}  // namespace

const char* fingerprint_simd() { return kAvx2 ? "avx2" : "portable"; }

bool page_is_zero(const uint8_t* p, size_t len) {
#if TTJ_X86
  if (kAvx2) return is_zero_avx2(p, len);
#endif
  return is_zero_portable(p, len);
}

bool page_fingerprint(const uint8_t* p, size_t len, uint8_t out[16]) {
  if (page_is_zero(p, len)) {
    memset(out, 0, 16);
    return true;
  }
  uint32_t lanes[32];
  init_lanes(lanes);
#if TTJ_X86
  if (kAvx2)
    lanes_avx2(p, len, lanes);
  else
#endif
    lanes_portable(p, len, lanes);
  finish(lanes, len, out);
  return false;
}

void fingerprint_pages(const uint8_t* buf, size_t len, size_t first, size_t last, uint8_t* fps, uint8_t* zero) {
#if TTJ_X86
  if (!kAvx2)
#endif
  {
    for (size_t i = first; i < last; i++) zero[i] = page_fingerprint(buf + i * len, len, fps + 16 * i);
    return;
  }
#if TTJ_X86
  size_t pending = SIZE_MAX;  // a non-zero page waiting for a partner
  for (size_t i = first; i < last; i++) {
    const uint8_t* p = buf + i * len;
    if (is_zero_avx2(p, len)) {
      memset(fps + 16 * i, 0, 16);
      zero[i] = 1;
      continue;
    }
    zero[i] = 0;
    if (pending == SIZE_MAX) {
      pending = i;
      continue;
    }
    uint32_t lp[32], lq[32];
    init_lanes(lp);
    init_lanes(lq);
    lanes_avx2_pair(buf + pending * len, p, len, lp, lq);
    finish(lp, len, fps + 16 * pending);
    finish(lq, len, fps + 16 * i);
    pending = SIZE_MAX;
  }
  if (pending != SIZE_MAX) page_fingerprint(buf + pending * len, len, fps + 16 * pending);
#endif
}

}  // namespace ttj
