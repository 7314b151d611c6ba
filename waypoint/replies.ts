/**
 * Answers the waypoint gives itself, with Envoy's status codes, bodies and
 * response flags, so clients and dashboards built for Istio read them the
 * same way; and the one way each is written, on an HTTP response or on a
 * connection that left HTTP (an upgrade). Whoever writes a reply also tells
 * the exchange its status and flag, so the access log never disagrees with
 * what the client got.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { OVERFLOW_HEADER, type OverflowReason } from '../core/routing/index.js';
import type { DownstreamResponse, TryError } from './upstream.js';

export interface LocalReply {
  status: number;
  body: string;
  /** Envoy's response flag, for the access log and metrics. */
  flag: string;
  headers?: Record<string, string>;
}

const RESET = 'upstream connect error or disconnect/reset before headers. reset reason: ';

export const replies = {
  denied: (): LocalReply => ({ status: 403, body: 'RBAC: access denied', flag: 'RBAC' }),
  notFound: (): LocalReply => ({ status: 404, body: '', flag: 'NR' }),
  /** The route names a subset no DestinationRule defines: Envoy has no such cluster. */
  noCluster: (): LocalReply => ({ status: 503, body: '', flag: 'NC' }),
  noHealthyUpstream: (): LocalReply => ({ status: 503, body: 'no healthy upstream', flag: 'UH' }),
  overflow: (reason: OverflowReason): LocalReply => ({
    status: 503,
    body: `${RESET}overflow`,
    flag: 'UO',
    headers: { [OVERFLOW_HEADER]: reason, 'x-envoy-overloaded': 'true' },
  }),
  connectFailure: (): LocalReply => ({ status: 503, body: `${RESET}connection failure`, flag: 'UF' }),
  reset: (): LocalReply => ({ status: 503, body: `${RESET}connection termination`, flag: 'UC' }),
  protocolError: (): LocalReply => ({ status: 502, body: 'upstream sent an invalid HTTP response', flag: 'UPE' }),
  timeout: (): LocalReply => ({ status: 504, body: 'upstream request timeout', flag: 'UT' }),
  fault: (status: number): LocalReply => ({ status, body: 'fault filter abort', flag: 'FI' }),
  direct: (status: number, body: string): LocalReply => ({ status, body, flag: '-' }),
  redirect: (status: number, location: string): LocalReply => ({ status, body: '', flag: '-', headers: { location } }),
  /** Only WebSocket upgrades are proxied, as Istio configures Envoy; Envoy refuses others with 403 (upgrade_failed). */
  upgradeRejected: (): LocalReply => ({ status: 403, body: 'upgrade not allowed', flag: '-' }),
} as const;

/** The answer for a try that ended without a response. */
export function replyFor(error: TryError): LocalReply {
  switch (error) {
    case 'connect-failure':
      return replies.connectFailure();
    case 'timeout':
      return replies.timeout();
    case 'protocol':
      return replies.protocolError();
    case 'reset':
    case 'refused-stream':
    case 'reset-before-request':
      return replies.reset();
  }
}

/** Where a written reply's status and flag are noted: the exchange's access-log line. */
export interface ReplyNote {
  status: number;
  flag: string;
  /** Response body bytes, for istio_response_bytes. */
  responseBytes: number;
  /** Set-Cookie values to send with the reply (exchange.ts). */
  setCookies?: readonly string[];
}

/** Answers on the HTTP response, unless something was written on it already (then only the note changes). */
export function writeReply(res: DownstreamResponse, note: ReplyNote, r: LocalReply): void {
  note.status = r.status;
  note.flag = r.flag;
  if (res.headersSent || res.writableEnded || res.destroyed) return;
  note.responseBytes += Buffer.byteLength(r.body);
  const headers: Record<string, string | number | string[]> = { ...r.headers, 'content-length': Buffer.byteLength(r.body) };
  if (r.body) headers['content-type'] = 'text/plain';
  if (note.setCookies?.length) headers['set-cookie'] = [...note.setCookies];
  res.writeHead(r.status, headers);
  res.end(r.body);
}

/** Answers on a connection that left HTTP (an upgrade): written raw, then the connection ends. */
export function writeRawReply(socket: Duplex, note: ReplyNote, r: LocalReply): void {
  note.status = r.status;
  note.flag = r.flag;
  if (socket.destroyed || socket.writableEnded) return;
  note.responseBytes += Buffer.byteLength(r.body);
  const headers = {
    ...r.headers,
    'content-length': String(Buffer.byteLength(r.body)),
    ...(r.body ? { 'content-type': 'text/plain' } : {}),
    connection: 'close',
  };
  const head = [...Object.entries(headers), ...(note.setCookies ?? []).map((c) => ['set-cookie', c])].map(([k, v]) => `${k}: ${v}\r\n`).join('');
  socket.end(Buffer.from(`HTTP/1.1 ${r.status} ${STATUS_CODES[r.status] ?? ''}\r\n${head}\r\n${r.body}`, 'latin1'));
}
