// What the addon's netlink lookups (socket_owner.cc, conntrack_origin.cc)
// share: one request, one reply, on a socket closed on every return path,
// and errors thrown into JS with a stable code.
#ifndef AMBIT_NETLINK_QUERY_H_
#define AMBIT_NETLINK_QUERY_H_

#include <napi.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace ambit {

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

// Throws `what: strerror(err)` with code ENOENT (nothing found) or `otherCode`.
inline Napi::Value Fail(Napi::Env env, int err, const char* what, const char* otherCode) {
  Napi::Error error = Napi::Error::New(env, std::string(what) + ": " + strerror(err));
  error.Set("code", Napi::String::New(env, err == ENOENT ? "ENOENT" : otherCode));
  error.Set("errno", Napi::Number::New(env, err));
  error.ThrowAsJavaScriptException();
  return env.Undefined();
}

// A TCP connection as JS names it: (family: 4 | 6, localIp, localPort, remoteIp, remotePort).
// Addresses and ports are in network byte order, ready for a netlink request.
struct Tuple {
  int family;
  size_t addrLen;
  unsigned char local[16];
  uint16_t localPort;
  unsigned char remote[16];
  uint16_t remotePort;
};

// Reads the tuple from `info`; false once a TypeError naming `signature` is thrown.
inline bool ParseTuple(const Napi::CallbackInfo& info, const char* signature, Tuple* t) {
  Napi::Env env = info.Env();
  bool ok = info.Length() == 5 && info[0].IsNumber() && info[1].IsString() && info[2].IsNumber() && info[3].IsString() && info[4].IsNumber();
  if (ok) {
    const bool v6 = info[0].As<Napi::Number>().Int32Value() == 6;
    t->family = v6 ? AF_INET6 : AF_INET;
    t->addrLen = v6 ? 16 : 4;
    t->localPort = htons(info[2].As<Napi::Number>().Uint32Value());
    t->remotePort = htons(info[4].As<Napi::Number>().Uint32Value());
    ok = inet_pton(t->family, info[1].As<Napi::String>().Utf8Value().c_str(), t->local) == 1 &&
         inet_pton(t->family, info[3].As<Napi::String>().Utf8Value().c_str(), t->remote) == 1;
  }
  if (!ok) Napi::TypeError::New(env, std::string(signature) + ": (family: 4 | 6, localIp, localPort, remoteIp, remotePort), addresses of that family").ThrowAsJavaScriptException();
  return ok;
}

// Sends `msg` on a new netlink socket of `protocol` and reads its one reply
// into `buf`. Returns the reply, or nullptr once an error is thrown: an
// NLMSG_ERROR reply becomes its errno (ENOENT: the kernel found nothing).
inline const nlmsghdr* Ask(Napi::Env env, int protocol, const nlmsghdr* msg, char* buf, size_t size, const char* what, const char* otherCode) {
  Fd sock{socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, protocol)};
  const std::string w(what);
  if (sock.fd < 0) return Fail(env, errno, (w + " socket").c_str(), otherCode), nullptr;
  if (send(sock.fd, msg, msg->nlmsg_len, 0) != static_cast<ssize_t>(msg->nlmsg_len)) return Fail(env, errno, (w + " send").c_str(), otherCode), nullptr;
  ssize_t n = recv(sock.fd, buf, size, 0);
  if (n < 0) return Fail(env, errno, (w + " recv").c_str(), otherCode), nullptr;
  auto* reply = reinterpret_cast<const nlmsghdr*>(buf);
  if (!NLMSG_OK(reply, static_cast<unsigned>(n))) return Fail(env, EPROTO, (w + " reply").c_str(), otherCode), nullptr;
  if (reply->nlmsg_type == NLMSG_ERROR) {
    int err = -reinterpret_cast<const nlmsgerr*>(NLMSG_DATA(reply))->error;
    return Fail(env, err == 0 ? ENOENT : err, (w + " lookup").c_str(), otherCode), nullptr;
  }
  return reply;
}

}  // namespace ambit

#endif  // AMBIT_NETLINK_QUERY_H_
