/**
 * One tracing provider's export pipeline: a BatchSpanProcessor in front of
 * its exporter, bounded so that a backend that is down, slow or black-holed
 * costs the proxy a fixed amount of memory and no request time:
 *
 * - At most `maxQueueSize` spans wait; past that a finished span is dropped
 *   at once (queue_full). The count of waiting spans is kept here, since the
 *   batch processor drops silently.
 * - A batch that does not finish within the provider's timeout is given up
 *   (export_timeout); one the exporter reports failed is dropped
 *   (export_failed). Nothing is retried beyond what the exporter does
 *   itself within that timeout: a trace backend that is down for a minute
 *   loses a minute of spans, never the proxy's memory.
 * - At most MAX_EXPORTS_IN_FLIGHT exports are outstanding, timed-out ones
 *   included (the Zipkin exporter has no request timeout, so a black-holed
 *   endpoint would otherwise hold a socket per batch); further batches are
 *   dropped (exporter_busy).
 *
 * Every drop is counted in ambit_trace_spans_dropped_total{provider,reason},
 * and the exporter going from working to failing (and back) is logged once
 * each way, not per batch.
 */
import type { Context } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { BatchSpanProcessor, type ReadableSpan, type Span, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Logger } from '../../logging.js';

export type DropReason = 'queue_full' | 'export_failed' | 'export_timeout' | 'exporter_busy' | 'shutdown';

/** The counter MeshTracer moves; a prom-client Counter with labelNames ['provider', 'reason'] fits. */
export interface TracingMetrics {
  spansDropped: { inc(labels: { provider: string; reason: DropReason }, value?: number): void };
}

export interface ExportLimits {
  maxQueueSize: number;
  maxExportBatchSize: number;
  scheduledDelayMs: number;
  /** How long one batch may take to export. */
  timeoutMs: number;
}

export const DEFAULT_EXPORT_LIMITS: Omit<ExportLimits, 'timeoutMs'> = { maxQueueSize: 2048, maxExportBatchSize: 512, scheduledDelayMs: 200 };

export const MAX_EXPORTS_IN_FLIGHT = 4;

/** The bookkeeping both halves (processor and exporter wrapper) share. */
interface Ledger {
  queued: number;
  inFlight: number;
  failing: boolean;
}

export class BoundedExport implements SpanProcessor {
  readonly provider: string;
  readonly #batch: BatchSpanProcessor;
  readonly #limits: ExportLimits;
  readonly #metrics: TracingMetrics;
  readonly #ledger: Ledger = { queued: 0, inFlight: 0, failing: false };
  #closed = false;

  constructor(provider: string, exporter: SpanExporter, limits: ExportLimits, metrics: TracingMetrics, log: Logger) {
    this.provider = provider;
    this.#limits = limits;
    this.#metrics = metrics;
    const counted = new CountedExporter(exporter, this.#ledger, limits.timeoutMs, (reason, n) => this.#drop(reason, n), log.child({ provider }));
    this.#batch = new BatchSpanProcessor(counted, {
      maxQueueSize: limits.maxQueueSize,
      maxExportBatchSize: Math.min(limits.maxExportBatchSize, limits.maxQueueSize),
      scheduledDelayMillis: limits.scheduledDelayMs,
      // Ours fires first and answers the batch processor; this one is only a backstop.
      exportTimeoutMillis: limits.timeoutMs + 1000,
    });
  }

  /** Spans waiting for export (for tests and the admin view). */
  get queued(): number {
    return this.#ledger.queued;
  }

  onStart(span: Span, parent: Context): void {
    this.#batch.onStart(span, parent);
  }

  onEnd(span: ReadableSpan): void {
    if ((span.spanContext().traceFlags & 1) === 0) return;
    if (this.#closed) return this.#drop('shutdown', 1);
    if (this.#ledger.queued >= this.#limits.maxQueueSize) return this.#drop('queue_full', 1);
    this.#ledger.queued++;
    this.#batch.onEnd(span);
  }

  forceFlush(): Promise<void> {
    return this.#batch.forceFlush();
  }

  /** Exports what is queued (bounded by the timeout per batch), then stops. */
  shutdown(): Promise<void> {
    this.#closed = true;
    return this.#batch.shutdown();
  }

  #drop(reason: DropReason, n: number): void {
    this.#metrics.spansDropped.inc({ provider: this.provider, reason }, n);
  }
}

class CountedExporter implements SpanExporter {
  readonly #inner: SpanExporter;
  readonly #ledger: Ledger;
  readonly #timeoutMs: number;
  readonly #drop: (reason: DropReason, n: number) => void;
  readonly #log: Logger;

  constructor(inner: SpanExporter, ledger: Ledger, timeoutMs: number, drop: (reason: DropReason, n: number) => void, log: Logger) {
    this.#inner = inner;
    this.#ledger = ledger;
    this.#timeoutMs = timeoutMs;
    this.#drop = drop;
    this.#log = log;
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    const ledger = this.#ledger;
    let answered = false;
    let timer: NodeJS.Timeout | undefined;
    const answer = (result: ExportResult, reason: DropReason | undefined): void => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      ledger.queued -= spans.length;
      if (reason) this.#drop(reason, spans.length);
      this.#health(result);
      done(result);
    };
    if (ledger.inFlight >= MAX_EXPORTS_IN_FLIGHT) {
      return answer({ code: ExportResultCode.FAILED, error: new Error(`${MAX_EXPORTS_IN_FLIGHT} exports still outstanding`) }, 'exporter_busy');
    }
    ledger.inFlight++;
    timer = setTimeout(
      () => answer({ code: ExportResultCode.FAILED, error: new Error(`export did not finish within ${this.#timeoutMs} ms`) }, 'export_timeout'),
      this.#timeoutMs,
    );
    timer.unref();
    try {
      this.#inner.export(spans, (result) => {
        ledger.inFlight--;
        answer(result, result.code === ExportResultCode.SUCCESS ? undefined : 'export_failed');
      });
    } catch (err) {
      ledger.inFlight--;
      answer({ code: ExportResultCode.FAILED, error: err as Error }, 'export_failed');
    }
  }

  shutdown(): Promise<void> {
    return this.#inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.#inner.forceFlush?.() ?? Promise.resolve();
  }

  #health(result: ExportResult): void {
    const failed = result.code !== ExportResultCode.SUCCESS;
    if (failed === this.#ledger.failing) return;
    this.#ledger.failing = failed;
    if (failed) this.#log.warn({ err: result.error }, 'trace export failing: spans are dropped and counted in ambit_trace_spans_dropped_total');
    else this.#log.info('trace export working again');
  }
}
