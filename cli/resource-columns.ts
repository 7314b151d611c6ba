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
};

const NONE: Columns = { head: [], cells: () => [] };

export function resourceColumns(kind: string): Columns {
  return COLUMNS[kind] ?? NONE;
}
