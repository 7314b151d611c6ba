/**
 * The address of a DNS resolver as operators write it: "1.2.3.4", "1.2.3.4:5353",
 * "::1", "[::1]:5353" (port 53 by default). Parsed here because ambitd.yaml's
 * schema (checked by the daemon, its SIGHUP reload and `ambit install`) and the
 * DNS forwarder must agree on what is valid.
 */
import { isIP } from 'node:net';

export interface Upstream {
  address: string;
  port: number;
}

/** The resolver `text` names, or undefined when it is not ip, ip:port or [ip6]:port. */
export function parseUpstreamAddress(text: string): Upstream | undefined {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  const hostPort = /^([^:]+):(\d+)$/.exec(text);
  const [address, port] = bracketed ? [bracketed[1], bracketed[2]] : hostPort ? [hostPort[1], hostPort[2]] : [text, undefined];
  const portNumber = port === undefined ? 53 : Number(port);
  if (!address || isIP(address.replace(/%.*$/, '')) === 0 || portNumber < 1 || portNumber > 65535) return undefined;
  return { address, port: portNumber };
}

export function upstreamProblem(text: string): string | undefined {
  return parseUpstreamAddress(text) ? undefined : `upstream resolver ${JSON.stringify(text)} is not ip, ip:port or [ip6]:port`;
}
