/**
 * What `ambit get/delete KIND` accepts: Istio's and ambit's kinds by full name,
 * plural or short name (as kubectl and istioctl spell them), and ambit's
 * registry records.
 */
import { KINDS } from '../core/config/index.js';
import { UsageError } from '../core/errors.js';
import { didYouMean } from '../core/config/suggest.js';

/** Kinds whose changes must be signed by the operator (the manifest covers them). */
export { SECURITY_KINDS as SECURITY_KIND_NAMES } from '../core/identity/manifest/format.js';

export type KindSelector = { type: 'resource'; kinds: string[] } | { type: 'service' } | { type: 'endpoint' } | { type: 'node' };

const SHORT: Record<string, string> = {
  vs: 'VirtualService',
  dr: 'DestinationRule',
  se: 'ServiceEntry',
  we: 'WorkloadEntry',
  ap: 'AuthorizationPolicy',
  pa: 'PeerAuthentication',
  ra: 'RequestAuthentication',
  telemetries: 'Telemetry',
  meshconfigs: 'MeshConfig',
  rl: 'RateLimit',
  oidc: 'OidcLogin',
  cl: 'ConnectionLimit',
};

const REGISTRY: Record<string, KindSelector> = {
  service: { type: 'service' },
  services: { type: 'service' },
  svc: { type: 'service' },
  endpoint: { type: 'endpoint' },
  endpoints: { type: 'endpoint' },
  ep: { type: 'endpoint' },
  node: { type: 'node' },
  nodes: { type: 'node' },
};

const byLowerName = new Map<string, string>();
for (const { kind, group } of Object.values(KINDS)) {
  const lower = kind.toLowerCase();
  byLowerName.set(lower, kind);
  byLowerName.set(`${lower}s`, kind);
  byLowerName.set(`${lower}.${group}`, kind);
}
for (const [short, kind] of Object.entries(SHORT)) byLowerName.set(short, kind);
byLowerName.set('authorizationpolicies', 'AuthorizationPolicy');

/** `alsoKnown`: other names the caller accepts, offered as suggestions too. */
export function resourceKind(input: string, alsoKnown: string[] = []): string {
  const kind = byLowerName.get(input.toLowerCase());
  if (!kind) {
    const known = alsoKnown.length ? knownKinds() : Object.keys(KINDS).join(', ');
    throw new UsageError(`unknown kind ${JSON.stringify(input)}${didYouMean(input, [...byLowerName.keys(), ...alsoKnown])}; known kinds: ${known}`);
  }
  return kind;
}

export function selectKind(input: string): KindSelector {
  const lower = input.toLowerCase();
  if (lower === 'all') return { type: 'resource', kinds: Object.keys(KINDS) };
  const registry = REGISTRY[lower];
  if (registry) return registry;
  return { type: 'resource', kinds: [resourceKind(input, [...Object.keys(REGISTRY), 'all'])] };
}

function knownKinds(): string {
  return [...Object.keys(KINDS), 'services', 'endpoints', 'nodes', 'all'].join(', ');
}

/** kubectl's spelling of a resource in status lines: `virtualservice.networking.istio.io/reviews`. */
export function displayName(kind: string, name: string): string {
  const group = Object.hasOwn(KINDS, kind) ? KINDS[kind as keyof typeof KINDS].group : 'ambit.dev';
  return `${kind.toLowerCase()}.${group}/${name}`;
}
