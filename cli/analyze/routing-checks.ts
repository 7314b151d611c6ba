/**
 * `ambit analyze` for traffic routing: VirtualService and DestinationRule
 * against the live mesh. Subsets are resolved by the waypoint's own route
 * table (RouteTable.policyFor) and narrowed to endpoints by subsetEndpoints
 * (cli/subset-endpoints.ts),
 * so "undefined subset" and "no endpoint" mean what the waypoint would do:
 * 503 NC and 503 UH.
 */
import type { TypedResource } from '../../core/config/index.js';
import type { MeshState, ServiceView } from '../../core/mesh/index.js';
import { compileRoutes, type RouteTable } from '../../core/routing/index.js';
import { subsetOf } from '../subset-endpoints.js';
import type { Finding, ResourceName } from './findings.js';

type Report = (f: Finding) => void;

const nameOf = (r: TypedResource): ResourceName => ({ kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name });

/** A host the mesh knows: an enrolled service, a ServiceEntry host (a wildcard one covers its suffix). */
export function hostKnown(state: MeshState, host: string): boolean {
  if (host.startsWith('*')) return true;
  if (state.serviceByName(host)) return true;
  return state.serviceEntries().some((e) => e.hosts.some((h) => h === host || (h.startsWith('*.') && host.endsWith(h.slice(1)))));
}

/** Traffic goes through a waypoint only once one is ready (MeshState.waypointsFor): until then ambitd routes at L4. */
export const hasWaypoint = (state: MeshState, service: ServiceView): boolean => state.waypointsFor(service).length > 0;

export function routingFindings(state: MeshState, domain: string, report: Report): void {
  const vss = state.typed.of('VirtualService');
  const drs = state.typed.of('DestinationRule');
  const table = compileRoutes(vss, drs, { domain });
  for (const vs of vss) virtualServiceFindings(state, table, vs, report);
  for (const dr of drs) {
    if (!hostKnown(state, dr.spec.host)) {
      report({
        code: 'EANALYZE_HOST_NOT_FOUND',
        severity: 'Warning',
        resource: nameOf(dr),
        message: `host ${dr.spec.host} names no enrolled service and no ServiceEntry host: the DestinationRule applies to nothing`,
        fix: `correct spec.host, enroll the service, or add a ServiceEntry for ${dr.spec.host}`,
      });
    }
  }
  conflictFindings(compileRoutes(vss, [], { domain }), vss, 'VirtualService', report);
  conflictFindings(compileRoutes([], drs, { domain }), drs, 'DestinationRule', report);
}

function conflictFindings(table: RouteTable, resources: readonly TypedResource[], kind: string, report: Report): void {
  for (const c of table.conflicts) {
    for (const ignored of c.ignored) {
      const r = resources.find((x) => `${x.metadata.namespace}/${x.metadata.name}` === ignored);
      const [namespace = '', name = ''] = ignored.split('/');
      report({
        code: 'EANALYZE_HOST_CONFLICT',
        severity: 'Warning',
        resource: r ? nameOf(r) : { kind, namespace, name },
        message: `${kind} ${c.kept} already claims host ${c.host} (it is older): this one is ignored for that host`,
        fix: `merge ${ignored} into ${c.kept}, one ${kind} per host`,
      });
    }
  }
}

function virtualServiceFindings(state: MeshState, table: RouteTable, vs: TypedResource<'VirtualService'>, report: Report): void {
  const resource = nameOf(vs);
  for (const host of vs.spec.hosts) {
    const service = state.serviceByName(host);
    if (!hostKnown(state, host)) {
      report({
        code: 'EANALYZE_HOST_NOT_FOUND',
        severity: 'Warning',
        resource,
        message: `host ${host} names no enrolled service and no ServiceEntry host: no traffic is routed by this VirtualService for it`,
        fix: `correct spec.hosts (short names resolve in namespace ${vs.metadata.namespace}), enroll the service, or add a ServiceEntry`,
      });
    } else if (service && (vs.spec.http?.length ?? 0) > 0 && !hasWaypoint(state, service)) {
      report({
        code: 'EANALYZE_NO_WAYPOINT',
        severity: 'Warning',
        resource,
        message: `service ${service.fqdn} has no ready waypoint: ambitd sends its traffic straight to the endpoints at L4, and none of these HTTP routes apply`,
        fix: `attach a waypoint: ambit waypoint attach ${service.record.name} -n ${service.record.namespace} --node NODE`,
      });
    }
  }
  const destinations = [
    ...(vs.spec.http ?? []).flatMap((r, i) => [
      ...(r.route ?? []).map((d, j) => ({ where: `http[${i}].route[${j}]`, dest: d.destination })),
      ...(r.mirror ? [{ where: `http[${i}].mirror`, dest: r.mirror }] : []),
      ...(r.mirrors ?? []).map((m, j) => ({ where: `http[${i}].mirrors[${j}]`, dest: m.destination })),
    ]),
    ...(vs.spec.tcp ?? []).flatMap((r, i) => (r.route ?? []).map((d, j) => ({ where: `tcp[${i}].route[${j}]`, dest: d.destination }))),
  ];
  for (const { where, dest } of destinations) {
    if (!hostKnown(state, dest.host)) {
      report({
        code: 'EANALYZE_HOST_NOT_FOUND',
        severity: 'Error',
        resource,
        message: `${where} sends to host ${dest.host}, which names no enrolled service and no ServiceEntry host: those requests fail`,
        fix: `correct ${where}.destination.host, or enroll ${dest.host}`,
      });
      continue;
    }
    if (dest.subset === undefined) continue;
    const service = state.serviceByName(dest.host);
    const port = dest.port?.number ?? service?.record.ports[0] ?? 80;
    const policy = table.policyFor(dest.host, dest.subset, port);
    if (!policy) {
      report({
        code: 'EANALYZE_SUBSET_UNDEFINED',
        severity: 'Error',
        resource,
        message: `${where} sends to subset ${dest.subset} of ${dest.host}, which no DestinationRule for that host defines: the waypoint answers 503 (NC)`,
        fix: `add subset ${dest.subset} (with its labels) to the DestinationRule of ${dest.host}, or route to a subset it defines`,
      });
      continue;
    }
    if (!service || !policy.subsetLabels) continue;
    if (subsetOf(service.endpoints, policy.subsetLabels).length === 0) {
      const wanted = Object.entries(policy.subsetLabels)
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
      report({
        code: 'EANALYZE_SUBSET_NO_ENDPOINTS',
        severity: 'Warning',
        resource,
        message: `${where} sends to subset ${dest.subset} of ${dest.host}, but no endpoint has its labels ${wanted}: those requests get 503 (UH)`,
        fix: `enroll an endpoint of ${service.record.name} with labels ${wanted}, or correct the subset's labels (ambit get endpoints ${service.record.name} -n ${service.record.namespace})`,
      });
    }
  }
}
