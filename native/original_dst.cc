// getOriginalDst(fd, family): where a REDIRECTed TCP connection was really going.
//
// iptables REDIRECT rewrites the destination to our listener; conntrack still
// knows the original one and hands it out via getsockopt(SO_ORIGINAL_DST).
// Everything else (fd lookup, family choice, error typing) lives in
// core/net/original-dst.ts so this file stays a thin syscall wrapper.

#include <napi.h>

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>

// Both values are 80 in <linux/netfilter_ipv4.h> and <linux/netfilter_ipv6/
// ip6_tables.h>; those headers clash with glibc's <netinet/in.h>, so we spell
// the numbers out rather than include them.
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

namespace {

// Only the errnos getsockopt can return here; JS callers branch on these names.
const char* ErrnoName(int err) {
  switch (err) {
    case ENOENT: return "ENOENT";  // no conntrack entry: the socket was not redirected
    case EBADF: return "EBADF";
    case ENOTSOCK: return "ENOTSOCK";
    case ENOPROTOOPT: return "ENOPROTOOPT";
    case EINVAL: return "EINVAL";
    case ENOTCONN: return "ENOTCONN";
    case EFAULT: return "EFAULT";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    default: return "EUNKNOWN";
  }
}

Napi::Value Throw(Napi::Env env, int err, const char* what) {
  std::string message = std::string(what) + ": " + ErrnoName(err) + " (" + strerror(err) + ")";
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, ErrnoName(err)));
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("syscall", Napi::String::New(env, "getsockopt"));
  error.ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value GetOriginalDst(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
    Napi::TypeError::New(env, "getOriginalDst(fd: number, family: 4 | 6)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  int family = info[1].As<Napi::Number>().Int32Value();

  char text[INET6_ADDRSTRLEN];
  Napi::Object result = Napi::Object::New(env);
  if (family == 4) {
    sockaddr_in addr{};
    socklen_t len = sizeof(addr);
    if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &addr, &len) != 0) return Throw(env, errno, "SO_ORIGINAL_DST");
    inet_ntop(AF_INET, &addr.sin_addr, text, sizeof(text));
    result.Set("port", Napi::Number::New(env, ntohs(addr.sin_port)));
  } else if (family == 6) {
    sockaddr_in6 addr{};
    socklen_t len = sizeof(addr);
    if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &addr, &len) != 0) return Throw(env, errno, "IP6T_SO_ORIGINAL_DST");
    inet_ntop(AF_INET6, &addr.sin6_addr, text, sizeof(text));
    result.Set("port", Napi::Number::New(env, ntohs(addr.sin6_port)));
  } else {
    Napi::RangeError::New(env, "family must be 4 or 6").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  result.Set("address", Napi::String::New(env, text));
  return result;
}

}  // namespace

// native/socket_owner.cc: the uid behind a captured connection, by sock_diag.
Napi::Value SocketOwnerUid(const Napi::CallbackInfo& info);
// native/conntrack_origin.cc: the client's own source of a captured connection, by conntrack.
Napi::Value ConntrackOriginalSource(const Napi::CallbackInfo& info);
// native/malloc_trim.cc: what glibc's allocator holds, and giving its free pages back.
Napi::Value MallocStats(const Napi::CallbackInfo& info);
Napi::Value MallocTrim(const Napi::CallbackInfo& info);
// native/memory_pressure.cc: a full, memory-reducing V8 GC now.
Napi::Value MemoryPressure(const Napi::CallbackInfo& info);

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("getOriginalDst", Napi::Function::New(env, GetOriginalDst, "getOriginalDst"));
  exports.Set("socketOwnerUid", Napi::Function::New(env, SocketOwnerUid, "socketOwnerUid"));
  exports.Set("conntrackOriginalSource", Napi::Function::New(env, ConntrackOriginalSource, "conntrackOriginalSource"));
  exports.Set("mallocStats", Napi::Function::New(env, MallocStats, "mallocStats"));
  exports.Set("mallocTrim", Napi::Function::New(env, MallocTrim, "mallocTrim"));
  exports.Set("memoryPressure", Napi::Function::New(env, MemoryPressure, "memoryPressure"));
  return exports;
}

}  // namespace

NODE_API_MODULE(original_dst, Init)
