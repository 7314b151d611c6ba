import { AmbitError } from '../errors.js';

/**
 * Every way the identity layer can refuse something. The codes are stable:
 * the signer stores them with rejected CSRs, metrics use them as labels and
 * operators grep for them, so rename none of them.
 */
export type IdentityErrorCode =
  | 'EIDENTITY_INVALID_SPIFFE_ID'
  | 'EIDENTITY_NO_SPIFFE_ID'
  | 'EIDENTITY_MULTIPLE_URI_SANS'
  | 'EIDENTITY_WRONG_TRUST_DOMAIN'
  | 'EIDENTITY_UNSUPPORTED_KEY'
  | 'EIDENTITY_BAD_PEM'
  | 'EIDENTITY_FILE_NOT_FOUND'
  | 'EIDENTITY_FILE_EXISTS'
  | 'EIDENTITY_KEY_MISMATCH'
  | 'EIDENTITY_NOT_CA'
  | 'EIDENTITY_CA_EXPIRED'
  | 'EIDENTITY_CHAIN_BROKEN'
  | 'EIDENTITY_CSR_INVALID'
  | 'EIDENTITY_CSR_SIGNATURE'
  | 'EIDENTITY_CSR_UNEXPECTED_SAN'
  | 'EIDENTITY_CSR_IDENTITY_MISMATCH'
  | 'EIDENTITY_BAD_TTL'
  | 'EIDENTITY_UNTRUSTED'
  | 'EIDENTITY_EXPIRED'
  | 'EIDENTITY_NOT_LEAF'
  /** A peer leaf's extended key usage does not allow the TLS role (client or server) it authenticates in. */
  | 'EIDENTITY_WRONG_PURPOSE'
  | 'EIDENTITY_BUNDLE_INVALID'
  | 'EIDENTITY_BUNDLE_FULL'
  | 'EIDENTITY_BUNDLE_EMPTY'
  // The store-backed layer: join tokens, the signer's request protocol, CA files.
  | 'EIDENTITY_TOKEN_UNKNOWN'
  | 'EIDENTITY_TOKEN_USED'
  | 'EIDENTITY_TOKEN_EXPIRED'
  | 'EIDENTITY_TOKEN_WRONG_NODE'
  | 'EIDENTITY_NODE_EXISTS'
  | 'EIDENTITY_NODE_REMOVED'
  /** The node name or certificate serial is on the signed revocation list. */
  | 'EIDENTITY_NODE_REVOKED'
  /** An HBONE peer's certificate is on the signed revocation list. */
  | 'EIDENTITY_PEER_REVOKED'
  /** A join token record without a valid operator signature. */
  | 'EIDENTITY_TOKEN_UNSIGNED'
  | 'EIDENTITY_TOKEN_NO_NODE'
  | 'EIDENTITY_NOT_ENROLLED'
  | 'EIDENTITY_NOT_NODE'
  | 'EIDENTITY_BAD_SIGNATURE'
  | 'EIDENTITY_STALE_REQUEST'
  | 'EIDENTITY_REPLAY'
  | 'EIDENTITY_BAD_REQUEST'
  | 'EIDENTITY_NO_SIGNER'
  | 'EIDENTITY_NO_BUNDLE'
  | 'EIDENTITY_BUNDLE_CONFLICT'
  | 'EIDENTITY_CA_EXISTS'
  | 'EIDENTITY_NOT_JOINED'
  | 'EIDENTITY_SIGNER_FAILED'
  // Signed configuration (issue 13): the trust bundle and the operator's security manifest.
  /** The store's trust bundle carries no valid signature by a root the reader trusts. */
  | 'EIDENTITY_BUNDLE_UNSIGNED'
  /** No operator key (or certificate) where a signed write needs one. */
  | 'EIDENTITY_NO_OPERATOR_KEY'
  /** The security manifest is missing, unsigned, not signed by an operator, or does not match the store. */
  | 'EIDENTITY_MANIFEST_INVALID'
  /** The enrollment behind a workload certificate request is not in a verified manifest. */
  | 'EIDENTITY_NOT_SIGNED'
  // Joining without trust on first use: the root a join is pinned to.
  /** A root fingerprint (flag, setting) is not 64 hex digits. */
  | 'EIDENTITY_BAD_FINGERPRINT'
  /** The store's trust bundle is not signed by the root the join token, --root-fingerprint or identity.rootFingerprint names. */
  | 'EIDENTITY_ROOT_MISMATCH'
  /** --root-fingerprint (or identity.rootFingerprint) names another root than the join token carries. */
  | 'EIDENTITY_ROOT_PIN_CONFLICT'
  /** A join with nothing to pin the root to: a token without a fingerprint and no --root-fingerprint. */
  | 'EIDENTITY_ROOT_UNPINNED'
  /** The file holding the last accepted manifest sequence exists but cannot be read or does not hold one. */
  | 'EIDENTITY_SEQUENCE_CORRUPT';

export class IdentityError extends AmbitError<IdentityErrorCode> {}
