{
  "targets": [
    {
      "target_name": "original_dst",
      "sources": ["original_dst.cc", "socket_owner.cc", "conntrack_origin.cc", "malloc_trim.cc", "memory_pressure.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      # No C++ exceptions: errors are thrown into JS explicitly, which keeps the
      # addon small and independent of the toolchain's exception settings.
      "defines": ["NAPI_DISABLE_CPP_EXCEPTIONS", "NAPI_VERSION=8"],
      "cflags_cc": ["-Wall", "-Wextra"]
    }
  ]
}
