/**
 * The root fingerprint a join token carries. A node's first contact with the
 * store is the one moment it trusts nothing yet; the operator who mints the
 * token knows which root the mesh has, so the token says it, and the node
 * adopts only a trust bundle signed by that root (client/root-pin.ts). The
 * fingerprint rides at the end (`<secret>.<64 hex>`): the token's digest,
 * which the operator signs into the token record, covers it, and a token made
 * before pins existed simply has none.
 */
import { compactFingerprint, normalizeFingerprint } from './fingerprint.js';

const PIN = /\.([0-9a-f]{64})$/;

export function withRootFingerprint(token: string, fingerprint: string): string {
  return `${token}.${compactFingerprint(fingerprint)}`;
}

/** The canonical fingerprint the token pins, or undefined for a token without one. */
export function tokenRootFingerprint(token: string): string | undefined {
  const m = PIN.exec(token.trim());
  return m ? normalizeFingerprint(m[1]!) : undefined;
}
