/** The kind-specific columns `ambit get KIND` shows, as istioctl/kubectl do. */
import type { Resource } from '../core/config/resource.js';

interface Columns {
  head: string[];
  cells(r: Resource): string[];
}

const list = (v: unknown): string => (Array.isArray(v) && v.length ? v.join(',') : '-');
const text = (v: unknown): string => {
  if (v === undefined || v === null || v === '') return '-';
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
};

const COLUMNS: Record<string, Columns> = {
  VirtualService: { head: ['HOSTS'], cells: (r) => [list(r.spec.hosts)] },
  DestinationRule: {
    head: ['HOST', 'SUBSETS'],
    cells: (r) => [text(r.spec.host), list((r.spec.subsets as { name: string }[] | undefined)?.map((s) => s.name))],
  },
  ServiceEntry: { head: ['HOSTS', 'LOCATION', 'RESOLUTION'], cells: (r) => [list(r.spec.hosts), text(r.spec.location), text(r.spec.resolution)] },
  WorkloadEntry: { head: ['ADDRESS'], cells: (r) => [text(r.spec.address)] },
  AuthorizationPolicy: { head: ['ACTION'], cells: (r) => [text(r.spec.action ?? 'ALLOW')] },
  PeerAuthentication: { head: ['MODE'], cells: (r) => [text((r.spec.mtls as { mode?: string } | undefined)?.mode ?? 'UNSET')] },
  RequestAuthentication: {
    head: ['ISSUERS'],
    cells: (r) => [list((r.spec.jwtRules as { issuer?: string }[] | undefined)?.map((j) => j.issuer))],
  },
  Telemetry: { head: ['PROVIDERS'], cells: (r) => [list(telemetryProviders(r.spec))] },
  RateLimit: {
    head: ['MODE', 'RULES'],
    cells: (r) => [text(r.spec.mode ?? 'local'), list((r.spec.rules as { name?: string }[] | undefined)?.map((x) => x.name))],
  },
  OidcLogin: { head: ['ISSUER', 'CLIENT'], cells: (r) => [text(r.spec.issuer), text(r.spec.clientId)] },
  ConnectionLimit: { head: ['PER SOURCE'], cells: (r) => [text(r.spec.maxConnectionsPerSource)] },
  MeshConfig: {
    head: ['PROVIDERS'],
    cells: (r) => [list((r.spec.extensionProviders as { name?: string }[] | undefined)?.map((p) => p.name))],
  },
};

/** Every provider a Telemetry names, in tracing, metrics and accessLogging. */
function telemetryProviders(spec: Record<string, unknown>): string[] {
  const names = new Set<string>();
  for (const section of ['tracing', 'metrics', 'accessLogging']) {
    for (const entry of (spec[section] as { providers?: { name?: string }[] }[] | undefined) ?? []) {
      for (const p of entry.providers ?? []) if (p.name) names.add(p.name);
    }
  }
  return [...names];
}

const NONE: Columns = { head: [], cells: () => [] };

export function resourceColumns(kind: string): Columns {
  return COLUMNS[kind] ?? NONE;
}
