/**
 * PeerAuthentication (security.istio.io): whether a workload accepts
 * plaintext. The daemon applies it on inbound capture (STRICT refuses,
 * PERMISSIVE accepts and marks the connection as plaintext).
 */
import { enumOf, object, record, type Schema } from '../schema.js';
import { portStringProblem, selector, type WorkloadSelector } from './common.js';

export type MtlsMode = 'UNSET' | 'DISABLE' | 'PERMISSIVE' | 'STRICT';

export interface MutualTLS {
  mode?: MtlsMode;
}

export interface PeerAuthenticationSpec {
  selector?: WorkloadSelector;
  mtls?: MutualTLS;
  /** Keyed by port number (as a string, since YAML map keys are strings). */
  portLevelMtls?: Record<string, MutualTLS>;
}

const mtls = (): Schema<MutualTLS> => object<MutualTLS>({ mode: enumOf(['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT']) });

export const peerAuthenticationSpec = (): Schema<PeerAuthenticationSpec> =>
  object<PeerAuthenticationSpec>({
    selector: selector(),
    mtls: mtls(),
    portLevelMtls: record(mtls(), portStringProblem),
  });
