/**
 * The Redis keys of the identity layer, under the store's prefix so several
 * meshes can share one Redis. Kept apart from core/store/keys.ts because none
 * of these take part in the config revision or the change log: certificates
 * and tokens are not configuration.
 */
import { DEFAULT_KEY_PREFIX } from '../../store/keys.js';
import type { Store } from '../../store/index.js';

export interface IdentityKeys {
  /** Hash {bundle: TrustBundle JSON, revision: n}. */
  bundle: string;
  /** Pub/sub channel carrying `{"revision":n}` after every bundle change. */
  bundleChannel: string;
  /** Hash per join token, named by the token's SHA-256 (the token itself is never stored). */
  token(sha256Hex: string): string;
  /** List the signers BLPOP: one JSON request per entry. */
  requests: string;
  /** List the requester BLPOPs for its answer (short TTL); under the node's name, so only that node's user may pop it. */
  response(node: string, requestId: string): string;
  /** Every answer key of one node (or of all, for the signer): an ACL key pattern. */
  responsePattern(node?: string): string;
  /** Seen request nonces, kept while a signed request could still be fresh. */
  nonce(nonce: string): string;
  noncePattern: string;
  tokenPattern: string;
  /** String per node that has joined (the signer's record), so a node name is joined once until `ambit node remove`. */
  joined(node: string): string;
  joinedPattern: string;
  /** Metadata of the latest certificate of one identity on one node, TTL = its expiry. */
  issued(node: string, spiffeId: string): string;
  /** SCAN pattern for every issued record (optionally of one node). */
  issuedPattern(node?: string): string;
}

export function identityKeysFor(prefix: string = DEFAULT_KEY_PREFIX): IdentityKeys {
  return {
    bundle: `${prefix}ca:bundle`,
    bundleChannel: `${prefix}ca:bundle-events`,
    token: (sha) => `${prefix}join-token:${sha}`,
    requests: `${prefix}ca:requests`,
    response: (node, id) => `${prefix}ca:response:${node}:${id}`,
    responsePattern: (node) => `${prefix}ca:response:${node === undefined ? '' : `${node}:`}*`,
    nonce: (nonce) => `${prefix}ca:nonce:${nonce}`,
    noncePattern: `${prefix}ca:nonce:*`,
    tokenPattern: `${prefix}join-token:*`,
    joined: (node) => `${prefix}ca:joined:${node}`,
    joinedPattern: `${prefix}ca:joined:*`,
    issued: (node, id) => `${prefix}cert:${node}|${id}`,
    // Node names are SPIFFE path segments ([a-zA-Z0-9._-]), so neither "*" nor "|" occurs in them.
    issuedPattern: (node) => `${prefix}cert:${node ?? '*'}|*`,
  };
}

export function identityKeys(store: Store): IdentityKeys {
  return identityKeysFor(store.options.keyPrefix);
}
