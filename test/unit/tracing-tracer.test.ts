import test from 'ava';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { BoundedExport, MAX_EXPORTS_IN_FLIGHT, type DropReason } from '../../core/telemetry/tracing/bounded-export.js';
import { customTagAttributes } from '../../core/telemetry/tracing/custom-tags.js';
import { truncateAttributes } from '../../core/telemetry/tracing/exporters.js';
import { DEFERRED_SAMPLING, MeshSampler, parentDecision } from '../../core/telemetry/tracing/sampler.js';
import { MeshTracer } from '../../core/telemetry/tracing/tracer.js';
import type { TracingSettings } from '../../core/telemetry/settings.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

/** A pino logger whose lines are kept, parsed. */
function capture(): { log: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { log: pino({ level: 'info' }, sink), lines };
}

function counter(): { spansDropped: { inc(l: { provider: string; reason: DropReason }, v?: number): void }; by: Map<string, number> } {
  const by = new Map<string, number>();
  return { by, spansDropped: { inc: (l, v = 1) => void by.set(`${l.provider}/${l.reason}`, (by.get(`${l.provider}/${l.reason}`) ?? 0) + v) } };
}

const consoleSettings = (samplingPercentage = 100, name = 'log'): TracingSettings => ({
  providers: [{ name, kind: 'console' }],
  samplingPercentage,
  customTags: {},
});

const spans = (lines: Record<string, unknown>[]) => lines.filter((l) => l.msg === 'span');

async function flush(t: MeshTracer): Promise<void> {
  await Promise.all(t.exports.map((e) => e.forceFlush()));
}

test('sampler: a decided parent wins, a deferred or absent one falls back to the ratio', (t) => {
  const remote = (flags: number) => trace.setSpanContext(ROOT_CONTEXT, { traceId: TRACE, spanId: SPAN, traceFlags: flags, isRemote: true });
  t.true(parentDecision(remote(TraceFlags.SAMPLED)));
  t.false(parentDecision(remote(TraceFlags.NONE)));
  t.is(parentDecision(remote(TraceFlags.NONE).setValue(DEFERRED_SAMPLING, true)), undefined);
  t.is(parentDecision(ROOT_CONTEXT), undefined);
  let pct = 0;
  const s = new MeshSampler(() => pct);
  t.is(s.shouldSample(ROOT_CONTEXT, TRACE).decision, 0, 'root at 0 %: not recorded');
  t.is(s.shouldSample(remote(TraceFlags.SAMPLED), TRACE).decision, 2, 'sampled parent at 0 %: recorded');
  pct = 100;
  t.is(s.shouldSample(remote(TraceFlags.NONE), TRACE).decision, 0, 'unsampled parent at 100 %: not recorded');
  t.is(s.shouldSample(remote(TraceFlags.NONE).setValue(DEFERRED_SAMPLING, true), TRACE).decision, 2, 'the percentage is read per decision');
});

test('custom tags: literal, header and environment, with defaults; absent without default is left off', (t) => {
  const attrs = customTagAttributes(
    {
      team: { kind: 'literal', value: 'bookinfo' },
      user: { kind: 'header', name: 'X-User' },
      missing: { kind: 'header', name: 'x-none' },
      fallback: { kind: 'header', name: 'x-none', defaultValue: 'anon' },
      zone: { kind: 'environment', name: 'ZONE' },
      region: { kind: 'environment', name: 'REGION', defaultValue: 'eu' },
    },
    { 'x-user': 'jason' },
    { ZONE: 'a' },
  );
  t.deepEqual(attrs, { team: 'bookinfo', user: 'jason', fallback: 'anon', zone: 'a', region: 'eu' });
});

test('zipkin maxTagLength: long strings cut, others and short ones kept, the same object when nothing is cut', (t) => {
  const a = { long: 'x'.repeat(10), short: 'abc', n: 12345678901 };
  t.deepEqual(truncateAttributes(a, 4), { long: 'xxxx', short: 'abc', n: 12345678901 });
  const b = { short: 'abc' };
  t.is(truncateAttributes(b, 4), b);
});

