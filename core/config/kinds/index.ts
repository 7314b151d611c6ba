/**
 * The kinds ambit accepts: for each, the API group it belongs to and the
 * schema of its spec. Adding a kind (ambit's own included) means adding one
 * file under kinds/ and one entry here.
 */
import { AMBIT_GROUP, AMBIT_VERSION, ISTIO_KINDS, ISTIO_VERSIONS, TELEMETRY_VERSIONS, type IstioKind } from '../resource.js';
import type { Schema } from '../schema.js';
import { authorizationPolicySpec, type AuthorizationPolicySpec } from './authorization-policy.js';
import { destinationRuleSpec, type DestinationRuleSpec } from './destination-rule.js';
import { meshConfigSpec, type MeshConfigSpec } from './mesh-config.js';
import { oidcLoginSpec, type OidcLoginSpec } from './oidc-login.js';
import { rateLimitSpec, type RateLimitSpec } from './rate-limit.js';
import { connectionLimitSpec, type ConnectionLimitSpec } from './connection-limit.js';
import { peerAuthenticationSpec, type PeerAuthenticationSpec } from './peer-authentication.js';
import { requestAuthenticationSpec, type RequestAuthenticationSpec } from './request-authentication.js';
import { serviceEntrySpec, type ServiceEntrySpec } from './service-entry.js';
import { telemetrySpec, type TelemetrySpec } from './telemetry.js';
import { virtualServiceSpec, type VirtualServiceSpec } from './virtual-service.js';
import { workloadEntrySpec, type WorkloadEntrySpec } from './workload-entry.js';

/** The typed spec of each kind. */
export interface SpecByKind {
  VirtualService: VirtualServiceSpec;
  DestinationRule: DestinationRuleSpec;
  ServiceEntry: ServiceEntrySpec;
  WorkloadEntry: WorkloadEntrySpec;
  AuthorizationPolicy: AuthorizationPolicySpec;
  PeerAuthentication: PeerAuthenticationSpec;
  RequestAuthentication: RequestAuthenticationSpec;
  Telemetry: TelemetrySpec;
  MeshConfig: MeshConfigSpec;
  RateLimit: RateLimitSpec;
  OidcLogin: OidcLoginSpec;
  ConnectionLimit: ConnectionLimitSpec;
}

export type ConfigKind = keyof SpecByKind;

export interface KindDefinition<K extends ConfigKind = ConfigKind> {
  kind: K;
  group: string;
  versions: readonly string[];
  spec: Schema<SpecByKind[K]>;
}

function istio<K extends ConfigKind & IstioKind>(kind: K, spec: Schema<SpecByKind[K]>, versions: readonly string[] = ISTIO_VERSIONS): KindDefinition<K> {
  return { kind, group: ISTIO_KINDS[kind], versions, spec };
}

function ambit<K extends ConfigKind>(kind: K, spec: Schema<SpecByKind[K]>): KindDefinition<K> {
  return { kind, group: AMBIT_GROUP, versions: [AMBIT_VERSION], spec };
}

export const KINDS: { readonly [K in ConfigKind]: KindDefinition<K> } = {
  VirtualService: istio('VirtualService', virtualServiceSpec()),
  DestinationRule: istio('DestinationRule', destinationRuleSpec()),
  ServiceEntry: istio('ServiceEntry', serviceEntrySpec()),
  WorkloadEntry: istio('WorkloadEntry', workloadEntrySpec()),
  AuthorizationPolicy: istio('AuthorizationPolicy', authorizationPolicySpec()),
  PeerAuthentication: istio('PeerAuthentication', peerAuthenticationSpec()),
  RequestAuthentication: istio('RequestAuthentication', requestAuthenticationSpec()),
  Telemetry: istio('Telemetry', telemetrySpec(), TELEMETRY_VERSIONS),
  MeshConfig: ambit('MeshConfig', meshConfigSpec()),
  RateLimit: ambit('RateLimit', rateLimitSpec()),
  OidcLogin: ambit('OidcLogin', oidcLoginSpec()),
  ConnectionLimit: ambit('ConnectionLimit', connectionLimitSpec()),
};

export function kindDefinition(kind: string): KindDefinition | undefined {
  return Object.hasOwn(KINDS, kind) ? KINDS[kind as ConfigKind] : undefined;
}
