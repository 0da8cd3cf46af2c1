// ttj's native page scanner (N-API, node-addon-api). Thin: arguments are validated
// in TypeScript (src/native/) and again here, where a bad one is a TypeError.
#include <napi.h>

#include <fcntl.h>
#include <unistd.h>
#include <cstdlib>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include "fingerprint.h"
#include "sha256.h"
#include "ram-file.h"
#include "socket-pump.h"

namespace {

struct Bytes {
  uint8_t* data = nullptr;
  size_t len = 0;
};

// A view whose ArrayBuffer was transferred (structuredClone / postMessage with
// transfer) reads as length 0; it is refused rather than scanned as empty.
bool ViewDetached(const Napi::TypedArray& ta) {
  if (ta.ByteLength() != 0) return false;
  return ta.ArrayBuffer().IsDetached();
}

bool GetBytes(Napi::Env env, const Napi::Value& v, Bytes* out, const char* what) {
  if (v.IsTypedArray()) {
    auto ta = v.As<Napi::TypedArray>();
    if (ta.TypedArrayType() == napi_uint8_array) {
      if (ViewDetached(ta)) {
        Napi::TypeError::New(env, std::string(what) + " is detached (its ArrayBuffer was transferred)").ThrowAsJavaScriptException();
        return false;
      }
      auto u8 = ta.As<Napi::Uint8Array>();
      out->data = u8.Data();
      out->len = u8.ByteLength();
      return true;
    }
  }
  Napi::TypeError::New(env, std::string(what) + " must be a Buffer or Uint8Array").ThrowAsJavaScriptException();
  return false;
}

bool GetPageSize(Napi::Env env, const Napi::Value& v, size_t* ps) {
  if (!v.IsNumber()) {
    Napi::TypeError::New(env, "pageSize must be a number").ThrowAsJavaScriptException();
    return false;
  }
  const double d = v.As<Napi::Number>().DoubleValue();
  // Range first: casting NaN, a negative or a huge double to size_t is undefined.
  const bool inRange = d >= 512 && d <= (double)(1u << 20);
  const size_t n = inRange ? (size_t)d : 0;
  if (!inRange || d != (double)n || (n & (n - 1))) {
    Napi::TypeError::New(env, "pageSize must be a power of two from 512 to 1048576").ThrowAsJavaScriptException();
    return false;
  }
  *ps = n;
  return true;
}

unsigned Threads(size_t pages) {
  const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  return pages >= 4096 ? std::min(hw, 8u) : 1;
}

// Runs fn(first, last) over [0, n) split across threads.
template <typename F>
void Parallel(size_t n, unsigned threads, F fn) {
  if (threads <= 1 || n < 2) return fn(0, n);
  std::vector<std::thread> ts;
  const size_t per = (n + threads - 1) / threads;
  for (unsigned t = 1; t < threads; t++) {
    const size_t a = t * per, b = std::min(n, a + per);
    if (a < b) ts.emplace_back(fn, a, b);
  }
  fn(0, std::min(n, per));
  for (auto& t : ts) t.join();
}

// The fingerprints go straight into the JS Buffer that is returned (allocated on
// the JS thread before the scan, referenced until it is done).
struct ScanResult {
  uint8_t* fps = nullptr;
  std::vector<uint32_t> dirty, zero;
};

// Fingerprints every page (split across threads), then lists dirty and zero pages.
void DoScan(const uint8_t* buf, size_t ps, size_t pages, const uint8_t* prev, ScanResult* r) {
  std::vector<uint8_t> isZero(pages);
  uint8_t* fps = r->fps;
  uint8_t* zf = isZero.data();
  Parallel(pages, Threads(pages), [&](size_t a, size_t b) {
    ttj::fingerprint_pages(buf, ps, a, b, fps, zf);
  });
  for (size_t i = 0; i < pages; i++) {
    if (prev && memcmp(fps + 16 * i, prev + 16 * i, 16) == 0) continue;
    r->dirty.push_back((uint32_t)i);
    if (zf[i]) r->zero.push_back((uint32_t)i);
  }
}

Napi::Object ScanToJs(Napi::Env env, ScanResult& r, Napi::Value fingerprints) {
  auto obj = Napi::Object::New(env);
  obj.Set("fingerprints", fingerprints);
  auto dirty = Napi::Uint32Array::New(env, r.dirty.size());
  if (!r.dirty.empty()) memcpy(dirty.Data(), r.dirty.data(), r.dirty.size() * 4);
  auto zero = Napi::Uint32Array::New(env, r.zero.size());
  if (!r.zero.empty()) memcpy(zero.Data(), r.zero.data(), r.zero.size() * 4);
  obj.Set("dirty", dirty);
  obj.Set("zero", zero);
  return obj;
}

struct ScanArgs {
  Bytes buf, prev;
  size_t ps = 0, pages = 0;
  bool hasPrev = false;
};

bool ParseScan(const Napi::CallbackInfo& info, ScanArgs* a) {
  Napi::Env env = info.Env();
  if (!GetBytes(env, info[0], &a->buf, "buffer") || !GetPageSize(env, info[1], &a->ps)) return false;
  if (a->buf.len % a->ps) {
    Napi::TypeError::New(env, "buffer length must be a multiple of pageSize").ThrowAsJavaScriptException();
    return false;
  }
  a->pages = a->buf.len / a->ps;
  if (info.Length() > 2 && !info[2].IsNull() && !info[2].IsUndefined()) {
    if (!GetBytes(env, info[2], &a->prev, "prev")) return false;
    if (a->prev.len != a->pages * 16) {
      Napi::TypeError::New(env, "prev must be 16 bytes per page").ThrowAsJavaScriptException();
      return false;
    }
    a->hasPrev = true;
  }
  return true;
}

Napi::Value ScanPages(const Napi::CallbackInfo& info) {
  ScanArgs a;
  if (!ParseScan(info, &a)) return info.Env().Undefined();
  auto fps = Napi::Buffer<uint8_t>::New(info.Env(), a.pages * 16);
  ScanResult r;
  r.fps = fps.Data();
  DoScan(a.buf.data, a.ps, a.pages, a.hasPrev ? a.prev.data : nullptr, &r);
  return ScanToJs(info.Env(), r, fps);
}

struct HashArgs {
  Bytes buf;
  size_t ps = 0;
  std::vector<uint32_t> pfns;
};

bool ParseHash(const Napi::CallbackInfo& info, HashArgs* a) {
  Napi::Env env = info.Env();
  if (!GetBytes(env, info[0], &a->buf, "buffer") || !GetPageSize(env, info[1], &a->ps)) return false;
  if (!info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) {
    Napi::TypeError::New(env, "pfns must be a Uint32Array").ThrowAsJavaScriptException();
    return false;
  }
  auto pf = info[2].As<Napi::Uint32Array>();
  if (ViewDetached(pf)) {
    Napi::TypeError::New(env, "pfns is detached (its ArrayBuffer was transferred)").ThrowAsJavaScriptException();
    return false;
  }
  const size_t pages = a->buf.len / a->ps;
  a->pfns.assign(pf.Data(), pf.Data() + pf.ElementLength());
  for (uint32_t p : a->pfns) {
    if (p >= pages) {
      Napi::RangeError::New(env, "pfn " + std::to_string(p) + " is beyond the buffer").ThrowAsJavaScriptException();
      return false;
    }
  }
  return true;
}

void DoHash(const uint8_t* buf, size_t ps, const std::vector<uint32_t>& pfns, uint8_t* out) {
  Parallel(pfns.size(), Threads(pfns.size()), [&](size_t a, size_t b) {
    size_t i = a;
    for (; i + 1 < b; i += 2) ttj::sha256_x2(buf + (size_t)pfns[i] * ps, buf + (size_t)pfns[i + 1] * ps, ps, out + 32 * i, out + 32 * (i + 1));
    if (i < b) ttj::sha256(buf + (size_t)pfns[i] * ps, ps, out + 32 * i);
  });
}

Napi::Value Sha256Pages(const Napi::CallbackInfo& info) {
  HashArgs a;
  if (!ParseHash(info, &a)) return info.Env().Undefined();
  auto out = Napi::Buffer<uint8_t>::New(info.Env(), a.pfns.size() * 32);
  DoHash(a.buf.data, a.ps, a.pfns, out.Data());
  return out;
}

// sha256Ranges(buf, offsets: Uint32Array, lengths: Uint32Array): 32 bytes per range.
Napi::Value Sha256Ranges(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes buf;
  if (!GetBytes(env, info[0], &buf, "buffer")) return env.Undefined();
  for (int k = 1; k <= 2; k++) {
    if (!info[k].IsTypedArray() || info[k].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) {
      Napi::TypeError::New(env, "offsets and lengths must be Uint32Arrays").ThrowAsJavaScriptException();
      return env.Undefined();
    }
  }
  auto off = info[1].As<Napi::Uint32Array>();
  auto len = info[2].As<Napi::Uint32Array>();
  if (ViewDetached(off) || ViewDetached(len)) {
    Napi::TypeError::New(env, "offsets or lengths is detached").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (off.ElementLength() != len.ElementLength()) {
    Napi::TypeError::New(env, "offsets and lengths must have the same length").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const size_t n = off.ElementLength();
  for (size_t i = 0; i < n; i++) {
    if ((size_t)off[i] + len[i] > buf.len) {
      Napi::RangeError::New(env, "a range is beyond the buffer").ThrowAsJavaScriptException();
      return env.Undefined();
    }
  }
  auto out = Napi::Buffer<uint8_t>::New(env, n * 32);
  for (size_t i = 0; i < n; i++) ttj::sha256(buf.data + off[i], len[i], out.Data() + 32 * i);
  return out;
}

// Async variants: the inputs are held by references until the work is done, so
// they cannot be collected mid-scan. A reference cannot stop a transfer
// (structuredClone / postMessage with transfer) from detaching the ArrayBuffer:
// its memory then belongs to the new owner, and the result is refused.
bool Detached(const Napi::ObjectReference& ref) {
  Napi::Value v = ref.Value();
  if (!v.IsTypedArray()) return true;
  return v.As<Napi::TypedArray>().ArrayBuffer().IsDetached();
}
class ScanWorker : public Napi::AsyncWorker {
 public:
  ScanWorker(Napi::Env env, ScanArgs a, Napi::Value bufV, Napi::Value prevV)
      : Napi::AsyncWorker(env), a_(a), deferred_(Napi::Promise::Deferred::New(env)) {
    ref_ = Napi::Persistent(bufV.As<Napi::Object>());
    if (a.hasPrev) prevRef_ = Napi::Persistent(prevV.As<Napi::Object>());
    auto fps = Napi::Buffer<uint8_t>::New(env, a.pages * 16);
    r_.fps = fps.Data();
    fpsRef_ = Napi::Persistent(fps.As<Napi::Object>());
  }
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override { DoScan(a_.buf.data, a_.ps, a_.pages, a_.hasPrev ? a_.prev.data : nullptr, &r_); }
  void OnOK() override {
    if (Detached(ref_) || (a_.hasPrev && Detached(prevRef_)))
      deferred_.Reject(Napi::Error::New(Env(), "the buffer was detached (transferred) during the scan").Value());
    else
      deferred_.Resolve(ScanToJs(Env(), r_, fpsRef_.Value()));
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  ScanArgs a_;
  ScanResult r_;
  Napi::ObjectReference ref_, prevRef_, fpsRef_;
  Napi::Promise::Deferred deferred_;
};

Napi::Value ScanPagesAsync(const Napi::CallbackInfo& info) {
  ScanArgs a;
  if (!ParseScan(info, &a)) return info.Env().Undefined();
  auto* w = new ScanWorker(info.Env(), a, info[0], a.hasPrev ? info[2] : info.Env().Undefined());
  auto p = w->Promise();
  w->Queue();
  return p;
}

class HashWorker : public Napi::AsyncWorker {
 public:
  HashWorker(Napi::Env env, HashArgs a, Napi::Value bufV)
      : Napi::AsyncWorker(env), a_(std::move(a)), deferred_(Napi::Promise::Deferred::New(env)) {
    ref_ = Napi::Persistent(bufV.As<Napi::Object>());
    out_.resize(a_.pfns.size() * 32);
  }
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override { DoHash(a_.buf.data, a_.ps, a_.pfns, out_.data()); }
  void OnOK() override {
    if (Detached(ref_))
      deferred_.Reject(Napi::Error::New(Env(), "the buffer was detached (transferred) during hashing").Value());
    else
      deferred_.Resolve(Napi::Buffer<uint8_t>::Copy(Env(), out_.data(), out_.size()));
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  HashArgs a_;
  std::vector<uint8_t> out_;
  Napi::ObjectReference ref_;
  Napi::Promise::Deferred deferred_;
};

Napi::Value Sha256PagesAsync(const Napi::CallbackInfo& info) {
  HashArgs a;
  if (!ParseHash(info, &a)) return info.Env().Undefined();
  auto* w = new HashWorker(info.Env(), std::move(a), info[0]);
  auto p = w->Promise();
  w->Queue();
  return p;
}

// sha256BuffersAsync(buffers: Uint8Array[]): SHA-256 of each whole buffer, 32 bytes
// each, off the JS thread in one job (one thread-pool hop for many small buffers).
class BuffersHashWorker : public Napi::AsyncWorker {
 public:
  BuffersHashWorker(Napi::Env env, std::vector<Bytes> items, Napi::Array held)
      : Napi::AsyncWorker(env), items_(std::move(items)), deferred_(Napi::Promise::Deferred::New(env)) {
    ref_ = Napi::Persistent(held.As<Napi::Object>());
    out_.resize(items_.size() * 32);
    for (const auto& b : items_) bytes_ += b.len;
  }
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    const unsigned threads = bytes_ >= (4u << 20) ? std::min(std::max(1u, std::thread::hardware_concurrency()), 8u) : 1;
    Parallel(items_.size(), threads, [&](size_t a, size_t b) {
      for (size_t i = a; i < b;) {
        if (i + 1 < b && items_[i].len == items_[i + 1].len) {
          ttj::sha256_x2(items_[i].data, items_[i + 1].data, items_[i].len, out_.data() + 32 * i, out_.data() + 32 * (i + 1));
          i += 2;
        } else {
          ttj::sha256(items_[i].data, items_[i].len, out_.data() + 32 * i);
          i++;
        }
      }
    });
  }
  void OnOK() override {
    Napi::Array held = ref_.Value().As<Napi::Array>();
    for (uint32_t i = 0; i < held.Length(); i++) {
      Napi::Value v = held.Get(i);
      if (v.As<Napi::TypedArray>().ArrayBuffer().IsDetached() && items_[i].len != 0) {
        deferred_.Reject(Napi::Error::New(Env(), "a buffer was detached (transferred) during hashing").Value());
        return;
      }
    }
    deferred_.Resolve(Napi::Buffer<uint8_t>::Copy(Env(), out_.data(), out_.size()));
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  std::vector<Bytes> items_;
  size_t bytes_ = 0;
  std::vector<uint8_t> out_;
  Napi::ObjectReference ref_;
  Napi::Promise::Deferred deferred_;
};

Napi::Value Sha256BuffersAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) {
    Napi::TypeError::New(env, "buffers must be an array of Buffers or Uint8Arrays").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array in = info[0].As<Napi::Array>();
  // Our own copy of the array holds the buffers: the caller may change theirs meanwhile.
  Napi::Array held = Napi::Array::New(env, in.Length());
  std::vector<Bytes> items(in.Length());
  for (uint32_t i = 0; i < in.Length(); i++) {
    Napi::Value v = in.Get(i);
    if (!GetBytes(env, v, &items[i], "each buffer")) return env.Undefined();
    held.Set(i, v);
  }
  auto* w = new BuffersHashWorker(env, std::move(items), held);
  auto p = w->Promise();
  w->Queue();
  return p;
}

// pwriteAlignedAsync(fd, buffers, position): writes the buffers one after another at
// position, through a reused 4 KiB-aligned staging buffer of this thread, as O_DIRECT
// needs (position and the total length must be multiples of 4096). Resolves to the
// bytes written; rejects with the errno text.
constexpr size_t kStage = 8u << 20;

// What both direct I/O workers share: the thread's staging buffer (allocated once per
// worker thread, 4 KiB-aligned), the JS values held until the I/O is done, and a
// promise resolved with a byte count or rejected with the errno text (and `errno`).
class StagedIoWorker : public Napi::AsyncWorker {
 public:
  StagedIoWorker(Napi::Env env, Napi::Value held) : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)) {
    ref_ = Napi::Persistent(held.As<Napi::Object>());
  }
  Napi::Promise Promise() { return deferred_.Promise(); }
  void OnOK() override { deferred_.Resolve(Napi::Number::New(Env(), (double)bytes_)); }
  void OnError(const Napi::Error& e) override {
    Napi::Error err = Napi::Error::New(Env(), e.Message());
    err.Set("errno", Napi::Number::New(Env(), err_));
    // The errno's name (ENOSPC, EIO...), as Node's fs errors carry it.
    if (const char* name = err_ ? strerrorname_np(err_) : nullptr) err.Set("code", name);
    deferred_.Reject(err.Value());
  }

 protected:
  // The thread's staging buffer, or nullptr (with the error set) when out of memory.
  uint8_t* Stage() {
    thread_local uint8_t* stage = nullptr;
    if (!stage && posix_memalign(reinterpret_cast<void**>(&stage), 4096, kStage) != 0) {
      stage = nullptr;
      SetError("out of memory for the staging buffer");
    }
    return stage;
  }
  void Fail(const char* what, int e) {
    err_ = e;
    SetError(std::string(what) + ": " + strerror(e));
  }
  size_t bytes_ = 0;

 private:
  int err_ = 0;
  Napi::ObjectReference ref_;
  Napi::Promise::Deferred deferred_;
};

class AlignedWriteWorker : public StagedIoWorker {
 public:
  AlignedWriteWorker(Napi::Env env, int fd, std::vector<Bytes> items, int64_t pos, Napi::Array held)
      : StagedIoWorker(env, held), fd_(fd), items_(std::move(items)), pos_(pos) {}
  void Execute() override {
    uint8_t* stage = Stage();
    if (!stage) return;
    size_t fill = 0;
    auto flush = [&]() -> bool {
      size_t done = 0;
      while (done < fill) {
        ssize_t n = pwrite(fd_, stage + done, fill - done, pos_ + (int64_t)bytes_ + done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          Fail("pwrite", n < 0 ? errno : EIO);
          return false;
        }
        done += (size_t)n;
      }
      bytes_ += fill;
      fill = 0;
      return true;
    };
    for (const auto& b : items_) {
      for (size_t off = 0; off < b.len;) {
        const size_t take = std::min(b.len - off, kStage - fill);
        memcpy(stage + fill, b.data + off, take);
        fill += take;
        off += take;
        if (fill == kStage && !flush()) return;
      }
    }
    if (fill && !flush()) return;
  }

 private:
  int fd_;
  std::vector<Bytes> items_;
  int64_t pos_;
};

Napi::Value PwriteAlignedAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber() || !info[1].IsArray() || !info[2].IsNumber()) {
    Napi::TypeError::New(env, "expected (fd, buffers, position)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array in = info[1].As<Napi::Array>();
  Napi::Array held = Napi::Array::New(env, in.Length());
  std::vector<Bytes> items(in.Length());
  size_t total = 0;
  for (uint32_t i = 0; i < in.Length(); i++) {
    Napi::Value v = in.Get(i);
    if (!GetBytes(env, v, &items[i], "each buffer")) return env.Undefined();
    held.Set(i, v);
    total += items[i].len;
  }
  const int64_t pos = info[2].As<Napi::Number>().Int64Value();
  if (pos < 0 || pos % 4096 || total % 4096) {
    Napi::RangeError::New(env, "position and total length must be multiples of 4096").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* w = new AlignedWriteWorker(env, info[0].As<Napi::Number>().Int32Value(), std::move(items), pos, held);
  auto p = w->Promise();
  w->Queue();
  return p;
}

// preadAlignedAsync(fd, position, length, target, targetOffset): reads length bytes at
// position into target, for a file opened with O_DIRECT: the 4 KiB-aligned range around
// them is read into a reused aligned staging buffer of this thread and the bytes asked
// for copied out. Resolves to the bytes copied (fewer at the end of the file).
class AlignedReadWorker : public StagedIoWorker {
 public:
  AlignedReadWorker(Napi::Env env, int fd, int64_t pos, size_t len, uint8_t* target, Napi::Value held)
      : StagedIoWorker(env, held), fd_(fd), pos_(pos), len_(len), target_(target) {}
  void Execute() override {
    uint8_t* stage = Stage();
    if (!stage) return;
    size_t& done_ = bytes_;
    while (done_ < len_) {
      const int64_t want = pos_ + (int64_t)done_;
      const int64_t start = want & ~(int64_t)4095;
      const size_t skip = (size_t)(want - start);
      const size_t span = std::min(kStage, (skip + (len_ - done_) + 4095) & ~(size_t)4095);
      ssize_t n;
      do n = pread(fd_, stage, span, start); while (n < 0 && errno == EINTR);
      if (n < 0) {
        Fail("pread", errno);
        return;
      }
      if ((size_t)n <= skip) return;  // the end of the file
      const size_t got = std::min((size_t)n - skip, len_ - done_);
      memcpy(target_ + done_, stage + skip, got);
      done_ += got;
      if ((size_t)n < span) return;
    }
  }

 private:
  int fd_;
  int64_t pos_;
  size_t len_;
  uint8_t* target_;
};

Napi::Value PreadAlignedAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber() || !info[4].IsNumber()) {
    Napi::TypeError::New(env, "expected (fd, position, length, target, targetOffset)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Bytes t;
  if (!GetBytes(env, info[3], &t, "target")) return env.Undefined();
  const int64_t pos = info[1].As<Napi::Number>().Int64Value();
  const int64_t len = info[2].As<Napi::Number>().Int64Value();
  const int64_t at = info[4].As<Napi::Number>().Int64Value();
  if (pos < 0 || len < 0 || at < 0 || (uint64_t)(at + len) > t.len) {
    Napi::RangeError::New(env, "the range does not fit the target").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* w = new AlignedReadWorker(env, info[0].As<Napi::Number>().Int32Value(), pos, (size_t)len, t.data + at, info[3]);
  auto p = w->Promise();
  w->Queue();
  return p;
}

// fallocateAsync(fd, offset, length): allocates the file's blocks of [offset, offset +
// length) and extends its size to cover them (fallocate mode 0), off the JS thread.
// Direct writes into allocated blocks inside the file's size are overwrites, which
// ext4 and XFS run in parallel; appends past the end are serialized. Resolves to
// length; rejects with the errno text and code (EOPNOTSUPP where the file system
// cannot allocate ahead).
class FallocateWorker : public StagedIoWorker {
 public:
  FallocateWorker(Napi::Env env, int fd, int64_t off, int64_t len) : StagedIoWorker(env, Napi::Object::New(env)), fd_(fd), off_(off), len_(len) {}
  void Execute() override {
    int r;
    do r = fallocate(fd_, 0, off_, len_);
    while (r < 0 && errno == EINTR);
    if (r < 0) Fail("fallocate", errno);
    else bytes_ = (size_t)len_;
  }

 private:
  int fd_;
  int64_t off_;
  int64_t len_;
};

Napi::Value FallocateAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber()) {
    Napi::TypeError::New(env, "expected (fd, offset, length)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const int64_t off = info[1].As<Napi::Number>().Int64Value();
  const int64_t len = info[2].As<Napi::Number>().Int64Value();
  if (off < 0 || len <= 0) {
    Napi::RangeError::New(env, "offset must be >= 0 and length > 0").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* w = new FallocateWorker(env, info[0].As<Napi::Number>().Int32Value(), off, len);
  auto p = w->Promise();
  w->Queue();
  return p;
}

// gatherPages(buf, pageSize, pfns, out?): copies pages pfns into out (or a new Buffer).
Napi::Value GatherPages(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  HashArgs a;
  if (!ParseHash(info, &a)) return env.Undefined();
  const size_t need = a.pfns.size() * a.ps;
  Napi::Value outV;
  uint8_t* out;
  if (info.Length() > 3 && !info[3].IsUndefined() && !info[3].IsNull()) {
    Bytes o;
    if (!GetBytes(env, info[3], &o, "out")) return env.Undefined();
    if (o.len < need) {
      Napi::TypeError::New(env, "out is too small").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    outV = info[3];
    out = o.data;
  } else {
    auto b = Napi::Buffer<uint8_t>::New(env, need);
    outV = b;
    out = b.Data();
  }
  // memmove: out may overlap buf.
  for (size_t i = 0; i < a.pfns.size(); i++) memmove(out + i * a.ps, a.buf.data + (size_t)a.pfns[i] * a.ps, a.ps);
  return outV;
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  auto o = Napi::Object::New(info.Env());
  o.Set("sha", ttj::sha_ni_available() ? "sha-ni" : "portable");
  o.Set("simd", ttj::fingerprint_simd());
  o.Set("fingerprintVersion", ttj::kFingerprintVersion);
  o.Set("threads", std::max(1u, std::thread::hardware_concurrency()));
  return o;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("scanPages", Napi::Function::New(env, ScanPages));
  exports.Set("scanPagesAsync", Napi::Function::New(env, ScanPagesAsync));
  exports.Set("sha256Pages", Napi::Function::New(env, Sha256Pages));
  exports.Set("sha256PagesAsync", Napi::Function::New(env, Sha256PagesAsync));
  exports.Set("sha256Ranges", Napi::Function::New(env, Sha256Ranges));
  exports.Set("sha256BuffersAsync", Napi::Function::New(env, Sha256BuffersAsync));
  exports.Set("gatherPages", Napi::Function::New(env, GatherPages));
  exports.Set("pwriteAlignedAsync", Napi::Function::New(env, PwriteAlignedAsync));
  exports.Set("preadAlignedAsync", Napi::Function::New(env, PreadAlignedAsync));
  exports.Set("fallocateAsync", Napi::Function::New(env, FallocateAsync));
  exports.Set("info", Napi::Function::New(env, Info));
  ttj::InitSocketPump(env, exports);
  ttj::InitRamFile(env, exports);
  exports.Set("fingerprintVersion", Napi::Number::New(env, ttj::kFingerprintVersion));
  return exports;
}

}  // namespace

NODE_API_MODULE(ttj_native, Init)
