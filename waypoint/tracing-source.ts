/**
 * Which tracing settings the waypoint's one tracer runs with. Once the
 * store holds a MeshConfig declaring a tracing provider (opentelemetry,
 * zipkin or console), Istio's Telemetry API is in charge: what it resolves
 * to for the served service applies, "off" included, and changes with every
 * snapshot. Until then the waypoint's settings file (--config) applies, so a
 * mesh without Telemetry resources can still be traced, and an operator who
 * adopts the Telemetry API does not have to empty the file first.
 *
 * One tracer serves all of a waypoint's services (its daemon starts one per
 * service); with several, the first in --service order that resolves to any
 * provider decides.
 */
import type { TracingSettings } from '../core/telemetry/settings.js';
import type { WaypointConfig } from './config.js';
import type { MeshView } from './mesh-view.js';

export type TracingSource = { kind: 'telemetry-api'; service: string | undefined } | { kind: 'settings-file' };

export function tracingSettingsFor(
  mesh: Pick<MeshView, 'typed'>,
  config: Pick<WaypointConfig, 'telemetryFor'>,
  services: readonly string[],
  file: TracingSettings,
): { settings: TracingSettings; source: TracingSource } {
  const declared = mesh.typed.of('MeshConfig').some((m) => m.spec.extensionProviders?.some((p) => p.opentelemetry ?? p.zipkin ?? p.console));
  if (!declared) return { settings: file, source: { kind: 'settings-file' } };
  const resolved = services.map((fqdn) => ({ fqdn, tracing: config.telemetryFor(fqdn)?.settings.tracing }));
  const chosen = resolved.find((r) => r.tracing && r.tracing.providers.length > 0) ?? resolved[0];
  return {
    settings: chosen?.tracing ?? { ...file, providers: [] },
    source: { kind: 'telemetry-api', service: chosen?.fqdn },
  };
}
