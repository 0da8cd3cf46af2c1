// SocketPump: a socket's bytes received on a thread of its own (see socket-pump.cc).
#pragma once
#include <napi.h>

namespace ttj {
void InitSocketPump(Napi::Env env, Napi::Object exports);
}
