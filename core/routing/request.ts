/**
 * The request as routing sees it, and the few values several matchers and
 * balancers need (path without query, lower-cased path, query values), found
 * by scanning the original strings rather than by building maps per request.
 */
import type { Labels } from '../config/index.js';

export type HeaderValue = string | readonly string[] | undefined;
/** Node's IncomingHttpHeaders shape: names lower-case. */
export type RequestHeaders = Readonly<Record<string, HeaderValue>>;

export interface RouteRequest {
  /** :authority / Host as received, with or without a port. */
  host: string;
  /** The destination port the caller dialed (the service port). */
  port: number;
  method: string;
  /** :path, query included. */
  path: string;
  /** `http` unless the caller said otherwise. */
  scheme?: string;
  headers: RequestHeaders;
  /**
   * The FQDN of the service the caller dialed (known from the VIP). Istio's
   * waypoint picks the VirtualService by this service, not by the Host header.
   */
  service?: string;
  sourceLabels?: Readonly<Labels>;
  sourceNamespace?: string;
  /** For consistentHash useSourceIp and generated cookies. */
  sourceIp?: string;
}

/** Envoy matches a multi-valued header as its values joined by ",". */
export function headerValue(headers: RequestHeaders, name: string): string | undefined {
  const v = headers[name];
  if (v === undefined || typeof v === 'string') return v;
  return v.join(',');
}

/** Index of the end of the path part (`?` or `#`), or the length. */
export function pathEnd(path: string): number {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 63 /* ? */ || c === 35 /* # */) return i;
  }
  return path.length;
}

export function stripQuery(path: string): string {
  const end = pathEnd(path);
  return end === path.length ? path : path.slice(0, end);
}

/**
 * The first value of query parameter `name`, undecoded, "" for `?name`, or
 * undefined when absent. Envoy's route matcher reads the raw query string and
 * the first occurrence of a key, without percent-decoding.
 */
export function queryValue(path: string, name: string): string | undefined {
  let i = path.indexOf('?');
  if (i < 0) return undefined;
  const hash = path.indexOf('#', i);
  const end = hash < 0 ? path.length : hash;
  i++;
  while (i <= end) {
    let amp = path.indexOf('&', i);
    if (amp < 0 || amp > end) amp = end;
    const eq = path.indexOf('=', i);
    const keyEnd = eq >= 0 && eq < amp ? eq : amp;
    if (keyEnd - i === name.length && path.startsWith(name, i)) {
      return keyEnd === amp ? '' : path.slice(keyEnd + 1, amp);
    }
    i = amp + 1;
  }
  return undefined;
}

/** The value of cookie `name` in a Cookie header, or undefined. */
export function cookieValue(cookie: string | undefined, name: string): string | undefined {
  if (cookie === undefined) return undefined;
  let i = 0;
  while (i < cookie.length) {
    while (cookie.charCodeAt(i) === 32) i++;
    let semi = cookie.indexOf(';', i);
    if (semi < 0) semi = cookie.length;
    if (cookie.startsWith(name, i) && cookie.charCodeAt(i + name.length) === 61 /* = */) {
      return cookie.slice(i + name.length + 1, semi);
    }
    i = semi + 1;
  }
  return undefined;
}

/** Host without port; handles `[v6]:port`. Lower-cased: DNS names match case-insensitively. */
export function hostWithoutPort(authority: string): string {
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    return close < 0 ? authority : authority.slice(0, close + 1);
  }
  const colon = authority.lastIndexOf(':');
  const host = colon >= 0 && authority.indexOf(':') === colon ? authority.slice(0, colon) : authority;
  return host.toLowerCase();
}

/**
 * Per-request memo of derived values, so matching N routes parses the
 * path once. One small object per request.
 */
export class RequestView {
  readonly req: RouteRequest;
  #pathOnly: string | undefined;
  #lowerPathOnly: string | undefined;
  #lowerPath: string | undefined;

  constructor(req: RouteRequest) {
    this.req = req;
  }

  get pathOnly(): string {
    return (this.#pathOnly ??= stripQuery(this.req.path));
  }

  get lowerPathOnly(): string {
    return (this.#lowerPathOnly ??= this.pathOnly.toLowerCase());
  }

  get lowerPath(): string {
    return (this.#lowerPath ??= this.req.path.toLowerCase());
  }
}
