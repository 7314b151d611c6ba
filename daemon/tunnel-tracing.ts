/**
 * ambitd's spans: one per tunnelled connection on each end, which ztunnel
 * does not have. The sending daemon's is a CLIENT span (a new trace, sampled
 * by ratio: an application's TCP carries no context ambitd could read) whose
 * context rides on the HBONE CONNECT; the receiving daemon's is a SERVER span
 * whose parent is whatever context the CONNECT carried: the sending daemon's
 * span, or the try of the waypoint that opened the tunnel, so a request
 * traced through a waypoint shows where its bytes went. Each span has the
 * peer identity, the authorization decision and the bytes both ways.
 *
 * Providers and sampling come from Istio's Telemetry API as for waypoints
 * (core/telemetry/resolve.ts), resolved for this node's workloads: the first
 * one, in enrollment order, that resolves to a provider decides, since one
 * tracer serves the whole node. No MeshConfig provider means no tracing and
 * no cost beyond one check per connection.
 */
import type { Attributes } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { MeshState } from '../core/mesh/index.js';
import type { EndpointRecord } from '../core/store/types.js';
import { resolveTelemetry } from '../core/telemetry/resolve.js';
import { DEFAULT_TELEMETRY, type TracingSettings } from '../core/telemetry/settings.js';
import { MeshTracer, type ServerTrace, type TracingMetrics } from '../core/telemetry/tracing/tracer.js';

export type { ServerTrace as TunnelSpan } from '../core/telemetry/tracing/tracer.js';

/** What a span's end says: bytes each way, and why it failed if it did. */
export interface TunnelOutcome {
  bytesToDestination: number;
  bytesFromDestination: number;
  /** OTel error.type: an HBONE or socket error code, or authz_denied / not_local_workload. */
  errorType?: string;
  attributes?: Attributes;
}

export class TunnelTracing {
  readonly #tracer: MeshTracer;

  constructor(metrics: TracingMetrics, log: Logger) {
    this.#tracer = new MeshTracer({ serviceName: 'ambitd', settings: DEFAULT_TELEMETRY.tracing, metrics, log });
  }

  get enabled(): boolean {
    return this.#tracer.enabled;
  }

  /** A new config snapshot: the Telemetry API's tracing for this node, live. */
  update(state: MeshState): void {
    this.#tracer.update(nodeTracing(state));
  }

  /** The receiving end: a SERVER span under the context the CONNECT carried. */
  inbound(headers: Record<string, string | string[] | undefined>, attributes: () => Attributes): ServerTrace | undefined {
    if (!this.#tracer.enabled) return undefined;
    return this.#tracer.startServer({ name: 'ambitd inbound tunnel', headers, attributes });
  }

  /** The sending end: a CLIENT span starting a trace; `headersFor(spanId)` goes on the CONNECT. */
  outbound(attributes: () => Attributes): ServerTrace | undefined {
    if (!this.#tracer.enabled) return undefined;
    return this.#tracer.startServer({ name: 'ambitd outbound tunnel', headers: {}, attributes, kind: 'client' });
  }

  shutdown(): Promise<void> {
    return this.#tracer.shutdown();
  }
}

/** Ends a tunnel span (a no-op without one) with its bytes and outcome. */
export function endTunnelSpan(span: ServerTrace | undefined, outcome: TunnelOutcome): void {
  span?.end(
    () => ({
      'ambit.bytes_to_destination': outcome.bytesToDestination,
      'ambit.bytes_from_destination': outcome.bytesFromDestination,
      ...outcome.attributes,
    }),
    outcome.errorType,
  );
}

/** Mesh facts shared by both ends' spans. */
export function tunnelAttributes(o: {
  source: string;
  destination: EndpointRecord | undefined;
  destinationPrincipal?: string;
  peer: string;
  authority: string;
}): Attributes {
  return {
    'ambit.source_principal': o.source,
    ...(o.destinationPrincipal !== undefined ? { 'ambit.destination_principal': o.destinationPrincipal } : {}),
    ...(o.destination ? { 'ambit.destination_workload': `${o.destination.namespace}/${o.destination.service}` } : {}),
    'network.peer.address': o.peer,
    'server.address': o.authority,
    'network.transport': 'tcp',
  };
}

function nodeTracing(state: MeshState): TracingSettings {
  const inputs = { telemetries: state.typed.of('Telemetry'), meshConfigs: state.typed.of('MeshConfig'), rootNamespace: state.policies.rootNamespace };
  let first: TracingSettings | undefined;
  for (const ep of state.localEndpoints()) {
    const tracing = resolveTelemetry(inputs, { namespace: ep.namespace, labels: ep.labels }).settings.tracing;
    first ??= tracing;
    if (tracing.providers.length > 0) return tracing;
  }
  return first ?? DEFAULT_TELEMETRY.tracing;
}
