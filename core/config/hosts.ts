/**
 * Host names as Istio configs write them, and the fully qualified names the
 * data plane matches on. Short names resolve the way Kubernetes DNS search
 * paths do, so Istio samples that say `reviews` work on plain hosts too.
 */
import { isIP } from 'node:net';
import { DEFAULT_MESH_DOMAIN } from './resource.js';

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/i;

/**
 * `reviews` -> `reviews.<namespace>.svc.<domain>`; `reviews.other` ->
 * `reviews.other.svc.<domain>`; `reviews.other.svc` gets the domain appended.
 * Wildcards, IP addresses and any other name with two or more dots are taken
 * as fully qualified and left alone.
 */
export function resolveHost(host: string, namespace: string, domain: string = DEFAULT_MESH_DOMAIN): string {
  if (host.includes('*') || isIP(host) !== 0) return host;
  if (host === domain || host.endsWith(`.${domain}`)) return host;
  const labels = host.split('.');
  if (labels.length === 1) return `${host}.${namespace}.svc.${domain}`;
  if (labels.length === 2) return `${host}.svc.${domain}`;
  if (labels.length === 3 && labels[2] === 'svc') return `${host}.${domain}`;
  return host;
}

/** What is wrong with a host name (`*`, `*.example.com`, `reviews`, an IP), or undefined. */
export function hostProblem(host: string): string | undefined {
  if (host === '*' || isIP(host) !== 0) return undefined;
  const name = host.startsWith('*.') ? host.slice(2) : host;
  const ok = name.length <= 253 && name.split('.').every((l) => l.length <= 63 && LABEL.test(l));
  return ok ? undefined : `${JSON.stringify(host)} is not a valid host name (a DNS name, optionally starting with "*.")`;
}
