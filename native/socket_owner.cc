// socketOwnerUid(family, localIp, localPort, remoteIp, remotePort): the uid
// owning one TCP socket of this network namespace, found by its exact 4-tuple.
//
// ambitd needs the uid behind every captured connection. /proc/net/tcp gives
// it too, but the kernel renders the whole table (and walks every bucket of
// the host-wide hash) on each read: about 1 ms per new connection even in an
// empty namespace, more with TIME_WAIT sockets around. A sock_diag request
// without NLM_F_DUMP is a single hash lookup in the kernel.

#include <napi.h>

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netlink_query.h"

namespace {

Napi::Value Fail(Napi::Env env, int err, const char* what) { return ambit::Fail(env, err, what, "ESOCKDIAG"); }

}  // namespace

Napi::Value SocketOwnerUid(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ambit::Tuple tuple;
  if (!ambit::ParseTuple(info, "socketOwnerUid", &tuple)) return env.Undefined();
  struct {
    nlmsghdr nlh;
    inet_diag_req_v2 req;
  } msg{};
  msg.nlh.nlmsg_len = sizeof(msg);
  msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nlh.nlmsg_flags = NLM_F_REQUEST;  // no NLM_F_DUMP: an exact lookup
  msg.req.sdiag_family = tuple.family;
  msg.req.sdiag_protocol = IPPROTO_TCP;
  msg.req.idiag_states = ~0U;
  msg.req.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
  msg.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  msg.req.id.idiag_sport = tuple.localPort;
  msg.req.id.idiag_dport = tuple.remotePort;
  std::memcpy(msg.req.id.idiag_src, tuple.local, tuple.addrLen);
  std::memcpy(msg.req.id.idiag_dst, tuple.remote, tuple.addrLen);

  alignas(nlmsghdr) char buf[8192];
  const nlmsghdr* reply = ambit::Ask(env, NETLINK_SOCK_DIAG, &msg.nlh, buf, sizeof(buf), "sock_diag", "ESOCKDIAG");
  if (reply == nullptr) return env.Undefined();
  if (reply->nlmsg_type != SOCK_DIAG_BY_FAMILY || reply->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg))) return Fail(env, EPROTO, "sock_diag reply");
  return Napi::Number::New(env, reinterpret_cast<const inet_diag_msg*>(NLMSG_DATA(reply))->idiag_uid);
}
