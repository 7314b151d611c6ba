// memoryPressure(): tells V8 that memory is wanted back, now.
//
// Why: a stream torn down with its write queue full (issue 13: a peer that
// stopped reading) leaves tens of MB of dead Buffers. Their memory is
// malloc'd outside the V8 heap and only freed when a GC finds the Buffer
// objects dead; in a daemon that has gone quiet nothing allocates, so no GC
// comes, sometimes for minutes. A critical memory-pressure notification runs
// a full, memory-reducing GC at once (freeing the Buffers' backing stores)
// and shrinks V8's own spaces. Node has no JS API for it and N-API none for
// any GC, so this one call uses the V8 API: the addon is rebuilt for each
// Node by `npm run build:native`, as node-gyp builds it against that Node's
// headers anyway.

#include <napi.h>
#include <v8.h>

Napi::Value MemoryPressure(const Napi::CallbackInfo& info) {
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  if (isolate != nullptr) isolate->MemoryPressureNotification(v8::MemoryPressureLevel::kCritical);
  return info.Env().Undefined();
}
