/** HBONE: HTTP/2 CONNECT over mutual TLS, the tunnel between ambit daemons and waypoints. */
export { formatAuthority, parseAuthority, type Authority } from './authority.js';
export { HboneClient, type ConnectOptions, type HboneClientOptions, type HboneClientStats, type HboneStream, type TunnelInfo } from './client.js';
export { H2_CONNECT_ERROR, HboneError, type HboneErrorCode } from './errors.js';
export { HboneServer, type AuthorizeDecision, type ConnectRequest, type HboneServerOptions, type StreamHandler, type UpstreamDecision } from './server.js';
export type { HboneServerEvents, PeerCounters, RejectInfo, StreamCloseInfo } from './server-stats.js';
export type { Peer } from './session.js';
export { aborted, resetStream, splice, type SpliceEnd, type SpliceResult } from './splice.js';
export { identityMatches, spiffeIdOf, type IdentityMatcher, type TlsIdentity } from './tls-identity.js';
export { DEFAULT_TUNING, type H2Tuning } from './tuning.js';
export { DEFAULT_HANDSHAKE_LIMITS, type HandshakeLimits } from './handshake-guard.js';
export { DEFAULT_KEEPALIVE, type Keepalive } from './liveness.js';
