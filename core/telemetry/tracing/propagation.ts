/**
 * Trace context in and out of HTTP headers: W3C traceparent/tracestate and
 * Zipkin's B3 (multi-header and the single `b3` header). Pure functions over
 * a header record, so the waypoint and ambitd share one parser and the unit
 * tests can feed it every malformed value. A header that does not parse is
 * ignored (the request starts a new trace), never an error: a client's bad
 * header must not fail its request.
 */

export type PropagationFormat = 'w3c' | 'b3-multi' | 'b3-single';

export interface ExtractedContext {
  readonly traceId: string;
  readonly spanId: string;
  /** undefined: the caller deferred the decision (B3 without a sampling flag). */
  readonly sampled: boolean | undefined;
  readonly traceState: string | undefined;
  /** Every format the request carried a valid context in, W3C first. */
  readonly formats: readonly PropagationFormat[];
}

type HeaderValue = string | readonly string[] | undefined;
export type HeaderBag = Readonly<Record<string, HeaderValue>>;

const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

function first(value: HeaderValue): string | undefined {
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : value[0];
}

function validTraceId(id: string): boolean {
  return TRACE_ID.test(id) && id !== ZERO_TRACE;
}
function validSpanId(id: string): boolean {
  return SPAN_ID.test(id) && id !== ZERO_SPAN;
}

/** W3C Trace Context §3.2: version 00 exactly; a higher version is read by its first four fields. */
export function parseTraceparent(value: string): { traceId: string; spanId: string; sampled: boolean } | undefined {
  const parts = value.trim().split('-');
  if (parts.length < 4) return undefined;
  const [version, traceId, spanId, flags] = parts as [string, string, string, string];
  if (!/^[0-9a-f]{2}$/.test(version) || version === 'ff') return undefined;
  if (version === '00' && parts.length !== 4) return undefined;
  if (!validTraceId(traceId) || !validSpanId(spanId) || !/^[0-9a-f]{2}$/.test(flags)) return undefined;
  return { traceId, spanId, sampled: (parseInt(flags, 16) & 1) === 1 };
}

/** B3 trace ids may be 64-bit; they are left-padded to 128 as Zipkin does. */
function b3TraceId(id: string): string | undefined {
  const lower = id.toLowerCase();
  const padded = lower.length === 16 ? ZERO_SPAN + lower : lower;
  return validTraceId(padded) ? padded : undefined;
}

function b3Sampled(flag: string | undefined, debug: string | undefined): boolean | undefined | null {
  if (debug === '1' || flag === 'd') return true;
  if (flag === undefined || flag === '') return undefined;
  if (flag === '1' || flag === 'true') return true;
  if (flag === '0' || flag === 'false') return false;
  return null; // not a valid flag: the whole header is ignored
}

/** `b3: {traceId}-{spanId}[-{sampled}[-{parentSpanId}]]`; a lone `b3: 0` (deny) carries no ids and is ignored here. */
export function parseB3Single(value: string): { traceId: string; spanId: string; sampled: boolean | undefined } | undefined {
  const parts = value.trim().split('-');
  if (parts.length < 2 || parts.length > 4) return undefined;
  const traceId = b3TraceId(parts[0] ?? '');
  const spanId = (parts[1] ?? '').toLowerCase();
  if (traceId === undefined || !validSpanId(spanId)) return undefined;
  const sampled = b3Sampled(parts[2], undefined);
  if (sampled === null) return undefined;
  if (parts[3] !== undefined && !validSpanId(parts[3].toLowerCase())) return undefined;
  return { traceId, spanId, sampled };
}

export function parseB3Multi(headers: HeaderBag): { traceId: string; spanId: string; sampled: boolean | undefined } | undefined {
  const rawTrace = first(headers['x-b3-traceid']);
  const rawSpan = first(headers['x-b3-spanid']);
  if (rawTrace === undefined || rawSpan === undefined) return undefined;
  const traceId = b3TraceId(rawTrace.trim());
  const spanId = rawSpan.trim().toLowerCase();
  if (traceId === undefined || !validSpanId(spanId)) return undefined;
  const sampled = b3Sampled(first(headers['x-b3-sampled'])?.trim(), first(headers['x-b3-flags'])?.trim());
  if (sampled === null) return undefined;
  return { traceId, spanId, sampled };
}

/**
 * The context a request carries. W3C wins when several formats are present
 * and disagree (it is what ambit itself injects); every format that parsed
 * is listed so the same ones can be written upstream.
 */
export function extractContext(headers: HeaderBag): ExtractedContext | undefined {
  const traceparent = first(headers['traceparent']);
  const w3c = traceparent === undefined ? undefined : parseTraceparent(traceparent);
  const single = first(headers['b3']);
  const b3s = single === undefined ? undefined : parseB3Single(single);
  const b3m = parseB3Multi(headers);
  const formats: PropagationFormat[] = [];
  if (w3c) formats.push('w3c');
  if (b3m) formats.push('b3-multi');
  if (b3s) formats.push('b3-single');
  const chosen = w3c ?? b3s ?? b3m;
  if (!chosen) return undefined;
  const tracestate = w3c ? first(headers['tracestate']) : undefined;
  return {
    traceId: chosen.traceId,
    spanId: chosen.spanId,
    sampled: chosen.sampled,
    traceState: tracestate === undefined || tracestate.length > 512 ? undefined : tracestate,
    formats,
  };
}

export interface OutgoingContext {
  readonly traceId: string;
  readonly spanId: string;
  readonly sampled: boolean;
  readonly traceState: string | undefined;
}

export const PROPAGATION_HEADERS = [
  'traceparent',
  'tracestate',
  'b3',
  'x-b3-traceid',
  'x-b3-spanid',
  'x-b3-parentspanid',
  'x-b3-sampled',
  'x-b3-flags',
] as const;

/**
 * The headers to send upstream: W3C always, plus each B3 form the request came
 * with. Stale propagation headers are replaced, so an upstream never sees the
 * caller's span as its parent (the hop in between would vanish from the trace).
 */
export function injectionHeaders(ctx: OutgoingContext, formats: readonly PropagationFormat[]): Record<string, string> {
  const flag = ctx.sampled ? '1' : '0';
  const out: Record<string, string> = { traceparent: `00-${ctx.traceId}-${ctx.spanId}-0${flag}` };
  if (ctx.traceState !== undefined && ctx.traceState !== '') out['tracestate'] = ctx.traceState;
  if (formats.includes('b3-multi')) {
    out['x-b3-traceid'] = ctx.traceId;
    out['x-b3-spanid'] = ctx.spanId;
    out['x-b3-sampled'] = flag;
  }
  if (formats.includes('b3-single')) out['b3'] = `${ctx.traceId}-${ctx.spanId}-${flag}`;
  return out;
}

/** Apply injectionHeaders to a mutable header record, dropping the stale ones first. */
export function replacePropagationHeaders(headers: Record<string, HeaderValue>, ctx: OutgoingContext, formats: readonly PropagationFormat[]): void {
  writePropagationHeaders(headers, injectionHeaders(ctx, formats));
}

/** Puts headers injectionHeaders made into a mutable header record, the stale ones dropped first. */
export function writePropagationHeaders(headers: Record<string, HeaderValue>, injected: Readonly<Record<string, string>>): void {
  for (const name of PROPAGATION_HEADERS) delete headers[name];
  Object.assign(headers, injected);
}
