// SocketPump: receives a connected socket's bytes on a thread of its own, into buffers
// JavaScript hands it one read at a time, so that the JS thread neither copies them
// nor wakes up for every 64 KiB the kernel delivers (the NBD server's write path).
//
//   const p = new SocketPump(fd, (err, n) => ...)
//   p.read(buffer, offset, length)  // one read at a time: fills [offset, offset+length)
//                                   // as bytes arrive; the callback runs once per batch
//                                   // received with its count n (the batches follow each
//                                   // other in the buffer), until the region is full, or
//                                   // with 0 at the end of the stream, or an error
//                                   // carrying errno and code (both end the read)
//   p.stop()                        // no callback after this; the thread is joined
//
// The pump reads a dup() of fd, so the socket can be closed by Node at any time
// without the thread ever touching a descriptor number that was reused; the peer
// sees the close once stop() closed the duplicate too.
#include "socket-pump.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace ttj {
namespace {

// What the JS thread's side of a pump keeps: it outlives the pump object while
// completions are still queued for delivery.
struct Shared {
  bool stopped = false;
  Napi::ObjectReference held;  // the buffer of the read in progress
};

struct ReadDone {
  std::shared_ptr<Shared> shared;
  ssize_t n = 0;
  int err = 0;
  bool last = false;  // the read is over: the buffer is no longer written
};

class SocketPump : public Napi::ObjectWrap<SocketPump> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "SocketPump", {InstanceMethod("read", &SocketPump::Read), InstanceMethod("stop", &SocketPump::Stop)});
  }

  explicit SocketPump(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SocketPump>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsNumber() || !info[1].IsFunction()) {
      Napi::TypeError::New(env, "expected (fd, callback)").ThrowAsJavaScriptException();
      return;
    }
    const int fd = info[0].As<Napi::Number>().Int32Value();
    fd_ = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
    if (fd_ < 0) {
      Napi::Error e = Napi::Error::New(env, std::string("cannot duplicate the socket: ") + strerror(fd < 0 ? EBADF : errno));
      e.ThrowAsJavaScriptException();
      return;
    }
    wake_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_ < 0) {
      const int e = errno;
      close(fd_);
      fd_ = -1;
      Napi::Error::New(env, std::string("eventfd: ") + strerror(e)).ThrowAsJavaScriptException();
      return;
    }
    tsfn_ = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "ttj-socket-pump", 0, 1);
    running_ = true;
    thread_ = std::thread([this] { Loop(); });
  }

  ~SocketPump() override { Shutdown(); }

 private:
  Napi::Value Read(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!running_) {
      Napi::Error::New(env, "the pump is stopped").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (!info[0].IsTypedArray() || !info[1].IsNumber() || !info[2].IsNumber()) {
      Napi::TypeError::New(env, "expected (buffer, offset, length)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    auto ta = info[0].As<Napi::TypedArray>();
    if (ta.TypedArrayType() != napi_uint8_array) {
      Napi::TypeError::New(env, "buffer must be a Buffer or Uint8Array").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    auto u8 = ta.As<Napi::Uint8Array>();
    const double off = info[1].As<Napi::Number>().DoubleValue();
    const double len = info[2].As<Napi::Number>().DoubleValue();
    if (!(off >= 0) || !(len >= 1) || off + len > (double)u8.ByteLength() || off != (double)(size_t)off || len != (double)(size_t)len) {
      Napi::RangeError::New(env, "offset and length must lie inside the buffer, length at least 1").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (job_ || !shared_->held.IsEmpty()) {
      Napi::Error::New(env, "a read is already in progress").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    shared_->held = Napi::Persistent(info[0].As<Napi::Object>());
    target_ = u8.Data() + (size_t)off;
    length_ = (size_t)len;
    job_ = true;
    cv_.notify_one();
    return env.Undefined();
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    Shutdown();
    return info.Env().Undefined();
  }

  // Joins the thread and closes the duplicate; a read in progress is dropped.
  void Shutdown() {
    if (!running_) return;
    running_ = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      cv_.notify_one();
    }
    const uint64_t one = 1;
    (void)!write(wake_, &one, sizeof one);
    if (thread_.joinable()) thread_.join();
    close(fd_);
    close(wake_);
    fd_ = wake_ = -1;
    shared_->stopped = true;
    if (!shared_->held.IsEmpty()) shared_->held.Reset();
    tsfn_.Release();
  }

  void Loop() {
    for (;;) {
      uint8_t* target;
      size_t length;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return job_ || stopping_; });
        if (stopping_) return;
        target = target_;
        length = length_;
      }
      // The region is filled progressively: every batch of bytes is handed over as it
      // arrives, without waiting for JavaScript to ask again, until the region is full,
      // the stream ends or fails.
      size_t got = 0;
      for (;;) {
        auto* done = new ReadDone();
        done->shared = shared_;
        if (!Receive(target + got, length - got, done)) {
          delete done;
          return;  // stopped while waiting for bytes
        }
        got += (size_t)done->n;
        done->last = done->err != 0 || done->n == 0 || got == length;
        if (done->last) {
          std::lock_guard<std::mutex> lock(mu_);
          job_ = false;
        }
        const bool last = done->last;
        // The queue is unbounded, so this never blocks (stop() may be joining us).
        if (tsfn_.NonBlockingCall(done, &SocketPump::Deliver) != napi_ok) delete done;
        if (last) break;
      }
    }
  }

  // Waits for bytes (or the stop signal), then takes what is there up to length.
  bool Receive(uint8_t* target, size_t length, ReadDone* done) {
    size_t got = 0;
    for (;;) {
      const ssize_t r = recv(fd_, target + got, length - got, MSG_DONTWAIT);
      if (r > 0) {
        got += (size_t)r;
        if (got == length) break;
        continue;
      }
      if (r == 0) break;  // end of stream (or of what came before it)
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        if (got == 0) done->err = errno;
        break;
      }
      if (got > 0) break;
      pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_, POLLIN, 0}};
      if (poll(fds, 2, -1) < 0 && errno != EINTR) {
        done->err = errno;
        break;
      }
      if (fds[1].revents) return false;
    }
    done->n = (ssize_t)got;
    return true;
  }

  static void Deliver(Napi::Env env, Napi::Function cb, ReadDone* done) {
    const ReadDone d = *done;
    delete done;
    // On the JS thread; the pump may have been stopped (and collected) in between.
    if (env == nullptr || d.shared->stopped) return;
    if (d.last) d.shared->held.Reset();
    if (d.err) {
      Napi::Error e = Napi::Error::New(env, std::string("socket receive failed: ") + strerror(d.err));
      e.Set("errno", Napi::Number::New(env, d.err));
      if (const char* name = strerrorname_np(d.err)) e.Set("code", name);
      cb.Call({e.Value(), env.Undefined()});
    } else {
      cb.Call({env.Null(), Napi::Number::New(env, (double)d.n)});
    }
  }

  int fd_ = -1;
  int wake_ = -1;
  bool running_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  bool job_ = false;
  bool stopping_ = false;
  uint8_t* target_ = nullptr;
  size_t length_ = 0;
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
  Napi::ThreadSafeFunction tsfn_;
  std::thread thread_;
};

}  // namespace

void InitSocketPump(Napi::Env env, Napi::Object exports) { exports.Set("SocketPump", SocketPump::Define(env)); }

}  // namespace ttj
