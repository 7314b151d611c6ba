// mallocStats() and mallocTrim(): what glibc's allocator holds, and a way to
// give its free pages back to the kernel.
//
// Why: a burst of HBONE streams (issue 13: 200 streams of a dead peer) has
// OpenSSL, nghttp2 and libuv malloc() tens of MB of small records and
// buffers. When they are freed, glibc keeps the pages: it gives back only
// the free top of an arena, past M_TRIM_THRESHOLD, and free chunks below a
// live one only on malloc_trim(). RSS then stays near the peak
// although nothing is live. daemon/memory-release.ts calls mallocTrim
// once such a burst has gone quiet. On a libc that is not glibc both are
// no-ops that say so (available: false), so the daemon never depends on them.

#include <napi.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

Napi::Value MallocStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  struct mallinfo2 mi = mallinfo2();
  result.Set("available", Napi::Boolean::New(env, true));
  // Bytes from sbrk/mmap'd arenas, in use, free in arenas, and in mmap'd chunks.
  result.Set("arena", Napi::Number::New(env, static_cast<double>(mi.arena)));
  result.Set("inUse", Napi::Number::New(env, static_cast<double>(mi.uordblks)));
  result.Set("free", Napi::Number::New(env, static_cast<double>(mi.fordblks)));
  result.Set("mmapped", Napi::Number::New(env, static_cast<double>(mi.hblkhd)));
  result.Set("releasable", Napi::Number::New(env, static_cast<double>(mi.keepcost)));
#else
  result.Set("available", Napi::Boolean::New(env, false));
#endif
  return result;
}

// mallocTrim(): true when glibc gave memory back to the kernel.
Napi::Value MallocTrim(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
#if defined(__GLIBC__)
  return Napi::Boolean::New(env, malloc_trim(0) == 1);
#else
  return Napi::Boolean::New(env, false);
#endif
}
