/**
 * The request body, held so a retry can send it again (Envoy buffers for
 * retries too, up to a limit). Bodies of unknown length or over the limit
 * stream straight through once, and such requests are not retried.
 */
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import { Readable } from 'node:stream';

/** Envoy's default per-request buffer limit for retries is 1 MiB (per_request_buffer_limit_bytes, as Istio sets it). */
export const RETRY_BUFFER_LIMIT = 1024 * 1024;

export type DownstreamRequest = IncomingMessage | Http2ServerRequest;

export interface RequestBody {
  /** A fresh stream of the body for one try; undefined: pipe the request itself (only once). */
  replay(): Readable | undefined;
  replayable: boolean;
  /** The request has no body at all (an HTTP/2 request can then end with its headers). */
  empty: boolean;
  /** Body bytes read from the client so far (istio_request_bytes): all of a buffered body, what has streamed of the rest. */
  bytes(): number;
}

const noBody = (req: DownstreamRequest): boolean => {
  const len = req.headers['content-length'];
  if (len !== undefined) return Number(len) === 0;
  // HTTP/1.1 without content-length or chunked encoding has no body; HTTP/2 says so by ending the stream.
  if ('stream' in req) return req.stream.endAfterHeaders;
  return req.headers['transfer-encoding'] === undefined;
};

export async function readRequestBody(req: DownstreamRequest, limit = RETRY_BUFFER_LIMIT): Promise<RequestBody> {
  if (noBody(req)) {
    req.resume();
    return { replayable: true, empty: true, replay: () => Readable.from([]), bytes: () => 0 };
  }
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (!(declared <= limit)) {
    // Paused first, so the counting listener does not start the flow: the pipe to the endpoint does, and both see every chunk.
    let streamed = 0;
    req.pause();
    req.on('data', (chunk: Buffer) => (streamed += chunk.length));
    return { replayable: false, empty: false, replay: () => undefined, bytes: () => streamed };
  }
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  const body = Buffer.concat(chunks);
  return { replayable: true, empty: body.length === 0, replay: () => Readable.from([body]), bytes: () => body.length };
}
