/**
 * The SpanExporter behind each kind of tracing provider:
 *
 * - opentelemetry: OTLP/HTTP, protobuf (exporter-trace-otlp-proto) or JSON
 *   (exporter-trace-otlp-http), with the provider's headers and timeout.
 * - zipkin: Zipkin v2 JSON (exporter-zipkin), string attributes cut to
 *   maxTagLength first (Istio's zipkin.maxTagLength; the exporter has no such
 *   option).
 * - console: one structured pino line per span on the `trace` logger, not
 *   OTel's ConsoleSpanExporter: that one console.dir()s a multi-line object
 *   onto stdout, in between the JSON lines of the access and process logs,
 *   which breaks every log shipper reading them (journald, Loki, jq). A
 *   pino line is what the rest of ambit writes, so it is grep-able by
 *   trace_id next to the access log line of the same request.
 */
import { SpanKind, type Attributes } from '@opentelemetry/api';
import { ExportResultCode, hrTimeToMilliseconds, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter as OtlpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { ZipkinExporter } from '@opentelemetry/exporter-zipkin';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { Logger } from '../../logging.js';
import type { TracingProvider } from '../settings.js';

export function exporterFor(provider: TracingProvider, log: Logger): SpanExporter {
  switch (provider.kind) {
    case 'opentelemetry': {
      const config = { url: provider.endpoint, headers: { ...provider.headers }, timeoutMillis: provider.timeoutMs };
      return provider.encoding === 'json' ? new OtlpJsonExporter(config) : new OtlpProtoExporter(config);
    }
    case 'zipkin':
      return new TagLengthLimit(new ZipkinExporter({ url: provider.endpoint }), provider.maxTagLength);
    case 'console':
      return new LogSpanExporter(log.child({ component: 'trace', provider: provider.name }));
  }
}

/** String attributes longer than `max` characters, cut to it; the others as they are. */
export function truncateAttributes(attributes: Attributes, max: number): Attributes {
  let out: Attributes | undefined;
  for (const [key, value] of Object.entries(attributes)) {
    if (typeof value !== 'string' || value.length <= max) continue;
    out ??= { ...attributes };
    out[key] = value.slice(0, max);
  }
  return out ?? attributes;
}

class TagLengthLimit implements SpanExporter {
  readonly #inner: SpanExporter;
  readonly #max: number;

  constructor(inner: SpanExporter, max: number) {
    this.#inner = inner;
    this.#max = max;
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    const cut = spans.map((span) => {
      const attributes = truncateAttributes(span.attributes, this.#max);
      // The span's methods (spanContext) stay reachable through the prototype.
      return attributes === span.attributes ? span : (Object.create(span, { attributes: { value: attributes } }) as ReadableSpan);
    });
    this.#inner.export(cut, done);
  }

  shutdown(): Promise<void> {
    return this.#inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.#inner.forceFlush?.() ?? Promise.resolve();
  }
}

/** What the console provider logs of one span. */
export function spanLogFields(span: ReadableSpan): Record<string, unknown> {
  const ctx = span.spanContext();
  return {
    trace_id: ctx.traceId,
    span_id: ctx.spanId,
    parent_span_id: span.parentSpanContext?.spanId,
    name: span.name,
    kind: SpanKind[span.kind],
    start_time: new Date(hrTimeToMilliseconds(span.startTime)).toISOString(),
    duration_ms: hrTimeToMilliseconds(span.duration),
    status: span.status.code,
    attributes: span.attributes,
  };
}

class LogSpanExporter implements SpanExporter {
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    for (const span of spans) this.#log.info(spanLogFields(span), 'span');
    done({ code: ExportResultCode.SUCCESS });
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