/** An exporter whose answers the test gives. */
class HeldExporter implements SpanExporter {
  readonly calls: { spans: ReadableSpan[]; done: (r: ExportResult) => void }[] = [];
  export(spans: ReadableSpan[], done: (r: ExportResult) => void): void {
    this.calls.push({ spans, done });
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

const fakeSpan = (sampled = true) =>
  ({ spanContext: () => ({ traceId: TRACE, spanId: SPAN, traceFlags: sampled ? 1 : 0 }), resource: {} }) as unknown as ReadableSpan;
const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

test('bounded export: a full queue drops and counts; unsampled spans are not queued', async (t) => {
  const m = counter();
  const { log } = capture();
  const held = new HeldExporter();
  const b = new BoundedExport('otel', held, { maxQueueSize: 3, maxExportBatchSize: 3, scheduledDelayMs: 60_000, timeoutMs: 60_000 }, m, log);
  b.onEnd(fakeSpan(false));
  for (let i = 0; i < 5; i++) b.onEnd(fakeSpan());
  t.is(b.queued, 3);
  t.is(m.by.get('otel/queue_full'), 2);
  await tick();
  t.is(held.calls.length, 1, 'a full batch goes out at once');
  held.calls[0]!.done({ code: ExportResultCode.SUCCESS });
  t.is(b.queued, 0, 'exported spans leave the queue');
  b.onEnd(fakeSpan());
  t.is(b.queued, 1, 'room again');
});

test('bounded export: failed and timed-out batches are counted, and the queue is freed', async (t) => {
  const m = counter();
  const { log, lines } = capture();
  const held = new HeldExporter();
  const b = new BoundedExport('zipkin', held, { maxQueueSize: 10, maxExportBatchSize: 2, scheduledDelayMs: 60_000, timeoutMs: 50 }, m, log);
  b.onEnd(fakeSpan());
  b.onEnd(fakeSpan());
  await tick();
  held.calls[0]!.done({ code: ExportResultCode.FAILED, error: new Error('ECONNREFUSED') });
  t.is(m.by.get('zipkin/export_failed'), 2);
  t.is(b.queued, 0);
  t.is(lines.filter((l) => l.level === 40).length, 1, 'going from working to failing is logged once');
  b.onEnd(fakeSpan());
  b.onEnd(fakeSpan());
  await tick(120);
  t.is(m.by.get('zipkin/export_timeout'), 2, 'an export that never answers is given up after the timeout');
  t.is(b.queued, 0);
  t.is(lines.filter((l) => l.level === 40).length, 1, 'still failing: not logged again');
});

test('bounded export: exports still outstanding past the limit drop further batches', async (t) => {
  const m = counter();
  const { log } = capture();
  const held = new HeldExporter();
  const b = new BoundedExport('slow', held, { maxQueueSize: 100, maxExportBatchSize: 1, scheduledDelayMs: 60_000, timeoutMs: 20 }, m, log);
  for (let i = 0; i < MAX_EXPORTS_IN_FLIGHT + 2; i++) {
    b.onEnd(fakeSpan());
    await tick(40);
  }
  t.is(held.calls.length, MAX_EXPORTS_IN_FLIGHT, 'the black-holed exporter is not called again');
  t.is(m.by.get('slow/export_timeout'), MAX_EXPORTS_IN_FLIGHT);
  t.is(m.by.get('slow/exporter_busy'), 2);
  for (const c of held.calls) c.done({ code: ExportResultCode.SUCCESS });
  t.is(b.queued, 0, 'late answers of given-up exports change nothing');
});

test('tracer: no providers means no span and no headers touched', (t) => {
  const tracer = new MeshTracer({
    serviceName: 'ambit-waypoint',
    settings: { providers: [], samplingPercentage: 100, customTags: {} },
    metrics: counter(),
    log: capture().log,
  });
  t.false(tracer.enabled);
  let built = false;
  t.is(
    tracer.startServer({
      name: 'GET',
      headers: {},
      attributes: () => ((built = true), {}),
    }),
    undefined,
  );
  t.false(built);
});

test('tracer: SERVER span joins the caller; CLIENT spans are its children and carry themselves upstream', async (t) => {
  const { log, lines } = capture();
  const tracer = new MeshTracer({
    serviceName: 'ambit-waypoint',
    instanceId: 'wp-1',
    settings: consoleSettings(0),
    metrics: counter(),
    log,
    limits: { scheduledDelayMs: 5 },
  });
  const server = tracer.startServer({
    name: 'GET',
    headers: { traceparent: `00-${TRACE}-${SPAN}-01`, b3: `${TRACE}-${SPAN}-1` },
    attributes: () => ({ 'url.path': '/x' }),
  })!;
  t.true(server.sampled, 'the sampled parent wins over 0 %');
  t.is(server.traceId, TRACE);
  const first = server.startClient('GET', () => ({ 'server.address': 'a' }));
  const second = server.startClient('GET', () => ({}));
  t.not(first.spanId, second.spanId);
  t.is(first.headers.traceparent, `00-${TRACE}-${first.spanId}-01`);
  t.is(first.headers.b3, `${TRACE}-${first.spanId}-1`, 'B3 goes upstream because the request came with it');
  first.end({ 'http.response.status_code': 503 }, '503');
  second.end({ 'http.response.status_code': 200 }, undefined);
  server.end(() => ({ 'http.response.status_code': 200 }), undefined);
  await flush(tracer);
  const got = spans(lines);
  t.is(got.length, 3);
  const srv = got.find((s) => s.kind === 'SERVER')!;
  t.is(srv.parent_span_id, SPAN);
  t.is(srv.span_id, server.spanId);
  const clients = got.filter((s) => s.kind === 'CLIENT');
  t.deepEqual(
    clients.map((c) => [c.span_id, c.parent_span_id, (c.attributes as Record<string, unknown>)['error.type'], c.status]),
    [
      [first.spanId, server.spanId, '503', 2],
      [second.spanId, server.spanId, undefined, 0],
    ],
  );
  t.is((srv.attributes as Record<string, unknown>)['url.path'], '/x');
  await tracer.shutdown();
});

test('tracer: an unsampled parent makes no spans but still propagates its decision', async (t) => {
  const { log, lines } = capture();
  const tracer = new MeshTracer({ serviceName: 'ambit-waypoint', settings: consoleSettings(100), metrics: counter(), log, limits: { scheduledDelayMs: 5 } });
  let built = false;
  const server = tracer.startServer({ name: 'GET', headers: { traceparent: `00-${TRACE}-${SPAN}-00` }, attributes: () => ((built = true), {}) })!;
  t.false(server.sampled);
  t.false(built, 'attributes of an unsampled span are never built');
  const c = server.startClient('GET', () => ({}));
  t.is(c.headers.traceparent, `00-${TRACE}-${server.spanId}-00`);
  t.not(server.spanId, SPAN, 'the hop has its own span id even unsampled');
  c.end({}, undefined);
  server.end(() => ({}), undefined);
  await flush(tracer);
  t.is(spans(lines).length, 0);
  await tracer.shutdown();
});

test('tracer: a new trace is sampled by ratio of its id; custom tags land on the SERVER span', async (t) => {
  const { log, lines } = capture();
  const settings: TracingSettings = { ...consoleSettings(100), customTags: { team: { kind: 'literal', value: 'reviews' } } };
  const tracer = new MeshTracer({ serviceName: 'ambit-waypoint', settings, metrics: counter(), log, limits: { scheduledDelayMs: 5 } });
  const root = tracer.startServer({ name: 'GET', headers: {}, attributes: () => ({}) })!;
  t.true(root.sampled);
  t.regex(root.traceId, /^[0-9a-f]{32}$/);
  t.is(root.startClient('GET', () => ({})).headers.traceparent?.slice(0, 35), `00-${root.traceId}`);
  root.end(() => ({}), undefined);
  tracer.update({ ...settings, samplingPercentage: 0 });
  t.is(tracer.exports.length, 1, 'a percentage change keeps the providers');
  t.false(tracer.startServer({ name: 'GET', headers: {}, attributes: () => ({}) })!.sampled);
  await flush(tracer);
  const [srv] = spans(lines);
  t.is((srv!.attributes as Record<string, unknown>).team, 'reviews');
  await tracer.shutdown();
});

test('tracer: update swaps providers live; spans of requests begun before finish on the old ones', async (t) => {
  const { log, lines } = capture();
  const tracer = new MeshTracer({ serviceName: 'ambitd', settings: consoleSettings(100, 'old'), metrics: counter(), log, limits: { scheduledDelayMs: 5 } });
  const before = tracer.startServer({ name: 'GET', headers: {}, attributes: () => ({}) })!;
  tracer.update({
    ...consoleSettings(100, 'new'),
    providers: [
      { name: 'new', kind: 'console' },
      { name: 'also', kind: 'console' },
    ],
  });
  t.deepEqual(
    tracer.exports.map((e) => e.provider),
    ['new', 'also'],
  );
  const after = tracer.startServer({ name: 'GET', headers: {}, attributes: () => ({}) })!;
  after.end(() => ({}), undefined);
  before.end(() => ({}), undefined);
  await flush(tracer);
  await tick(50);
  const byProvider = (p: string) =>
    spans(lines)
      .filter((l) => l.provider === p)
      .map((l) => l.span_id);
  t.deepEqual(byProvider('old'), [before.spanId], 'the old provider got its request, flushed when it ended');
  t.deepEqual(byProvider('new'), [after.spanId]);
  t.deepEqual(byProvider('also'), [after.spanId], 'several providers get every span');
  tracer.update({ providers: [], samplingPercentage: 100, customTags: {} });
  t.false(tracer.enabled);
  await tracer.shutdown();
});
