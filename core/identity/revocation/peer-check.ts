/**
 * The HBONE half of revocation, shared by ambitd and the waypoint: the list from the last accepted (signed)
 * manifest, and the checks the HBONE server (client certificates on 15008)
 * and client (the server certificate of a peer being dialled) run with it.
 * node:tls has already verified the chain; a revoked certificate verifies
 * too, so this is the only thing between a removed node and the mesh until
 * its certificates expire. Every refusal is counted
 * (ambit_tls_peer_revoked_total) and logged. enforce() is the one step both
 * binaries take when a manifest is accepted: adopt its list and, if it
 * changed, cut the sessions already open (either way) with a peer it refuses.
 */
import type { DetailedPeerCertificate } from 'node:tls';
import type { Logger } from '../../logging.js';
import { spiffeIdOf } from '../../hbone/index.js';
import { IdentityError } from '../errors.js';
import { peerRevocation } from './check.js';
import { EMPTY_REVOCATIONS, type RevocationList } from './list.js';
import { stableJson } from '../../store/codec.js';

/** The two counters a refusal moves; ambitd's and the waypoint's registries both provide them (prom-client Counters fit). */
export interface PeerRevocationMetrics {
  peersRevoked: { inc(labels: { direction: string; match: string }): void };
  tlsHandshakeFailures: { inc(labels: { direction: string; reason: string }): void };
}

/** What holds sessions a new list may refuse: HboneServer (inbound) and HboneClient (outbound) both run checkPeer again. */
export interface PeerSessions {
  recheckPeers(): number;
}

export class PeerRevocations {
  #list: RevocationList = EMPTY_REVOCATIONS;
  #text = stableJson(EMPTY_REVOCATIONS);
  /** The common case, checked per handshake without looking at the certificate. */
  #empty = true;

  readonly #metrics: PeerRevocationMetrics;
  readonly #log: Logger;

  constructor(metrics: PeerRevocationMetrics, log: Logger) {
    this.#metrics = metrics;
    this.#log = log;
  }

  /** Adopts the list of an accepted manifest; true when it changed (open sessions must be checked again). */
  update(list: RevocationList): boolean {
    const text = stableJson(list);
    if (text === this.#text) return false;
    this.#list = list;
    this.#text = text;
    this.#empty = list.nodes.length === 0 && Object.keys(list.serials).length === 0;
    this.#log.info({ nodes: list.nodes, serials: Object.keys(list.serials).length }, 'revocation list updated');
    return true;
  }

  /**
   * Adopts the list of an accepted manifest; when it changed, every open
   * session whose peer it now refuses is destroyed with its streams. Returns
   * how many were cut each way, or undefined when the list was the same.
   */
  enforce(
    list: RevocationList,
    sessions: { inbound?: PeerSessions | undefined; outbound?: PeerSessions | undefined },
  ): { inbound: number; outbound: number } | undefined {
    if (!this.update(list)) return undefined;
    const cut = { inbound: sessions.inbound?.recheckPeers() ?? 0, outbound: sessions.outbound?.recheckPeers() ?? 0 };
    if (cut.inbound + cut.outbound > 0) this.#log.warn(cut, 'closed open HBONE sessions of revoked peers');
    return cut;
  }

  /** For HboneServerOptions.checkPeer: a client on 15008. */
  readonly inbound = (cert: DetailedPeerCertificate): Error | undefined => this.#check('inbound', cert);

  /** For HboneClientOptions.checkPeer: the server we dial; the code makes the dial fail as EHBONE_PEER_IDENTITY. */
  readonly outbound = (cert: DetailedPeerCertificate, peer: { host: string; port: number }): Error | undefined => {
    const refused = this.#check('outbound', cert, `${peer.host}:${peer.port}`);
    return refused && Object.assign(new Error(refused.message, { cause: refused }), { code: 'EHBONE_PEER_IDENTITY' });
  };

  #check(direction: 'inbound' | 'outbound', cert: DetailedPeerCertificate, peer?: string): IdentityError | undefined {
    if (this.#empty) return undefined;
    const spiffeId = spiffeIdOf(cert);
    const verdict = peerRevocation(this.#list, { serial: cert.serialNumber ?? '', spiffeId });
    if (!verdict.revoked) return undefined;
    this.#metrics.peersRevoked.inc({ direction, match: verdict.match });
    if (direction === 'outbound') this.#metrics.tlsHandshakeFailures.inc({ direction, reason: 'EIDENTITY_PEER_REVOKED' });
    this.#log.warn({ direction, peer, spiffeId, serial: cert.serialNumber, node: verdict.node, match: verdict.match }, `HBONE peer refused: ${verdict.detail}`);
    return new IdentityError('EIDENTITY_PEER_REVOKED', `peer refused: ${verdict.detail}`, { spiffeId, node: verdict.node, match: verdict.match });
  }
}
