// A guest's RAM file (QEMU's memory-backend-file) scanned and read where it is, so
// that ttj record never holds a copy of the whole RAM (src/native/ram-file.ts):
//
//   scanFileAsync(fd, size, pageSize, prev)  fingerprints every page of the file's first
//       `size` bytes, read with pread into a small buffer per thread (split across the
//       cores; holes, found with SEEK_DATA/SEEK_HOLE, are zero pages not read); resolves to { fingerprints, dirty, zero } exactly as scanPages of the
//       same bytes would. Rejects when the file is shorter than `size`, or on an error.
//   readPagesAsync(fd, pageSize, pfns, out)  reads pages pfns one after another into
//       out (runs of consecutive pfns in one pread each); resolves to out.
//
// Arguments are validated in TypeScript first, and again here (a TypeError).
#include "ram-file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "fingerprint.h"

namespace ttj {
namespace {

// Bytes a thread reads at a time: small enough to stay in its cache for the fingerprints.
constexpr size_t kChunk = 1u << 20;

// Reads exactly len bytes at pos; returns 0, or an errno (ENODATA at the end of the file).
int ReadFully(int fd, uint8_t* dst, size_t len, int64_t pos) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = pread(fd, dst + done, len - done, pos + (int64_t)done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return ENODATA;
    done += (size_t)n;
  }
  return 0;
}

// 1 for each page of the file's first `pages` pages that may hold data, 0 for a page
// inside a hole (SEEK_HOLE: a tmpfs page the guest never touched reads as zero and is
// not read at all). All 1 where the file system cannot tell.
std::vector<uint8_t> DataPages(int fd, size_t ps, size_t pages) {
  const off_t end = (off_t)(pages * ps);
  std::vector<uint8_t> data(pages, 0);
  for (off_t pos = 0; pos < end;) {
    const off_t d = lseek(fd, pos, SEEK_DATA);
    if (d < 0) {
      if (errno == ENXIO) break;  // no data after pos
      std::fill(data.begin() + (ptrdiff_t)(pos / (off_t)ps), data.end(), 1);
      break;
    }
    if (d >= end) break;
    off_t h = lseek(fd, d, SEEK_HOLE);
    if (h < 0 || h > end) h = end;
    // Whole pages touched by [d, h).
    std::fill(data.begin() + (ptrdiff_t)(d / (off_t)ps), data.begin() + (ptrdiff_t)((h + (off_t)ps - 1) / (off_t)ps), 1);
    pos = std::max(h, d + 1);
  }
  return data;
}

unsigned ThreadsFor(size_t bytes) {
  const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  return bytes >= (16u << 20) ? std::min(hw, 8u) : 1;
}

// Runs fn(t, first, last) over [0, n) split across threads; returns the first non-zero result.
template <typename F>
int Split(size_t n, unsigned threads, F fn) {
  threads = (unsigned)std::max<size_t>(1, std::min<size_t>(threads, n));
  std::vector<int> errs(threads, 0);
  std::vector<std::thread> ts;
  const size_t per = (n + threads - 1) / threads;
  for (unsigned t = 1; t < threads; t++) {
    const size_t a = t * per, b = std::min(n, a + per);
    if (a < b) ts.emplace_back([&, t, a, b] { errs[t] = fn(a, b); });
  }
  errs[0] = fn(0, std::min(n, per));
  for (auto& t : ts) t.join();
  for (int e : errs)
    if (e) return e;
  return 0;
}

std::string ErrnoText(const char* what, int e) {
  if (e == ENODATA) return std::string(what) + ": the file is shorter than expected";
  return std::string(what) + ": " + strerror(e);
}

bool GetU8(Napi::Env env, const Napi::Value& v, uint8_t** data, size_t* len, const char* what) {
  if (v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
    auto u8 = v.As<Napi::Uint8Array>();
    if (u8.ByteLength() != 0 || !u8.ArrayBuffer().IsDetached()) {
      *data = u8.Data();
      *len = u8.ByteLength();
      return true;
    }
  }
  Napi::TypeError::New(env, std::string(what) + " must be a Buffer or Uint8Array (not detached)").ThrowAsJavaScriptException();
  return false;
}

bool GetFdAndPageSize(const Napi::CallbackInfo& info, int* fd, size_t* ps, size_t psArg) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber() || info[0].As<Napi::Number>().DoubleValue() < 0) {
    Napi::TypeError::New(env, "fd must be a non-negative integer").ThrowAsJavaScriptException();
    return false;
  }
  *fd = info[0].As<Napi::Number>().Int32Value();
  const double d = info[psArg].IsNumber() ? info[psArg].As<Napi::Number>().DoubleValue() : 0;
  const bool inRange = d >= 512 && d <= (double)(1u << 20);
  const size_t n = inRange ? (size_t)d : 0;
  if (!inRange || d != (double)n || (n & (n - 1))) {
    Napi::TypeError::New(env, "pageSize must be a power of two from 512 to 1048576").ThrowAsJavaScriptException();
    return false;
  }
  *ps = n;
  return true;
}

