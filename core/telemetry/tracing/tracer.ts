/**
 * MeshTracer: the spans of one ambit process (ambit-waypoint, ambitd), made
 * from TracingSettings and re-made live when they change.
 *
 * - One BasicTracerProvider per set of providers, one BoundedExport (a
 *   bounded BatchSpanProcessor, bounded-export.ts) per provider, so several
 *   backends get every span and a slow one cannot hold up another.
 * - No providers: startServer returns undefined before touching anything,
 *   so a process with tracing off makes no span objects and leaves the
 *   propagation headers alone.
 * - Sampling is sampling.ts's, through MeshSampler; an unsampled request
 *   still propagates its trace (flags 00) so the next hop agrees, but makes
 *   no CLIENT spans.
 * - update() with new providers builds a new generation; the old one keeps
 *   the spans of requests it started and is shut down (its queues flushed,
 *   bounded by the provider timeouts) once the last of them ends, or after
 *   RETIRE_GRACE_MS, in the background: nothing waits on it. A change of
 *   sampling percentage or custom tags alone keeps the providers.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { createTraceState, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import type { Logger } from '../../logging.js';
import { stableJson } from '../../store/codec.js';
import type { TracingProvider, TracingSettings } from '../settings.js';
import { BoundedExport, DEFAULT_EXPORT_LIMITS, type TracingMetrics } from './bounded-export.js';
import { customTagAttributes } from './custom-tags.js';
import { exporterFor } from './exporters.js';
import { extractContext, injectionHeaders, type ExtractedContext, type HeaderBag, type PropagationFormat } from './propagation.js';
import { DEFERRED_SAMPLING, MeshSampler } from './sampler.js';

export type { TracingMetrics } from './bounded-export.js';

/** How long a replaced generation may wait for the requests it started before it is shut down anyway. */
export const RETIRE_GRACE_MS = 30_000;

/** The console provider writes to the log; a batch that takes this long has a stuck stdout. */
const CONSOLE_TIMEOUT_MS = 1000;

/** Attribute values longer than this are cut by the SDK: a request's headers must not make a span unbounded. */
const ATTRIBUTE_VALUE_LIMIT = 4096;

export interface MeshTracerOptions {
  /** The resource's service.name: ambit-waypoint or ambitd. */
  serviceName: string;
  /** service.instance.id; default a UUID per process, as the OTel resource conventions suggest. */
  instanceId?: string;
  settings: TracingSettings;
  metrics: TracingMetrics;
  log: Logger;
  env?: NodeJS.ProcessEnv;
  /** Queue and batch bounds of every provider (tests make them small). */
  limits?: Partial<typeof DEFAULT_EXPORT_LIMITS>;
}

export interface ServerStart {
  name: string;
  headers: HeaderBag;
  /**
   * SERVER (the default: a request or tunnel received here) or CLIENT: a span
   * this process starts for a connection it originates (ambitd's outbound
   * tunnel), whose context then goes upstream like a SERVER span's.
   */
  kind?: 'server' | 'client';
  /** Read only when the span is recorded, so unsampled requests do not build them. */
  attributes: () => Attributes;
}

/** The W3C (and B3) headers that carry a span, as propagation.ts writes them. */
export type PropagationHeaders = Readonly<Record<string, string>>;

class Generation {
  readonly key: string;
  readonly provider: BasicTracerProvider;
  readonly tracer: Tracer;
  readonly exports: readonly BoundedExport[];
  /** How long stop() waits: an exporter's shutdown can wait on a request a black-holed backend never answers. */
  readonly stopTimeoutMs: number;
  active = 0;
  #retired = false;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  readonly #log: Logger;

  constructor(key: string, provider: BasicTracerProvider, exports: readonly BoundedExport[], stopTimeoutMs: number, log: Logger) {
    this.key = key;
    this.stopTimeoutMs = stopTimeoutMs;
    this.provider = provider;
    this.tracer = provider.getTracer('ambit');
    this.exports = exports;
    this.#log = log;
  }

