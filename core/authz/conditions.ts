/**
 * `when` keys: which request attribute each names, and whether the daemon
 * (L4, no HTTP parsing) can evaluate it. The L4 set is ztunnel's: istiod hands
 * ztunnel only source.ip, source.namespace, source.principal, destination.ip
 * and destination.port; every other key (remote.ip and connection.sni too)
 * counts as an HTTP attribute there.
 */
import * as m from './matchers.js';
import type { AttributeMatcher } from './matchers.js';

export interface ConditionAttribute {
  matcher: AttributeMatcher;
  /** Evaluable by the daemon without a waypoint. */
  l4: boolean;
}

const PLAIN: Record<string, ConditionAttribute> = {
  'source.ip': { matcher: m.sourceIps, l4: true },
  'source.namespace': { matcher: m.namespaces, l4: true },
  'source.principal': { matcher: m.principals, l4: true },
  'destination.ip': { matcher: m.destinationIps, l4: true },
  'destination.port': { matcher: m.ports, l4: true },
  'remote.ip': { matcher: m.remoteIps, l4: false },
  'source.serviceAccount': { matcher: m.serviceAccounts, l4: false },
  'connection.sni': { matcher: m.sni, l4: false },
  'request.auth.principal': { matcher: m.requestPrincipals, l4: false },
  'request.auth.audiences': { matcher: m.claim(['aud']), l4: false },
  'request.auth.presenter': { matcher: m.claim(['azp']), l4: false },
};

/** `a[b][c]` -> ["b", "c"]; undefined unless the whole suffix is brackets. */
function bracketed(suffix: string): string[] | undefined {
  const names = [...suffix.matchAll(/\[([^\][]+)\]/g)].map((x) => x[1]!);
  return names.length > 0 && names.map((n) => `[${n}]`).join('') === suffix ? names : undefined;
}

/** What `key` matches, or undefined when Istio does not define it. */
export function conditionAttribute(key: string): ConditionAttribute | undefined {
  if (Object.hasOwn(PLAIN, key)) return PLAIN[key];
  if (key.startsWith('request.headers[')) {
    // Header names are case-insensitive; requests carry them lower-case. Only one name.
    const names = bracketed(key.slice('request.headers'.length));
    return names?.length === 1 ? { matcher: m.header(names[0]!.toLowerCase()), l4: false } : undefined;
  }
  if (key.startsWith('request.auth.claims[')) {
    const names = bracketed(key.slice('request.auth.claims'.length));
    return names ? { matcher: m.claim(names), l4: false } : undefined;
  }
  // Envoy filter metadata: ambit has no Envoy filters, so the attribute is never
  // present: `values` never match and `notValues` always do, as in an Envoy
  // without that filter. The compiler warns about it.
  if (key.startsWith('experimental.envoy.filters.')) return { matcher: m.absent, l4: false };
  return undefined;
}
