import { isIP } from 'node:net';

/**
 * The CONNECT `:authority` of an HBONE stream: the original destination as
 * `ip:port`, IPv6 in brackets (RFC 9113 §8.5, RFC 3986 host syntax). Only IP
 * literals: the destination was read from the kernel (SO_ORIGINAL_DST) or
 * chosen from an endpoint list, so a hostname here is a malformed request,
 * never something to resolve.
 */
export interface Authority {
  /** The IP without brackets. */
  host: string;
  port: number;
  family: 4 | 6;
}

export function formatAuthority(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Parses `ip:port` / `[ipv6]:port`; undefined when malformed. */
export function parseAuthority(value: string | undefined): Authority | undefined {
  if (!value || value.length > 64) return undefined;
  let host: string;
  let portText: string;
  if (value.startsWith('[')) {
    const close = value.indexOf(']');
    if (close === -1 || value[close + 1] !== ':') return undefined;
    host = value.slice(1, close);
    portText = value.slice(close + 2);
    if (isIP(host) !== 6) return undefined;
  } else {
    const colon = value.lastIndexOf(':');
    if (colon === -1) return undefined;
    host = value.slice(0, colon);
    portText = value.slice(colon + 1);
    if (isIP(host) !== 4) return undefined;
  }
  // Canonical decimal only: `09000` names the same port as `9000` to Number() but not to
  // every parser, and two readings of one authority are how policy gets bypassed.
  if (!/^[1-9][0-9]{0,4}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port < 1 || port > 65535) return undefined;
  return { host, port, family: host.includes(':') ? 6 : 4 };
}
