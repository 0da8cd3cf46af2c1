// A guest's RAM file scanned and read where it is (see ram-file.cc).
#pragma once
#include <napi.h>

namespace ttj {
void InitRamFile(Napi::Env env, Napi::Object exports);
}
