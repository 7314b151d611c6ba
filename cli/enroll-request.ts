/**
 * `ambit enroll` as a request, and the endpoint record it becomes. Enrolling
 * an endpoint that exists (same namespace, service, node and port) updates it:
 * a flag not given keeps the value the endpoint had, so re-running enroll to
 * add a label does not silently drop its user (and with it, capture of its
 * outbound traffic) or its service account. Validation happens here, before
 * the store is touched; the merge is pure.
 */
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { UsageError } from '../core/errors.js';
import type { EndpointRecord } from '../core/store/types.js';
import { parsePort } from './port.js';
import { resolveUser } from './unix-user.js';

export interface EnrollFlags {
  port: string;
  address?: string;
  user?: string;
  namespace: string;
  serviceAccount?: string;
  label: string[];
}

/** What the command line fixed; absent fields come from the existing endpoint or the defaults. */
export interface EnrollRequest {
  service: string;
  namespace: string;
  node: string;
  port: number;
  address?: string;
  serviceAccount?: string;
  labels?: Record<string, string>;
  user?: { user: string; uid: number };
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function parseEnrollRequest(service: string, node: string, flags: EnrollFlags): EnrollRequest {
  if (!DNS_LABEL.test(service)) throw new UsageError(`service name ${JSON.stringify(service)} must be a DNS label (lowercase letters, digits, '-')`);
  if (!DNS_LABEL.test(flags.namespace)) throw new UsageError(`--namespace ${JSON.stringify(flags.namespace)} must be a DNS label`);
  if (flags.serviceAccount !== undefined && !DNS_LABEL.test(flags.serviceAccount)) {
    throw new UsageError(`--service-account ${JSON.stringify(flags.serviceAccount)} must be a DNS label`);
  }
  if (flags.address !== undefined && !isIP(flags.address)) throw new UsageError(`--address ${JSON.stringify(flags.address)} is not an IP address`);
  let labels: Record<string, string> | undefined;
  for (const pair of flags.label) {
    const m = /^([A-Za-z0-9][-A-Za-z0-9_./]{0,252})=([-A-Za-z0-9_.]{0,63})$/.exec(pair);
    if (!m) throw new UsageError(`--label ${JSON.stringify(pair)}: expected key=value`);
    labels = { ...labels, [m[1]!]: m[2]! };
  }
  return {
    service,
    namespace: flags.namespace,
    node,
    port: parsePort(flags.port),
    ...(flags.address !== undefined ? { address: flags.address } : {}),
    ...(flags.serviceAccount !== undefined ? { serviceAccount: flags.serviceAccount } : {}),
    ...(labels ? { labels } : {}),
    ...(flags.user ? { user: resolveUser(flags.user) } : {}),
  };
}

export interface Enrollment {
  endpoint: EndpointRecord;
  /** The flags not given whose value the existing endpoint kept, for the status line. */
  kept: string[];
}

/**
 * The record to write. `existing` are the service's endpoints already in the store;
 * `nodeAddress` the node's heartbeat address (the default address of a new endpoint).
 */
export function enrollmentOf(req: EnrollRequest, existing: EndpointRecord[], nodeAddress: string | undefined): Enrollment {
  const same = existing.filter(
    (e) =>
      e.namespace === req.namespace && e.service === req.service && e.node === req.node && e.port === req.port && (!req.address || e.address === req.address),
  );
  if (same.length > 1) {
    throw new UsageError(
      `${req.namespace}/${req.service} has ${same.length} endpoints on node ${req.node} port ${req.port} (${same.map((e) => e.address).join(', ')}): pass --address to say which`,
    );
  }
  const base = same[0];
  const kept: string[] = [];
  const keep = <T>(given: T | undefined, had: T | undefined, flag: string, fallback: T): T => {
    if (given !== undefined) return given;
    if (had === undefined) return fallback;
    kept.push(flag);
    return had;
  };
  const address = keep(req.address, base?.address, '--address', nodeAddress ?? hostAddress());
  const serviceAccount = keep(req.serviceAccount, base?.serviceAccount, '--service-account', req.service);
  const labels = keep(req.labels, base && Object.keys(base.labels).length ? base.labels : undefined, '--label', {});
  const had = base?.uid !== undefined ? { user: base.user ?? String(base.uid), uid: base.uid } : undefined;
  const user = keep<{ user: string; uid: number } | undefined>(req.user, had, '--user', undefined);
  return {
    endpoint: { service: req.service, namespace: req.namespace, node: req.node, address, port: req.port, serviceAccount, labels, ...(user ?? {}) },
    kept,
  };
}

/** The first non-loopback IPv4 address: where peers most likely reach this host. */
function hostAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}
