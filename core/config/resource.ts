/**
 * The shape every configuration resource shares, Istio's and ambit's own:
 * apiVersion / kind / metadata / spec, as Kubernetes writes them.
 */

/** Istio kinds ambit understands, and the API groups they belong to. */
export const ISTIO_KINDS = {
  VirtualService: 'networking.istio.io',
  DestinationRule: 'networking.istio.io',
  ServiceEntry: 'networking.istio.io',
  WorkloadEntry: 'networking.istio.io',
  AuthorizationPolicy: 'security.istio.io',
  PeerAuthentication: 'security.istio.io',
  RequestAuthentication: 'security.istio.io',
  Telemetry: 'telemetry.istio.io',
} as const;

export const ISTIO_VERSIONS = ['v1', 'v1beta1', 'v1alpha3'] as const;
/** telemetry.istio.io never had v1beta1 or v1alpha3. */
export const TELEMETRY_VERSIONS = ['v1', 'v1alpha1'] as const;

/** ambit's own kinds (apiVersion ambit.dev/v1alpha1). */
export const AMBIT_GROUP = 'ambit.dev';
export const AMBIT_VERSION = 'v1alpha1';

export type IstioKind = keyof typeof ISTIO_KINDS;

export interface ResourceMetadata {
  name: string;
  namespace: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Set by the store: the global revision at which this resource last changed. */
  resourceVersion?: string;
  /** Set by the store: bumped on each change of spec. */
  generation?: number;
  /** Set by the store when first created (RFC 3339). */
  creationTimestamp?: string;
  /** Set by the store when first created; accepted on re-apply of `get -o yaml` output. */
  uid?: string;
}

/** A resource as applied and stored: the document the user wrote, validated. */
export interface Resource<Spec = Record<string, unknown>> {
  apiVersion: string;
  kind: string;
  metadata: ResourceMetadata;
  spec: Spec;
}

/** Identifies a resource in the store. */
export interface ResourceRef {
  kind: string;
  namespace: string;
  name: string;
}

export const DEFAULT_NAMESPACE = 'default';
export const DEFAULT_MESH_DOMAIN = 'cluster.local';

export function refOf(r: Resource | ResourceRef): ResourceRef {
  return 'metadata' in r ? { kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name } : r;
}

/** Canonical string key `Kind/namespace/name` used by the store and in messages. */
export function refKey(r: Resource | ResourceRef): string {
  const ref = refOf(r);
  return `${ref.kind}/${ref.namespace}/${ref.name}`;
}

export function parseRefKey(key: string): ResourceRef {
  const [kind, namespace, name] = key.split('/');
  if (!kind || !namespace || !name) throw new Error(`malformed resource key ${JSON.stringify(key)}`);
  return { kind, namespace, name };
}
