/**
 * The one decision behind every revocation refusal (inbound 15008, the server
 * certificate an outbound dial checks, the signer): is this certificate, or
 * the node it names, on the operator-signed revocation list? Pure, so the
 * daemon, the signer and the tests ask the same question.
 */
import { parseSpiffeId } from '../spiffe.js';
import { isNodeRevoked, revokedSerial, type RevocationList } from './list.js';

export interface PeerCertFacts {
  /** Leaf serial, any case, with or without leading zeros. */
  serial: string;
  /** The leaf's SPIFFE ID (undefined: none; other checks refuse that). */
  spiffeId: string | undefined;
}

export type RevocationVerdict =
  { readonly revoked: false } | { readonly revoked: true; readonly match: 'serial' | 'node'; readonly node: string; readonly detail: string };

export function peerRevocation(list: RevocationList, peer: PeerCertFacts): RevocationVerdict {
  const bySerial = revokedSerial(list, peer.serial);
  if (bySerial) {
    return {
      revoked: true,
      match: 'serial',
      node: bySerial.node,
      detail: `certificate serial ${peer.serial.toLowerCase()} (${peer.spiffeId ?? 'no SPIFFE ID'}) was issued to node ${bySerial.node}, removed by an operator`,
    };
  }
  if (peer.spiffeId && list.nodes.length > 0) {
    let node: string | undefined;
    try {
      const id = parseSpiffeId(peer.spiffeId);
      node = id.kind === 'node' ? id.node : undefined;
    } catch {
      node = undefined;
    }
    if (node !== undefined && isNodeRevoked(list, node)) {
      return { revoked: true, match: 'node', node, detail: `${peer.spiffeId} is the identity of node ${node}, removed by an operator` };
    }
  }
  return { revoked: false };
}
