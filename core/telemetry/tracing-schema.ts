/**
 * The `tracing` section of a settings file (ambit-waypoint.yaml today,
 * ambitd.yaml later), validated into TracingSettings. Providers are written
 * as Istio's meshConfig.extensionProviders are: a name and one kind key
 * (opentelemetry, zipkin, or console for a log line per span); customTags as
 * Telemetry's tracing.customTags (literal, header, environment). Until the
 * Telemetry API drives tracing, this is how an operator turns it on.
 */
import type { Cursor, Schema } from '../config/schema.js';
import { array, Codes, enumOf, int, number, object, oneOf, record, refine, req, string, transform } from '../config/schema.js';
import { duration } from '../config/kinds/common.js';
import { DEFAULT_TELEMETRY, type CustomTag, type TracingProvider, type TracingSettings } from './settings.js';

/** What a provider waits for its backend per batch unless told: the same as the Telemetry API's providers (core/telemetry/resolve.ts). */
export const DEFAULT_PROVIDER_TIMEOUT_MS = 10_000;
/** Istio's default zipkin maxTagLength. */
export const DEFAULT_MAX_TAG_LENGTH = 256;

interface ProviderFile {
  name: string;
  opentelemetry?: { endpoint: string; encoding?: 'protobuf' | 'json'; timeout?: number; headers?: Record<string, string> };
  zipkin?: { endpoint: string; timeout?: number; maxTagLength?: number };
  console?: Record<string, never>;
}

interface TagFile {
  literal?: { value: string };
  header?: { name: string; defaultValue?: string };
  environment?: { name: string; defaultValue?: string };
}

interface TracingFile {
  providers?: ProviderFile[];
  samplingPercentage?: number;
  customTags?: Record<string, TagFile>;
}

const httpUrl = refine(string(), (v) => {
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    return `${JSON.stringify(v)} is not a URL (for example http://127.0.0.1:4318/v1/traces)`;
  }
  return url.protocol === 'http:' || url.protocol === 'https:' ? undefined : `${JSON.stringify(v)} must be an http:// or https:// URL`;
});

const providerName = refine(string(), (v) => (/^[A-Za-z0-9][-A-Za-z0-9_.]{0,62}$/.test(v) ? undefined : `${JSON.stringify(v)} is not a provider name`));

const PROVIDER = object<ProviderFile>(
  {
    name: req(providerName),
    opentelemetry: object<NonNullable<ProviderFile['opentelemetry']>>({
      endpoint: req(httpUrl),
      encoding: enumOf(['protobuf', 'json']),
      timeout: duration({ minMs: 1 }),
      headers: record(string()),
    }),
    zipkin: object<NonNullable<ProviderFile['zipkin']>>({ endpoint: req(httpUrl), timeout: duration({ minMs: 1 }), maxTagLength: int({ min: 1 }) }),
    console: object<Record<string, never>>({}),
  },
  { check: oneOf<ProviderFile>(['opentelemetry', 'zipkin', 'console']) },
);

const TAG = object<TagFile>(
  {
    literal: object<NonNullable<TagFile['literal']>>({ value: req(string()) }),
    header: object<NonNullable<TagFile['header']>>({ name: req(string()), defaultValue: string() }),
    environment: object<NonNullable<TagFile['environment']>>({ name: req(string()), defaultValue: string() }),
  },
  { check: oneOf<TagFile>(['literal', 'header', 'environment']) },
);

const FILE = object<TracingFile>(
  {
    providers: array(PROVIDER),
    samplingPercentage: number({ min: 0, max: 100 }),
    customTags: record(TAG),
  },
  {
    check: (f, at: Cursor) => {
      const seen = new Set<string>();
      for (const [i, p] of (f.providers ?? []).entries()) {
        if (seen.has(p.name)) at.at('providers').at(i).at('name').fail(Codes.value, `provider ${p.name} is listed twice`);
        seen.add(p.name);
      }
    },
  },
);

export const TRACING_SCHEMA: Schema<TracingSettings> = transform(FILE, (f) => ({
  providers: (f.providers ?? []).map(providerOf),
  samplingPercentage: f.samplingPercentage ?? DEFAULT_TELEMETRY.tracing.samplingPercentage,
  customTags: Object.fromEntries(Object.entries(f.customTags ?? {}).map(([k, t]) => [k, tagOf(t)])),
}));

/** What every provider with a backend has: where it is and how long a batch may take. */
const backend = (name: string, b: { endpoint: string; timeout?: number }) => ({
  name,
  endpoint: b.endpoint,
  timeoutMs: b.timeout ?? DEFAULT_PROVIDER_TIMEOUT_MS,
});

function providerOf(p: ProviderFile): TracingProvider {
  if (p.opentelemetry) {
    const o = p.opentelemetry;
    return { ...backend(p.name, o), kind: 'opentelemetry', encoding: o.encoding ?? 'protobuf', headers: o.headers ?? {} };
  }
  if (p.zipkin) return { ...backend(p.name, p.zipkin), kind: 'zipkin', maxTagLength: p.zipkin.maxTagLength ?? DEFAULT_MAX_TAG_LENGTH };
  return { name: p.name, kind: 'console' };
}

function tagOf(t: TagFile): CustomTag {
  if (t.literal) return { kind: 'literal', value: t.literal.value };
  const [kind, v] = t.header ? (['header', t.header] as const) : (['environment', t.environment!] as const);
  return v.defaultValue === undefined ? { kind, name: v.name } : { kind, name: v.name, defaultValue: v.defaultValue };
}
