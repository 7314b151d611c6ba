/**
 * The signer's request protocol over the store. A requester pushes one JSON
 * request onto a list that signers BLPOP, then BLPOPs its own response key.
 * Only CSRs travel: private keys stay on the host that generated them.
 *
 * Three kinds of request:
 *  - join: a new node's CSR for spiffe://<td>/ambit/node/<name>, with a join token;
 *  - node-renew: the node's next node certificate, authenticated by its current one;
 *  - workload: a CSR for spiffe://<td>/ns/<ns>/sa/<sa>, authenticated by the node.
 * Authentication is a signature with the node key over the request (bound to its id,
 * a timestamp, a nonce and the CSR's digest), plus the node's certificate chain.
 */
import { createHash } from 'node:crypto';
import { IdentityError } from '../errors.js';

export type RequestKind = 'join' | 'node-renew' | 'workload';

export interface NodeAuth {
  /** The node's certificate chain (leaf first), as issued. */
  chainPem: string;
  /** Milliseconds since the epoch when the request was signed. */
  timestamp: number;
  /** Random, single use: a captured request cannot be submitted again. */
  nonce: string;
  /** Base64 DER ECDSA-SHA256 signature by the node key over signedPayload(). */
  signature: string;
}

export interface SignRequest {
  v: 1;
  id: string;
  /**
   * The node asking, as it claims: the signer answers under this name (only that
   * node's store user may pop it) and refuses the request unless the CSR (join) or
   * the authenticated chain names the same node.
   */
  node: string;
  kind: RequestKind;
  csr: string;
  /** join only. */
  token?: string;
  /** node-renew and workload. */
  auth?: NodeAuth;
  /** The requester stops waiting at this time (ms); a signer drops the request after it. */
  deadline: number;
}

export interface IssuedPayload {
  certPem: string;
  chainPem: string;
  /** The signer's trust bundle (JSON, as stored), so the requester can verify peers at once. */
  bundle: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  renewAt: string;
}

export type SignResponse = ({ ok: true } & IssuedPayload) | { ok: false; code: string; message: string };

const REQUEST_ID = /^[A-Za-z0-9_-]{8,64}$/;
const NODE_NAME = /^[A-Za-z0-9._-]{1,63}$/;
const KINDS: ReadonlySet<string> = new Set(['join', 'node-renew', 'workload']);
// A CSR is ~500 bytes and a chain a few KB; anything far larger is not ours.
const MAX_REQUEST_BYTES = 64 * 1024;

/** What the node key signs: every field a replay or a swap could change. */
export function signedPayload(req: Pick<SignRequest, 'kind' | 'id' | 'csr'>, auth: Pick<NodeAuth, 'timestamp' | 'nonce'>): Buffer {
  const csrDigest = createHash('sha256').update(req.csr).digest('hex');
  return Buffer.from(['ambit-sign-request/v1', req.kind, req.id, String(auth.timestamp), auth.nonce, csrDigest].join('\n'));
}

function bad(message: string): IdentityError {
  return new IdentityError('EIDENTITY_BAD_REQUEST', `malformed signing request: ${message}`);
}

function str(value: unknown, what: string): string {
  if (typeof value !== 'string' || value === '') throw bad(`${what} must be a non-empty string`);
  return value;
}

/** Parses and shape-checks a request as it comes off the queue; content checks are the signer's. */
export function parseRequest(raw: string): SignRequest {
  if (raw.length > MAX_REQUEST_BYTES) throw bad(`larger than ${MAX_REQUEST_BYTES} bytes`);
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    throw bad('not JSON');
  }
  if (data === null || typeof data !== 'object' || data.v !== 1) throw bad('unknown version');
  const kind = str(data.kind, 'kind');
  if (!KINDS.has(kind)) throw bad(`unknown kind ${JSON.stringify(kind)}`);
  const req: SignRequest = {
    v: 1,
    id: str(data.id, 'id'),
    node: str(data.node, 'node'),
    kind: kind as RequestKind,
    csr: str(data.csr, 'csr'),
    deadline: Number(data.deadline),
  };
  if (!REQUEST_ID.test(req.id)) throw bad('id must be 8-64 characters of [A-Za-z0-9_-]');
  if (!NODE_NAME.test(req.node)) throw bad('node must be 1-63 characters of [A-Za-z0-9._-]');
  if (kind === 'join') req.token = str(data.token, 'token');
  else {
    const a = (data.auth ?? {}) as Record<string, unknown>;
    req.auth = {
      chainPem: str(a.chainPem, 'auth.chainPem'),
      timestamp: Number(a.timestamp),
      nonce: str(a.nonce, 'auth.nonce'),
      signature: str(a.signature, 'auth.signature'),
    };
    if (!/^[A-Za-z0-9_-]{16,64}$/.test(req.auth.nonce)) throw bad('auth.nonce must be 16-64 characters of [A-Za-z0-9_-]');
  }
  return req;
}

/** Where to answer a request too malformed to parse: its node and id, when those at least are sound. */
export function answerAddressOf(raw: string): { node: string; id: string } | undefined {
  try {
    const { node, id } = JSON.parse(raw) as { node?: unknown; id?: unknown };
    return typeof id === 'string' && REQUEST_ID.test(id) && typeof node === 'string' && NODE_NAME.test(node) ? { node, id } : undefined;
  } catch {
    return undefined;
  }
}