class FileScanWorker : public Napi::AsyncWorker {
 public:
  FileScanWorker(Napi::Env env, int fd, size_t ps, size_t pages, const uint8_t* prev, Napi::Value prevV)
      : Napi::AsyncWorker(env), fd_(fd), ps_(ps), pages_(pages), prev_(prev), deferred_(Napi::Promise::Deferred::New(env)) {
    if (prev) prevRef_ = Napi::Persistent(prevV.As<Napi::Object>());
    auto fps = Napi::Buffer<uint8_t>::New(env, pages * 16);
    fps_ = fps.Data();
    fpsRef_ = Napi::Persistent(fps.As<Napi::Object>());
  }
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    struct stat st;
    if (fstat(fd_, &st) != 0) return SetError(ErrnoText("reading the RAM file", errno));
    if ((uint64_t)st.st_size < (uint64_t)pages_ * ps_) return SetError(ErrnoText("reading the RAM file", ENODATA));
    std::vector<uint8_t> isZero(pages_);
    const std::vector<uint8_t> data = DataPages(fd_, ps_, pages_);
    const size_t per = std::max<size_t>(1, kChunk / ps_);
    // Threads for the bytes to read (a mostly untouched RAM file is scanned on this one).
    const size_t dataPages = (size_t)std::count(data.begin(), data.end(), (uint8_t)1);
    const int e = Split(pages_, ThreadsFor(dataPages * ps_), [&](size_t a, size_t b) -> int {
      std::vector<uint8_t> buf(std::min(per, b - a) * ps_);
      for (size_t p = a; p < b;) {
        if (!data[p]) {  // a hole: zero, not read
          memset(fps_ + 16 * p, 0, 16);
          isZero[p++] = 1;
          continue;
        }
        size_t n = 1;
        while (n < per && p + n < b && data[p + n]) n++;
        if (int err = ReadFully(fd_, buf.data(), n * ps_, (int64_t)(p * ps_))) return err;
        // fingerprint_pages indexes pages from the buffer's start: its outputs are offset to match.
        ttj::fingerprint_pages(buf.data(), ps_, 0, n, fps_ + 16 * p, isZero.data() + p);
        p += n;
      }
      return 0;
    });
    if (e) return SetError(ErrnoText("reading the RAM file", e));
    for (size_t i = 0; i < pages_; i++) {
      if (prev_ && memcmp(fps_ + 16 * i, prev_ + 16 * i, 16) == 0) continue;
      dirty_.push_back((uint32_t)i);
      if (isZero[i]) zero_.push_back((uint32_t)i);
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (prev_ && prevRef_.Value().As<Napi::TypedArray>().ArrayBuffer().IsDetached()) {
      deferred_.Reject(Napi::Error::New(env, "prev was detached (transferred) during the scan").Value());
      return;
    }
    auto obj = Napi::Object::New(env);
    obj.Set("fingerprints", fpsRef_.Value());
    auto dirty = Napi::Uint32Array::New(env, dirty_.size());
    if (!dirty_.empty()) memcpy(dirty.Data(), dirty_.data(), dirty_.size() * 4);
    auto zero = Napi::Uint32Array::New(env, zero_.size());
    if (!zero_.empty()) memcpy(zero.Data(), zero_.data(), zero_.size() * 4);
    obj.Set("dirty", dirty);
    obj.Set("zero", zero);
    deferred_.Resolve(obj);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  int fd_;
  size_t ps_, pages_;
  const uint8_t* prev_;
  uint8_t* fps_ = nullptr;
  std::vector<uint32_t> dirty_, zero_;
  Napi::ObjectReference prevRef_, fpsRef_;
  Napi::Promise::Deferred deferred_;
};

// scanFileAsync(fd, size, pageSize, prev?)
Napi::Value ScanFileAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  size_t ps;
  if (!GetFdAndPageSize(info, &fd, &ps, 2)) return env.Undefined();
  const double size = info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : -1;
  if (!(size >= 0) || size > 9007199254740991.0 || size != (double)(uint64_t)size || (uint64_t)size % ps) {
    Napi::TypeError::New(env, "size must be a whole number of pages").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const size_t pages = (size_t)size / ps;
  uint8_t* prev = nullptr;
  size_t prevLen = 0;
  if (info.Length() > 3 && !info[3].IsNull() && !info[3].IsUndefined()) {
    if (!GetU8(env, info[3], &prev, &prevLen, "prev")) return env.Undefined();
    if (prevLen != pages * 16) {
      Napi::TypeError::New(env, "prev must be 16 bytes per page").ThrowAsJavaScriptException();
      return env.Undefined();
    }
  }
  auto* w = new FileScanWorker(env, fd, ps, pages, prev, prev ? info[3] : env.Undefined());
  auto p = w->Promise();
  w->Queue();
  return p;
}

class ReadPagesWorker : public Napi::AsyncWorker {
 public:
  ReadPagesWorker(Napi::Env env, int fd, size_t ps, std::vector<uint32_t> pfns, uint8_t* out, Napi::Value outV)
      : Napi::AsyncWorker(env), fd_(fd), ps_(ps), pfns_(std::move(pfns)), out_(out), deferred_(Napi::Promise::Deferred::New(env)) {
    outRef_ = Napi::Persistent(outV.As<Napi::Object>());
  }
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    const int e = Split(pfns_.size(), ThreadsFor(pfns_.size() * ps_), [&](size_t a, size_t b) -> int {
      for (size_t i = a; i < b;) {
        size_t j = i + 1;
        while (j < b && pfns_[j] == pfns_[j - 1] + 1) j++;
        if (int err = ReadFully(fd_, out_ + i * ps_, (j - i) * ps_, (int64_t)pfns_[i] * (int64_t)ps_)) return err;
        i = j;
      }
      return 0;
    });
    if (e) SetError(ErrnoText("reading pages of the RAM file", e));
  }
  void OnOK() override {
    if (outRef_.Value().As<Napi::TypedArray>().ArrayBuffer().IsDetached())
      deferred_.Reject(Napi::Error::New(Env(), "out was detached (transferred) during the read").Value());
    else
      deferred_.Resolve(outRef_.Value());
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  int fd_;
  size_t ps_;
  std::vector<uint32_t> pfns_;
  uint8_t* out_;
  Napi::ObjectReference outRef_;
  Napi::Promise::Deferred deferred_;
};

// readPagesAsync(fd, pageSize, pfns, out)
Napi::Value ReadPagesAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  size_t ps;
  if (!GetFdAndPageSize(info, &fd, &ps, 1)) return env.Undefined();
  if (!info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) {
    Napi::TypeError::New(env, "pfns must be a Uint32Array").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto pf = info[2].As<Napi::Uint32Array>();
  std::vector<uint32_t> pfns(pf.Data(), pf.Data() + pf.ElementLength());
  uint8_t* out;
  size_t outLen;
  if (!GetU8(env, info[3], &out, &outLen, "out")) return env.Undefined();
  if (outLen < pfns.size() * ps) {
    Napi::TypeError::New(env, "out is too small").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* w = new ReadPagesWorker(env, fd, ps, std::move(pfns), out, info[3]);
  auto p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace

void InitRamFile(Napi::Env env, Napi::Object exports) {
  exports.Set("scanFileAsync", Napi::Function::New(env, ScanFileAsync));
  exports.Set("readPagesAsync", Napi::Function::New(env, ReadPagesAsync));
}

}  // namespace ttj
