/**
 * Where each Bookinfo workload runs in the demo: host, uid and address. Every
 * workload listens on 9080, as in Bookinfo, so the ones sharing a host each
 * get an address of their own there (a service's VIP port is its endpoints'
 * port, so they cannot share one address).
 */
export type DemoHost = 'a' | 'b' | 'c';

export interface Workload {
  service: 'productpage' | 'details' | 'reviews' | 'ratings';
  version: 'v1' | 'v2' | 'v3';
  host: DemoHost;
  /** The uid it runs as, given at enrollment: its outbound traffic is captured by it. */
  uid: number;
  /** Last octet of its address in the topology's /24. */
  octet: number;
}

export const SERVICE_PORT = 9080;

export const WORKLOADS: readonly Workload[] = [
  { service: 'productpage', version: 'v1', host: 'a', uid: 3101, octet: 11 },
  { service: 'details', version: 'v1', host: 'b', uid: 3102, octet: 21 },
  { service: 'reviews', version: 'v1', host: 'b', uid: 3103, octet: 22 },
  { service: 'ratings', version: 'v1', host: 'b', uid: 3104, octet: 23 },
  { service: 'reviews', version: 'v2', host: 'c', uid: 3105, octet: 31 },
  { service: 'reviews', version: 'v3', host: 'c', uid: 3106, octet: 32 },
];

export const workloadName = (w: Workload): string => (w.service === 'reviews' ? `reviews-${w.version}` : w.service);

/** The address with the given last octet in a /24 like '10.77.3.0/24'. */
export function addressIn(subnet: string, octet: number): string {
  const m = /^(\d+\.\d+\.\d+)\.\d+\/24$/.exec(subnet);
  if (!m) throw new Error(`the demo expects a /24 topology subnet, got ${subnet}`);
  return `${m[1]}.${octet}`;
}
