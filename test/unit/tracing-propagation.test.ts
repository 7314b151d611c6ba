import test from 'ava';
import { extractContext, injectionHeaders, parseB3Single, parseTraceparent, replacePropagationHeaders } from '../../core/telemetry/tracing/propagation.js';
import { sampleByTraceId, shouldSample } from '../../core/telemetry/tracing/sampling.js';
import { ensureRequestId } from '../../core/telemetry/tracing/request-id.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

test('W3C traceparent: sampled flag read, tracestate kept', (t) => {
  const ctx = extractContext({ traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: 'k=v' });
  t.deepEqual(ctx, { traceId: TRACE, spanId: SPAN, sampled: true, traceState: 'k=v', formats: ['w3c'] });
  t.false(parseTraceparent(`00-${TRACE}-${SPAN}-00`)?.sampled);
});

test('invalid traceparent values are ignored', (t) => {
  for (const bad of [
    `00-${'0'.repeat(32)}-${SPAN}-01`,
    `00-${TRACE}-${'0'.repeat(16)}-01`,
    `ff-${TRACE}-${SPAN}-01`,
    `00-${TRACE}-${SPAN}-01-extra`,
    `00-${TRACE.toUpperCase()}-${SPAN}-01`,
    `00-${TRACE}-${SPAN}`,
    'garbage',
  ]) {
    t.is(extractContext({ traceparent: bad }), undefined, bad);
  }
  t.truthy(parseTraceparent(`01-${TRACE}-${SPAN}-01-future`), 'a higher version is read by its known fields');
});

test('B3 multi-header: 64-bit trace ids padded, sampled and debug flags', (t) => {
  const ctx = extractContext({ 'x-b3-traceid': 'a3ce929d0e0e4736', 'x-b3-spanid': SPAN, 'x-b3-sampled': '1' });
  t.is(ctx?.traceId, '0000000000000000a3ce929d0e0e4736');
  t.true(ctx?.sampled);
  t.deepEqual(ctx?.formats, ['b3-multi']);
  t.is(extractContext({ 'x-b3-traceid': TRACE, 'x-b3-spanid': SPAN })?.sampled, undefined, 'deferred');
  t.true(extractContext({ 'x-b3-traceid': TRACE, 'x-b3-spanid': SPAN, 'x-b3-flags': '1' })?.sampled);
  t.is(extractContext({ 'x-b3-traceid': TRACE, 'x-b3-spanid': SPAN, 'x-b3-sampled': 'maybe' }), undefined);
  t.is(extractContext({ 'x-b3-traceid': TRACE }), undefined, 'no span id');
});

test('B3 single header', (t) => {
  t.deepEqual(parseB3Single(`${TRACE}-${SPAN}-1-${SPAN}`), { traceId: TRACE, spanId: SPAN, sampled: true });
  t.is(parseB3Single(`${TRACE}-${SPAN}`)?.sampled, undefined);
  t.true(parseB3Single(`${TRACE}-${SPAN}-d`)?.sampled);
  t.is(parseB3Single('0'), undefined);
  t.is(parseB3Single(`${TRACE}-${SPAN}-x`), undefined);
  t.is(parseB3Single(`${TRACE}-nothex0000000000`), undefined);
  t.deepEqual(extractContext({ b3: `${TRACE}-${SPAN}-0` })?.formats, ['b3-single']);
});

test('W3C wins over B3 when both are present; both formats are listed for injection', (t) => {
  const other = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
  const ctx = extractContext({ traceparent: `00-${TRACE}-${SPAN}-01`, b3: `${other}-${SPAN}-1` });
  t.is(ctx?.traceId, TRACE);
  t.deepEqual(ctx?.formats, ['w3c', 'b3-single']);
});

test('injection: W3C always, B3 only in the forms the request came with; stale headers replaced', (t) => {
  const out = { traceId: TRACE, spanId: 'bbbbbbbbbbbbbbbb', sampled: true, traceState: undefined };
  t.deepEqual(injectionHeaders(out, ['w3c']), { traceparent: `00-${TRACE}-bbbbbbbbbbbbbbbb-01` });
  const multi = injectionHeaders(out, ['b3-multi']);
  t.is(multi['x-b3-spanid'], 'bbbbbbbbbbbbbbbb');
  t.is(multi['x-b3-sampled'], '1');
  t.is(multi['b3'], undefined);
  const headers: Record<string, string | string[] | undefined> = { b3: 'old', 'x-b3-parentspanid': SPAN, host: 'h' };
  replacePropagationHeaders(headers, out, ['b3-single']);
  t.is(headers['b3'], `${TRACE}-bbbbbbbbbbbbbbbb-1`);
  t.is(headers['x-b3-parentspanid'], undefined);
  t.is(headers['host'], 'h');
});

test('sampling: parent decision wins, ratio by trace id, bounds', (t) => {
  t.true(shouldSample(true, TRACE, 0));
  t.false(shouldSample(false, TRACE, 100));
  t.true(sampleByTraceId(TRACE, 100));
  t.false(sampleByTraceId(TRACE, 0));
  t.false(sampleByTraceId(TRACE, Number.NaN));
  let sampled = 0;
  const n = 20000;
  for (let i = 0; i < n; i++) {
    const id = (i * 2654435761).toString(16).padStart(16, '0').slice(-16) + Math.random().toString(16).slice(2, 18).padEnd(16, '0');
    if (shouldSample(undefined, id, 10)) sampled++;
  }
  t.true(sampled > n * 0.08 && sampled < n * 0.12, `10 % sampled ${sampled}/${n}`);
});

test('x-request-id kept when present, generated when absent', (t) => {
  const kept: Record<string, string | string[] | undefined> = { 'x-request-id': 'abc' };
  t.is(ensureRequestId(kept), 'abc');
  const fresh: Record<string, string | string[] | undefined> = {};
  const id = ensureRequestId(fresh);
  t.regex(id, /^[0-9a-f-]{36}$/);
  t.is(fresh['x-request-id'], id);
});
