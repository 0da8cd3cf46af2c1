{
  "targets": [
    {
      "target_name": "ttj_native",
      "sources": ["src/ttj_native.cc", "src/sha256.cc", "src/fingerprint.cc", "src/socket-pump.cc", "src/ram-file.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_DISABLE_CPP_EXCEPTIONS", "NAPI_VERSION=8", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags_cc": ["-O3", "-std=c++17", "-pthread"],
      "ldflags": ["-pthread"]
    }
  ]
}