  retire(): void {
    this.#retired = true;
    if (this.active === 0) return void this.stop();
    this.#timer = setTimeout(() => void this.stop(), RETIRE_GRACE_MS);
    this.#timer.unref();
  }

  ended(): void {
    this.active--;
    if (this.#retired && this.active === 0) void this.stop();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#timer);
    let giveUp: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      giveUp = setTimeout(() => {
        this.#log.warn({ waitedMs: this.stopTimeoutMs }, 'tracing providers did not finish exporting; the rest of their spans are lost');
        resolve();
      }, this.stopTimeoutMs);
      giveUp.unref();
    });
    const done = this.provider.shutdown().catch((err: unknown) => this.#log.warn({ err }, 'tracing provider shutdown failed'));
    await Promise.race([done, late]);
    clearTimeout(giveUp);
  }
}

export class MeshTracer {
  readonly #options: MeshTracerOptions;
  readonly #log: Logger;
  readonly #env: NodeJS.ProcessEnv;
  readonly #instanceId: string;
  #settings: TracingSettings;
  #current: Generation | undefined;
  readonly #retired = new Set<Generation>();

  constructor(options: MeshTracerOptions) {
    this.#options = options;
    this.#log = options.log;
    this.#env = options.env ?? process.env;
    this.#instanceId = options.instanceId ?? randomUUID();
    this.#settings = options.settings;
    this.#current = this.#generation(options.settings.providers);
  }

  /** Spans are being made (some provider is configured). */
  get enabled(): boolean {
    return this.#current !== undefined;
  }

  get settings(): TracingSettings {
    return this.#settings;
  }

  /** The export pipelines of the current providers (tests, the admin view). */
  get exports(): readonly BoundedExport[] {
    return this.#current?.exports ?? [];
  }

