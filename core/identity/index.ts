/**
 * Mesh identity, the pure cryptographic layer: SPIFFE IDs, keys, CAs, CSRs,
 * leaf issuance, chain verification and trust bundles. Nothing here talks to
 * the store; the signer and the daemon's cert client are built on top.
 */
export { IdentityError, type IdentityErrorCode } from './errors.js';
export {
  DEFAULT_TRUST_DOMAIN,
  assertTrustDomain,
  fromIstioPrincipal,
  isValidTrustDomain,
  nodeId,
  operatorId,
  parseSpiffeId,
  toIstioPrincipal,
  trustDomainId,
  trustDomainProblem,
  tryParseSpiffeId,
  workloadId,
  workloadUri,
  type NodeSpiffeId,
  type OperatorSpiffeId,
  type OtherSpiffeId,
  type SpiffeId,
  type TrustDomainSpiffeId,
  type WorkloadSpiffeId,
} from './spiffe.js';
export { exportPrivateKeyPem, generateKeyPair, importPrivateKeyPem, publicKeySpki, readKeyFile, writeKeyFile } from './keys.js';
export type { CryptoKey, CryptoKeyPair } from './x509.js';
export { parseCert, parseCertChain, type ParsedCert } from './certs.js';
export {
  DEFAULT_INTERMEDIATE_TTL_SECONDS,
  DEFAULT_ROOT_TTL_SECONDS,
  createIntermediateCA,
  createRootCA,
  type CreateIntermediateOptions,
  type CreateRootOptions,
  type SigningCA,
} from './ca.js';
export { loadCA, loadCAFiles, writeCAFiles, type CAFiles, type LoadCAOptions } from './ca-load.js';
export { createCsr, verifyCsr, type VerifiedCsr, type VerifyCsrOptions } from './csr.js';
export { issueCertificate, type IssueOptions, type IssuedCertificate } from './sign.js';
export { CLOCK_SKEW_MS, renewalTime } from './validity.js';
export { verifyPeerChain, type PeerCertLike, type PeerChainInput, type VerifiedPeer, type VerifyOptions } from './verify.js';
export { certInfo, type CertInfo } from './info.js';
export {
  MAX_ROOTS,
  addRoot,
  bundleOf,
  bundlePem,
  createBundle,
  parseBundle,
  removeRoot,
  rootFingerprint,
  serializeBundle,
  type TrustBundle,
} from './bundle.js';
