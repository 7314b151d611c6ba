/**
 * The winning try's response, streamed to the client: the route's response
 * header operations applied, the body piped with backpressure, then the
 * endpoint's trailers. What it guarantees:
 *
 * - The endpoint's request-load count (`done`) is released exactly once:
 *   when the body ends, when the endpoint closes it, or when the client
 *   leaves, whichever comes first.
 * - An endpoint reset mid-body resets the client too, so a cut-off body is
 *   never passed off as a complete one; the client leaving drops the
 *   endpoint's response.
 * - Response headers node:http refuses to send (invalid, from the endpoint)
 *   answer 502 UPE instead, as Envoy does for an invalid upstream response.
 */
import type { Logger } from '../core/logging.js';
import type { Exchange } from './exchange.js';
import { responseHeaders } from './headers.js';
import { replies, writeReply } from './replies.js';
import type { HeaderOp } from '../core/routing/index.js';
import type { DownstreamResponse, UpstreamResponse } from './upstream.js';

export function deliver(res: DownstreamResponse, x: Exchange, upstream: UpstreamResponse, ops: readonly HeaderOp[], done: () => void, log: Logger): void {
  x.status = upstream.statusCode;
  // A trailers-only gRPC answer carries grpc-status in its headers.
  x.grpcStatus = headerValue(upstream.headers['grpc-status']);
  const body = upstream.body;
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    done();
  };
  res.once('close', () => {
    upstream.destroy();
    release();
  });
  try {
    const headers = responseHeaders(upstream.headers, ops);
    if (x.setCookies.length > 0) headers['set-cookie'] = [...[headers['set-cookie'] ?? []].flat().map(String), ...x.setCookies];
    res.writeHead(x.status, headers);
  } catch (err) {
    log.warn({ err, requestId: x.requestId }, 'upstream response headers rejected');
    upstream.destroy();
    return writeReply(res, x, replies.protocolError());
  }
  const ended = (): void => {
    release();
    const trailers = upstream.trailers();
    x.grpcStatus = headerValue(trailers['grpc-status']) ?? x.grpcStatus;
    // HTTP/1.1 carries them only in a chunked response; node:http drops them otherwise.
    if (Object.keys(trailers).length > 0) {
      try {
        res.addTrailers(trailers);
      } catch (err) {
        log.debug({ err, requestId: x.requestId }, 'upstream trailers dropped');
      }
    }
    res.end();
  };
  // An empty HTTP/2 body can be over before this runs: Node ends a client stream
  // that closes unread (END_STREAM on the response HEADERS), so 'end' and 'close'
  // have been emitted already and listening for them would leave the client waiting.
  if (body.readableEnded) return ended();
  body.once('end', ended);
  body.once('close', () => {
    release();
    if (!body.readableEnded && !res.writableEnded) res.destroy();
  });
  // Counted beside the pipe, attached in the same tick: no chunk is missed, and the pipe's backpressure still pauses both.
  body.on('data', (chunk: Buffer) => (x.responseBytes += chunk.length));
  body.pipe(res as NodeJS.WritableStream, { end: false });
}

const headerValue = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
