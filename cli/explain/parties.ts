/**
 * What `ambit explain FROM TO[:PORT]` names, found in the mesh: FROM is an
 * enrolled workload (by service, `ns/service`, FQDN or address) or, when
 * nothing enrolled has that address, a client outside the mesh; TO is a
 * service, a ServiceEntry host or an address, with the port the client dials.
 * Words that name nothing are usage errors that say what would.
 */
import { isIP } from 'node:net';
import { UsageError } from '../../core/errors.js';
import type { MeshState, ServiceView } from '../../core/mesh/index.js';
import type { EndpointRecord } from '../../core/store/types.js';

export type Source =
  /** `others`: how many more endpoints the service has (the first with a Unix user is explained). */
  { kind: 'workload'; endpoint: EndpointRecord; others: number } | { kind: 'outside'; address: string };

export interface Destination {
  /** What the client dials: a VIP, an endpoint's or an outside address. */
  address: string;
  port: number;
  /** The service TO named or whose VIP it is. */
  service: ServiceView | undefined;
  /** The ServiceEntry host TO named. */
  host: string | undefined;
}

/** `reviews`, `default/reviews`, `reviews.default`, `reviews.default.svc.cluster.local`: [namespace, name] or an FQDN. */
function serviceIn(state: MeshState, word: string, namespace: string, domain: string): ServiceView | undefined {
  const slash = word.indexOf('/');
  if (slash > 0) return state.serviceByName(`${word.slice(slash + 1)}.${word.slice(0, slash)}.svc.${domain}`.toLowerCase());
  const parts = word.toLowerCase().split('.');
  if (parts.length === 1) return state.serviceByName(`${parts[0]}.${namespace}.svc.${domain}`);
  if (parts.length === 2) return state.serviceByName(`${parts[0]}.${parts[1]}.svc.${domain}`);
  return state.serviceByName(word.toLowerCase().replace(/\.$/, ''));
}

/** Enrolled endpoints (waypoints are not workloads) with `address`, those a uid owns first. */
function endpointsAt(state: MeshState, address: string): EndpointRecord[] {
  return state
    .services()
    .flatMap((s) => s.endpoints)
    .filter((ep) => ep.address === address)
    .sort((a, b) => Number(b.uid !== undefined) - Number(a.uid !== undefined));
}

export function findSource(state: MeshState, word: string, namespace: string, domain: string): Source {
  if (isIP(word)) {
    const [first, ...rest] = endpointsAt(state, word);
    return first ? { kind: 'workload', endpoint: first, others: rest.length } : { kind: 'outside', address: word };
  }
  const service = serviceIn(state, word, namespace, domain);
  if (!service) {
    throw new UsageError(
      `FROM ${word}: no enrolled service of that name in namespace ${namespace}: name one (ambit get services -A), or give an address for a client outside the mesh`,
    );
  }
  const ordered = [...service.endpoints].sort((a, b) => Number(b.uid !== undefined) - Number(a.uid !== undefined));
  const [first, ...rest] = ordered;
  if (!first) throw new UsageError(`FROM ${word}: service ${service.fqdn} has no endpoints: enroll one, or give an address`);
  return { kind: 'workload', endpoint: first, others: rest.length };
}

/** `host[:port]`, `[v6]:port`, or a bare IPv6 address. */
export function splitPort(word: string): { name: string; port: number | undefined } {
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(word);
  if (bracket) return { name: bracket[1]!, port: bracket[2] === undefined ? undefined : portNumber(bracket[2], word) };
  if (isIP(word) === 6) return { name: word, port: undefined };
  const colon = word.lastIndexOf(':');
  if (colon < 0) return { name: word, port: undefined };
  return { name: word.slice(0, colon), port: portNumber(word.slice(colon + 1), word) };
}

function portNumber(text: string, word: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65535) throw new UsageError(`TO ${word}: the port must be a number from 1 to 65535`);
  return port;
}

export function findDestination(state: MeshState, word: string, namespace: string, domain: string): Destination {
  const { name, port } = splitPort(word);
  if (isIP(name)) {
    if (port === undefined) throw new UsageError(`TO ${word}: give the port the client dials, as ${name}:PORT`);
    return { address: name, port, service: state.serviceByVip(name), host: undefined };
  }
  const service = serviceIn(state, name, namespace, domain);
  if (service) {
    const vip = service.record.vip;
    if (!vip) throw new UsageError(`TO ${word}: service ${service.fqdn} has no VIP yet: enroll it again, or name an endpoint address`);
    const ports = service.record.ports;
    if (port === undefined && ports.length !== 1)
      throw new UsageError(`TO ${word}: service ${service.fqdn} has ports ${ports.join(', ')}: name one, as ${name}:PORT`);
    return { address: vip, port: port ?? ports[0]!, service, host: undefined };
  }
  const host = name.toLowerCase();
  const addresses = state.serviceEntryAddresses(host);
  if (addresses?.[0] !== undefined) {
    if (port === undefined) throw new UsageError(`TO ${word}: give the port of ServiceEntry host ${host}, as ${host}:PORT`);
    return { address: addresses[0], port, service: undefined, host };
  }
  throw new UsageError(`TO ${word}: no service in namespace ${namespace} and no ServiceEntry host of that name: name a service, a host, or give ADDRESS:PORT`);
}
