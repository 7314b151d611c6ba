/**
 * A request as the matchers read it: the values several matchers need
 * (the parsed identity, parsed addresses, the path without its query) are
 * derived once, on first use, instead of once per rule.
 */
import { parseAddress, type Address } from './address.js';
import type { AuthzRequest, L7Request } from './types.js';

/** An L7Request carries the HTTP method; an L4Request never does. */
export function isL7(request: AuthzRequest): request is L7Request {
  return typeof (request as Partial<L7Request>).method === 'string';
}

interface Identity {
  principal?: string;
  namespace?: string;
  serviceAccount?: string;
}

/**
 * `<td>/ns/<ns>/sa/<sa>`: the namespace and service account are the segments
 * after `ns` and `sa` (Istio's regexes allow other key/value pairs between).
 * Istio takes the namespace from the principal only; the caller's
 * sourceNamespace fills in for an identity that has no `ns` segment.
 */
function parseIdentity(sourcePrincipal: string | undefined, namespace: string | undefined): Identity {
  if (sourcePrincipal === undefined) return {};
  const principal = sourcePrincipal.startsWith('spiffe://') ? sourcePrincipal.slice('spiffe://'.length) : sourcePrincipal;
  const segments = principal.split('/');
  const after = (key: string) => {
    const i = segments.indexOf(key, 1);
    return i > 0 ? segments[i + 1] : undefined;
  };
  return { principal, namespace: after('ns') ?? namespace, serviceAccount: after('sa') };
}

function stripQuery(path: string): string {
  const end = path.search(/[?#]/);
  return end < 0 ? path : path.slice(0, end);
}

function splitRequestPrincipal(rp: string | undefined): [string | undefined, string | undefined] {
  if (rp === undefined) return [undefined, undefined];
  const slash = rp.lastIndexOf('/');
  return slash < 0 ? [rp, undefined] : [rp.slice(0, slash), rp.slice(slash + 1)];
}

const UNSET = Symbol('unset');
type Lazy<T> = T | typeof UNSET;

export class RequestView {
  readonly l7: L7Request | undefined;
  #identityMemo: Lazy<Identity> = UNSET;
  #source: Lazy<Address | undefined> = UNSET;
  #remote: Lazy<Address | undefined> = UNSET;
  #destination: Lazy<Address | undefined> = UNSET;
  #path: Lazy<string | undefined> = UNSET;
  #host: Lazy<string | undefined> = UNSET;
  #issSubMemo: Lazy<[string | undefined, string | undefined]> = UNSET;

  constructor(readonly request: AuthzRequest) {
    this.l7 = isL7(request) ? request : undefined;
  }

  get #identity(): Identity {
    if (this.#identityMemo === UNSET) this.#identityMemo = parseIdentity(this.request.sourcePrincipal, this.request.sourceNamespace);
    return this.#identityMemo;
  }

  /** Without the `spiffe://` prefix; undefined for plaintext. */
  get principal(): string | undefined {
    return this.#identity.principal;
  }
  get namespace(): string | undefined {
    return this.#identity.namespace;
  }
  get serviceAccount(): string | undefined {
    return this.#identity.serviceAccount;
  }

  get sourceIp(): Address | undefined {
    if (this.#source === UNSET) this.#source = parseAddress(this.request.sourceIp);
    return this.#source;
  }
  get remoteIp(): Address | undefined {
    if (this.#remote === UNSET) this.#remote = this.l7?.remoteIp === undefined ? this.sourceIp : parseAddress(this.l7.remoteIp);
    return this.#remote;
  }
  get destinationIp(): Address | undefined {
    if (this.#destination === UNSET) this.#destination = parseAddress(this.request.destinationIp);
    return this.#destination;
  }
  get destinationPort(): number {
    return this.request.destinationPort;
  }
  get sni(): string | undefined {
    return this.request.sni;
  }

  get method(): string | undefined {
    return this.l7?.method;
  }
  get path(): string | undefined {
    if (this.#path === UNSET) this.#path = this.l7 && stripQuery(this.l7.path);
    return this.#path;
  }
  /** Lower-case: Istio compares hosts case-insensitively (CVE-2021-39155). */
  get host(): string | undefined {
    if (this.#host === UNSET) this.#host = this.l7?.host.toLowerCase();
    return this.#host;
  }
  /** Repeated headers join with "," as Envoy's header matcher sees them. */
  header(name: string): string | undefined {
    const value = this.l7?.headers[name];
    return typeof value === 'string' || value === undefined ? value : value.join(',');
  }

  get #issSub(): [string | undefined, string | undefined] {
    if (this.#issSubMemo === UNSET) {
      const claims = this.l7?.claims;
      this.#issSubMemo =
        typeof claims?.iss === 'string' && typeof claims.sub === 'string' ? [claims.iss, claims.sub] : splitRequestPrincipal(this.l7?.requestPrincipal);
    }
    return this.#issSubMemo;
  }
  get issuer(): string | undefined {
    return this.#issSub[0];
  }
  get subject(): string | undefined {
    return this.#issSub[1];
  }

  /** A JWT claim by path (`[a][b]` nests); undefined when absent. */
  claim(path: readonly string[]): unknown {
    const l7 = this.l7;
    if (!l7) return undefined;
    if (path.length === 1 && path[0] === 'aud' && l7.audiences) return l7.audiences;
    if (path.length === 1 && path[0] === 'azp' && l7.presenter !== undefined) return l7.presenter;
    let value: unknown = l7.claims;
    for (const key of path) {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
      value = Object.hasOwn(value, key) ? (value as Record<string, unknown>)[key] : undefined;
    }
    return value;
  }
}
