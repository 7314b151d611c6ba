/**
 * Host names as Istio configs write them, and the fully qualified names the
 * data plane matches on. Short names resolve the way Kubernetes DNS search
 * paths do for one label, so Istio samples that say `reviews` work on plain
 * hosts too.
 */
import { isIP } from 'node:net';
import { DEFAULT_MESH_DOMAIN } from './resource.js';

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/i;

/**
 * `reviews` -> `reviews.<namespace>.svc.<domain>`. As in Istio, only names
 * without a dot are short: `reviews.other` or `httpbin.org` are taken as fully
 * qualified (a ServiceEntry may name them), as are wildcards and IP addresses.
 */
export function resolveHost(host: string, namespace: string, domain: string = DEFAULT_MESH_DOMAIN): string {
  if (host.includes('*') || host.includes('.') || isIP(host) !== 0) return host;
  return `${host}.${namespace}.svc.${domain}`;
}

/** What is wrong with a host name (`*`, `*.example.com`, `reviews`, an IP), or undefined. */
export function hostProblem(host: string): string | undefined {
  if (host === '*' || isIP(host) !== 0) return undefined;
  const name = host.startsWith('*.') ? host.slice(2) : host;
  const ok = name.length <= 253 && name.split('.').every((l) => l.length <= 63 && LABEL.test(l));
  return ok ? undefined : `${JSON.stringify(host)} is not a valid host name (a DNS name, optionally starting with "*.")`;
}
