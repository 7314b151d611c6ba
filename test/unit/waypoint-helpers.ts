/** Builders for the waypoint routing tests: typed resources from plain specs, requests, a seeded RNG. */
import { normalize, type TypedResource } from '../../core/config/index.js';
import type { RouteRequest } from '../../core/routing/index.js';

let clock = 0;

/** A normalized resource; each call is one second younger than the previous. */
export function typed(kind: 'VirtualService' | 'DestinationRule', name: string, spec: Record<string, unknown>, namespace = 'default'): TypedResource {
  clock++;
  const creationTimestamp = new Date(Date.UTC(2024, 0, 1, 0, 0, clock)).toISOString();
  return normalize({ apiVersion: 'networking.istio.io/v1', kind, metadata: { name, namespace, creationTimestamp }, spec });
}

export const vs = (name: string, spec: Record<string, unknown>, ns?: string) => typed('VirtualService', name, spec, ns);
export const dr = (name: string, spec: Record<string, unknown>, ns?: string) => typed('DestinationRule', name, spec, ns);

export const fqdn = (short: string, ns = 'default') => `${short}.${ns}.svc.cluster.local`;

export function req(over: Partial<RouteRequest> = {}): RouteRequest {
  return { host: 'reviews:9080', port: 9080, method: 'GET', path: '/', headers: {}, sourceNamespace: 'default', ...over };
}

/** mulberry32: a small deterministic uniform [0, 1) generator. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A fixed sequence of rng values, repeating. */
export const sequence = (...xs: number[]) => {
  let i = 0;
  return () => xs[i++ % xs.length]!;
};
