/** The identity layer's records in the store: trust bundle, join tokens, issued-cert metadata. */
export { identityKeys, identityKeysFor, type IdentityKeys } from './keys.js';
export { publishBundle, readBundle, requireBundle, type PublishedBundle } from './bundle.js';
export { consumeJoinToken, createJoinToken, tokenDigest, type CreatedToken } from './tokens.js';
export { listIssued, recordIssued, type IssuedRecord } from './issued.js';
export { checkNotJoined, forgetJoined, listJoined, recordJoined, type JoinedRecord } from './joined.js';
export { watchBundle, type BundleWatch } from './bundle-watch.js';