  /** New settings for the next request; returns at once (old providers flush in the background). */
  update(settings: TracingSettings): void {
    const before = this.#current;
    this.#settings = settings;
    if ((before?.key ?? providersKey([])) === providersKey(settings.providers)) return;
    this.#current = this.#generation(settings.providers);
    if (before) {
      this.#retired.add(before);
      before.retire();
    }
    this.#log.info(
      { providers: settings.providers.map((p) => `${p.name} (${p.kind})`), samplingPercentage: settings.samplingPercentage },
      'tracing providers changed',
    );
  }

  /**
   * The SERVER span of one incoming request, its parent the context the
   * request carried (W3C or B3), else a new trace sampled by ratio.
   * undefined when tracing is off.
   */
  startServer(start: ServerStart): ServerTrace | undefined {
    const gen = this.#current;
    if (!gen) return undefined;
    const parent = extractContext(start.headers);
    const span = gen.tracer.startSpan(start.name, { kind: start.kind === 'client' ? SpanKind.CLIENT : SpanKind.SERVER }, parentContext(parent));
    const sampled = span.isRecording();
    if (sampled) {
      span.setAttributes(start.attributes());
      span.setAttributes(customTagAttributes(this.#settings.customTags, start.headers, this.#env));
      gen.active++;
    }
    return new ServerTrace(gen, span, sampled, parent);
  }

  /** Exports what is queued and stops every provider; bounded by their timeouts. */
  async shutdown(): Promise<void> {
    const all = [...this.#retired, ...(this.#current ? [this.#current] : [])];
    this.#current = undefined;
    this.#retired.clear();
    await Promise.all(all.map((g) => g.stop()));
  }

  #generation(providers: readonly TracingProvider[]): Generation | undefined {
    if (providers.length === 0) return undefined;
    const limits = { ...DEFAULT_EXPORT_LIMITS, ...this.#options.limits };
    const timeoutOf = (p: TracingProvider): number => ('timeoutMs' in p ? p.timeoutMs : CONSOLE_TIMEOUT_MS);
    const exports = providers.map(
      (p) => new BoundedExport(p.name, exporterFor(p, this.#log), { ...limits, timeoutMs: timeoutOf(p) }, this.#options.metrics, this.#log),
    );
    // A queue is flushed in batches of one timeout each, then the exporter stops: two timeouts and a margin.
    const stopTimeoutMs = 2 * Math.max(...providers.map(timeoutOf)) + 1000;
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({
        'service.name': this.#options.serviceName,
        'service.instance.id': this.#instanceId,
        'host.name': hostname(),
      }),
      sampler: new MeshSampler(() => this.#settings.samplingPercentage),
      spanLimits: { attributeValueLengthLimit: ATTRIBUTE_VALUE_LIMIT },
      spanProcessors: exports,
    });
    return new Generation(providersKey(providers), provider, exports, stopTimeoutMs, this.#log);
  }
}

const providersKey = (providers: readonly TracingProvider[]): string => stableJson(providers);

/** The parent context of a request's SERVER span: its caller's span, remote; none for a new trace. */
function parentContext(parent: ExtractedContext | undefined) {
  if (!parent) return ROOT_CONTEXT;
  const ctx = trace.setSpanContext(ROOT_CONTEXT, {
    traceId: parent.traceId,
    spanId: parent.spanId,
    traceFlags: parent.sampled === true ? TraceFlags.SAMPLED : TraceFlags.NONE,
    isRemote: true,
    ...(parent.traceState !== undefined ? { traceState: createTraceState(parent.traceState) } : {}),
  });
  return parent.sampled === undefined ? ctx.setValue(DEFERRED_SAMPLING, true) : ctx;
}

/** One upstream try under a ServerTrace: its CLIENT span (when sampled) and the headers that carry it. */
export interface ClientTrace {
  readonly headers: PropagationHeaders;
  readonly spanId: string;
  /** errorType: OTel's error.type, set when the try failed (the span's status becomes ERROR). */
  end(attributes: Attributes, errorType: string | undefined): void;
}

const ENDED_CLIENT = (headers: PropagationHeaders, spanId: string): ClientTrace => ({ headers, spanId, end: () => undefined });

export class ServerTrace {
  readonly traceId: string;
  readonly spanId: string;
  readonly sampled: boolean;
  readonly #gen: Generation;
  readonly #span: Span;
  readonly #formats: readonly PropagationFormat[];
  readonly #traceState: string | undefined;
  #ended = false;
  /** Unsampled: every try carries the server span's context with flags 00. */
  #unsampledTry: ClientTrace | undefined;

  constructor(gen: Generation, span: Span, sampled: boolean, parent: ExtractedContext | undefined) {
    const ctx = span.spanContext();
    this.#gen = gen;
    this.#span = span;
    this.traceId = ctx.traceId;
    this.spanId = ctx.spanId;
    this.sampled = sampled;
    this.#formats = parent?.formats ?? ['w3c'];
    this.#traceState = ctx.traceState?.serialize() ?? parent?.traceState;
  }

  /** The headers that make `spanId` the parent of whatever the upstream does. */
  headersFor(spanId: string): PropagationHeaders {
    return injectionHeaders({ traceId: this.traceId, spanId, sampled: this.sampled, traceState: this.#traceState }, this.#formats);
  }

  updateName(name: string): void {
    if (this.sampled) this.#span.updateName(name);
  }

  /** A CLIENT span for one try, child of this SERVER span. */
  startClient(name: string, attributes: () => Attributes): ClientTrace {
    if (!this.sampled || this.#ended) return (this.#unsampledTry ??= ENDED_CLIENT(this.headersFor(this.spanId), this.spanId));
    const span = this.#gen.tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes: attributes() }, trace.setSpan(ROOT_CONTEXT, this.#span));
    const spanId = span.spanContext().spanId;
    let ended = false;
    return {
      headers: this.headersFor(spanId),
      spanId,
      end: (attrs, errorType) => {
        if (ended) return;
        ended = true;
        finish(span, attrs, errorType);
      },
    };
  }

  end(attributes: () => Attributes, errorType: string | undefined): void {
    if (this.#ended) return;
    this.#ended = true;
    if (!this.sampled) return;
    finish(this.#span, attributes(), errorType);
    this.#gen.ended();
  }
}

function finish(span: Span, attributes: Attributes, errorType: string | undefined): void {
  span.setAttributes(attributes);
  if (errorType !== undefined) {
    span.setAttribute('error.type', errorType);
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
  span.end();
}
