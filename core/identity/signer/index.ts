/** The signer: serves CSRs from the store (`ambit ca serve`, `ambitd --ca`). */
export {
  DEFAULT_NODE_CERT_TTL_SECONDS,
  DEFAULT_WORKLOAD_CERT_TTL_SECONDS,
  startSigner,
  type RunningSigner,
  type SignerOptions,
  type SignerStats,
} from './signer.js';
export { MAX_REQUEST_SKEW_MS } from './authenticate.js';
export { parseRequest, signedPayload, type NodeAuth, type RequestKind, type SignRequest, type SignResponse } from './protocol.js';
