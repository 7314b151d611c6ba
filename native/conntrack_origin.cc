// conntrackOriginalSource(family, localIp, localPort, remoteIp, remotePort):
// the source address and port a captured connection had when its client
// opened it, asked of conntrack by the connection's reply tuple.
//
// Why: the client's port is not always the port ambitd sees. A client that
// reuses one source port towards two different VIPs (Linux picks ports per
// destination) produces two connections that REDIRECT maps onto the same
// local tuple (client:port -> 127.0.0.1:15001). While the first one's
// conntrack entry lingers (TIME_WAIT, 120 s), netfilter resolves the clash
// by quietly rewriting the second one's source port. sock_diag then finds no
// socket with the rewritten port, and the connection would lose its identity.
// conntrack's original tuple still holds the port the client bound.

#include <napi.h>

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netlink_query.h"

namespace {

Napi::Value Fail(Napi::Env env, int err, const char* what) { return ambit::Fail(env, err, what, "ECONNTRACK"); }

// A netlink message under construction: attributes appended in place, nests closed by length.
class Message {
 public:
  Message() { std::memset(buf_, 0, sizeof(buf_)); }
  nlmsghdr* header() { return reinterpret_cast<nlmsghdr*>(buf_); }
  void* reserve(size_t len) {
    void* at = buf_ + used_;
    used_ += NLMSG_ALIGN(len);
    return at;
  }
  void put(uint16_t type, const void* data, size_t len) {
    auto* a = static_cast<nlattr*>(reserve(NLA_HDRLEN));
    a->nla_type = type;
    a->nla_len = NLA_HDRLEN + len;
    std::memcpy(reserve(len), data, len);
  }
  size_t open(uint16_t type) {
    size_t at = used_;
    auto* a = static_cast<nlattr*>(reserve(NLA_HDRLEN));
    a->nla_type = type | NLA_F_NESTED;
    return at;
  }
  void close(size_t at) { reinterpret_cast<nlattr*>(buf_ + at)->nla_len = used_ - at; }
  size_t size() const { return used_; }

 private:
  alignas(nlmsghdr) char buf_[256];
  size_t used_ = 0;
};

// The attribute of `type` directly inside [begin, end), or nullptr.
const nlattr* Find(const char* begin, const char* end, uint16_t type) {
  for (const char* p = begin; p + NLA_HDRLEN <= end;) {
    auto* a = reinterpret_cast<const nlattr*>(p);
    if (a->nla_len < NLA_HDRLEN || p + a->nla_len > end) return nullptr;
    if ((a->nla_type & NLA_TYPE_MASK) == type) return a;
    p += NLA_ALIGN(a->nla_len);
  }
  return nullptr;
}

const char* Payload(const nlattr* a) { return reinterpret_cast<const char*>(a) + NLA_HDRLEN; }
const char* End(const nlattr* a) { return reinterpret_cast<const char*>(a) + a->nla_len; }

}  // namespace

Napi::Value ConntrackOriginalSource(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ambit::Tuple t;
  if (!ambit::ParseTuple(info, "conntrackOriginalSource", &t)) return env.Undefined();
  const bool v6 = t.family == AF_INET6;

  // The reply direction runs from ambitd's accepted socket back to the client.
  Message m;
  nlmsghdr* h = static_cast<nlmsghdr*>(m.reserve(NLMSG_HDRLEN));
  auto* g = static_cast<nfgenmsg*>(m.reserve(sizeof(nfgenmsg)));
  g->nfgen_family = t.family;
  g->version = NFNETLINK_V0;
  size_t tuple = m.open(CTA_TUPLE_REPLY);
  size_t ip = m.open(CTA_TUPLE_IP);
  m.put(v6 ? CTA_IP_V6_SRC : CTA_IP_V4_SRC, t.local, t.addrLen);
  m.put(v6 ? CTA_IP_V6_DST : CTA_IP_V4_DST, t.remote, t.addrLen);
  m.close(ip);
  size_t proto = m.open(CTA_TUPLE_PROTO);
  const uint8_t tcp = IPPROTO_TCP;
  m.put(CTA_PROTO_NUM, &tcp, 1);
  m.put(CTA_PROTO_SRC_PORT, &t.localPort, 2);
  m.put(CTA_PROTO_DST_PORT, &t.remotePort, 2);
  m.close(proto);
  m.close(tuple);
  h = m.header();
  h->nlmsg_len = m.size();
  h->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
  h->nlmsg_flags = NLM_F_REQUEST;

  alignas(nlmsghdr) char buf[4096];
  const nlmsghdr* reply = ambit::Ask(env, NETLINK_NETFILTER, h, buf, sizeof(buf), "conntrack", "ECONNTRACK");
  if (reply == nullptr) return env.Undefined();
  const char* attrs = static_cast<const char*>(NLMSG_DATA(reply)) + NLMSG_ALIGN(sizeof(nfgenmsg));
  const char* end = reinterpret_cast<const char*>(reply) + reply->nlmsg_len;
  const nlattr* orig = Find(attrs, end, CTA_TUPLE_ORIG);
  const nlattr* origIp = orig ? Find(Payload(orig), End(orig), CTA_TUPLE_IP) : nullptr;
  const nlattr* origProto = orig ? Find(Payload(orig), End(orig), CTA_TUPLE_PROTO) : nullptr;
  const nlattr* src = origIp ? Find(Payload(origIp), End(origIp), v6 ? CTA_IP_V6_SRC : CTA_IP_V4_SRC) : nullptr;
  const nlattr* port = origProto ? Find(Payload(origProto), End(origProto), CTA_PROTO_SRC_PORT) : nullptr;
  if (!src || !port || src->nla_len != NLA_HDRLEN + t.addrLen || port->nla_len != NLA_HDRLEN + 2) return Fail(env, EPROTO, "conntrack reply without an original source");
  char text[INET6_ADDRSTRLEN];
  if (inet_ntop(t.family, Payload(src), text, sizeof(text)) == nullptr) return Fail(env, errno, "inet_ntop");
  uint16_t p;
  std::memcpy(&p, Payload(port), 2);
  Napi::Object result = Napi::Object::New(env);
  result.Set("address", Napi::String::New(env, text));
  result.Set("port", Napi::Number::New(env, ntohs(p)));
  return result;
}
