/**
 * The telemetry one served service gets from Istio Telemetry resources and the
 * MeshConfig (targetRefs naming the service or the waypoint apply here),
 * compiled once per mesh snapshot by core/telemetry/compiled.ts: whether a
 * finished request is access-logged and what each istio_* metric's overrides
 * are, for requests and for what it proxies as TCP.
 */
import type { MeshView } from './mesh-view.js';
import { CompiledTelemetry } from '../core/telemetry/compiled.js';
import { REQUEST_LABELS } from '../core/telemetry/labels.js';
import { TCP_METRICS } from '../core/telemetry/tcp-series.js';
import { resolveTelemetry } from '../core/telemetry/resolve.js';

/** What a waypoint records: the request metrics, and the TCP ones for what it proxies as TCP (whose labels are a subset). */
const RECORDED = { names: ['REQUEST_COUNT', 'REQUEST_DURATION', 'REQUEST_SIZE', 'RESPONSE_SIZE', ...TCP_METRICS], labels: REQUEST_LABELS } as const;

export class ServiceTelemetry extends CompiledTelemetry {
  constructor(mesh: MeshView, service: { namespace: string; name: string }) {
    super(
      resolveTelemetry(
        { telemetries: mesh.typed.of('Telemetry'), meshConfigs: mesh.typed.of('MeshConfig'), rootNamespace: mesh.policies.rootNamespace },
        { namespace: service.namespace, serviceName: service.name },
      ),
      RECORDED,
    );
  }
}
