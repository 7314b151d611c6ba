/**
 * The revocation list: which certificates and node names the data plane and
 * the signer refuse although their chains still verify. It rides in the
 * operator-signed security manifest (manifest/format.ts), not in a record of
 * its own, so deleting an entry is a manifest change like deleting a DENY
 * policy: the store cannot do it without the operator key, and an older
 * manifest (from before the revocation) is refused as a rollback.
 *
 * Two lists, because they close different holes:
 * - serials: every certificate a removed node held (its node certificate and
 *   the workload certificates issued to it), with its notAfter, so an entry
 *   can be dropped once the certificate has expired and the list stays bounded
 *   by what is still valid;
 * - nodes: removed node names, so the signer refuses a join or renewal for the
 *   name even if Redis says it is joined, and a peer presenting a node
 *   identity of that name is refused whatever its serial. A name leaves the
 *   list only when an operator mints a new token for it (its old serials stay).
 *
 * Payload form (inside the manifest): {"nodes": ["<name>", ...] (sorted,
 * unique), "serials": {"<serial, lowercase hex, no leading zeros>":
 * {"node": "<name>", "notAfter": "<ISO time>"}, ...}}.
 */
export interface RevokedSerial {
  /** The node the certificate was issued to (or for). */
  readonly node: string;
  /** When the certificate expires: after it, the entry is dropped at the next re-sign. */
  readonly notAfter: string;
}

export interface RevocationList {
  readonly nodes: readonly string[];
  readonly serials: Readonly<Record<string, RevokedSerial>>;
}

export const EMPTY_REVOCATIONS: RevocationList = { nodes: [], serials: {} };

/**
 * One spelling for a serial, whoever printed it: node:tls gives upper-case hex
 * with any leading zero byte, @peculiar/x509 lower-case; the number is the same.
 */
export function normalizeSerial(serial: string): string {
  return serial
    .trim()
    .toLowerCase()
    .replace(/^0+(?=.)/, '');
}

// The node names core/access/roles.ts admits (a revoked name was a joined one).
const NODE_NAME = /^[A-Za-z0-9._-]{1,63}$/;
const SERIAL = /^[0-9a-f]{1,64}$/;

/** The certificates of a removed node, as listIssued reports them. */
export interface IssuedSerial {
  serial: string;
  notAfter: string;
}

/**
 * How long a revoked serial is kept at least. The notAfter comes from the
 * issued records in Redis, which the store could have moved into the past to
 * get the entry pruned at once; so it is kept for at least the longest default
 * certificate lifetime (a node certificate's, 7 days) whatever the record says.
 */
export const MIN_REVOCATION_MS = 7 * 24 * 3600_000;

/** `node` removed: its name and every certificate it holds, revoked. */
export function revokeNode(list: RevocationList, node: string, issued: readonly IssuedSerial[], now = new Date()): RevocationList {
  const serials = { ...list.serials };
  const floor = now.getTime() + MIN_REVOCATION_MS;
  for (const c of issued) {
    const serial = normalizeSerial(String(c.serial));
    // A serial that is not hex is no certificate's: nothing to refuse.
    if (!SERIAL.test(serial)) continue;
    const claimed = Date.parse(String(c.notAfter));
    const until = Math.max(Number.isFinite(claimed) ? claimed : 0, floor, Date.parse(serials[serial]?.notAfter ?? '') || 0);
    serials[serial] = { node, notAfter: new Date(until).toISOString() };
  }
  return { nodes: [...new Set([...list.nodes, node])].sort(), serials };
}

/** `node` may join again (a new token for it): the name leaves the list; its old serials stay. */
export function admitNode(list: RevocationList, node: string): RevocationList {
  return { nodes: list.nodes.filter((n) => n !== node), serials: list.serials };
}

/** Drops serials whose certificate has expired: nothing can present them any more. */
export function pruneExpired(list: RevocationList, now = new Date()): RevocationList {
  const serials = Object.fromEntries(Object.entries(list.serials).filter(([, s]) => Date.parse(s.notAfter) > now.getTime()));
  return { nodes: list.nodes, serials };
}

export function isNodeRevoked(list: RevocationList, node: string): boolean {
  return list.nodes.includes(node);
}

export function revokedSerial(list: RevocationList, serial: string): RevokedSerial | undefined {
  return Object.hasOwn(list.serials, normalizeSerial(serial)) ? list.serials[normalizeSerial(serial)] : undefined;
}

/** Schema check of the payload form; undefined on any deviation (unknown fields, unsorted names, bad times). */
export function parseRevocations(value: unknown): RevocationList | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const { nodes, serials, ...rest } = value as Record<string, unknown>;
  if (Object.keys(rest).length > 0 || !Array.isArray(nodes) || typeof serials !== 'object' || serials === null || Array.isArray(serials)) return undefined;
  if (!nodes.every((n): n is string => typeof n === 'string' && NODE_NAME.test(n))) return undefined;
  // Sorted and unique: one list, one spelling, so equal lists are equal bytes.
  if (nodes.some((n, i) => i > 0 && nodes[i - 1]! >= n)) return undefined;
  const out: Record<string, RevokedSerial> = {};
  for (const [serial, entry] of Object.entries(serials as Record<string, unknown>)) {
    if (!SERIAL.test(serial) || normalizeSerial(serial) !== serial) return undefined;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return undefined;
    const { node, notAfter, ...more } = entry as Record<string, unknown>;
    if (Object.keys(more).length > 0 || typeof node !== 'string' || !NODE_NAME.test(node) || typeof notAfter !== 'string') return undefined;
    if (!Number.isFinite(Date.parse(notAfter)) || new Date(Date.parse(notAfter)).toISOString() !== notAfter) return undefined;
    out[serial] = { node, notAfter };
  }
  return { nodes, serials: out };
}
