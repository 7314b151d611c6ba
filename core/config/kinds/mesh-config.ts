/**
 * MeshConfig (ambit.dev/v1alpha1): the parts of Istio's meshConfig that have no
 * Kubernetes object of their own, as a resource the store holds like any other.
 * Today: the telemetry providers (extensionProviders, declared as Istio declares
 * them) and which of them apply when a Telemetry resource names none
 * (defaultProviders). One per mesh, in the root namespace.
 */
import { array, enumOf, int, object, port, refine, req, string, Codes, type Cursor, type Schema } from '../schema.js';
import { address, dnsLabelProblem, duration, strings } from './common.js';

export interface HeaderValue {
  name: string;
  value: string;
}

export interface OtlpHttp {
  /** Default /v1/traces. */
  path?: string;
  /** Milliseconds. */
  timeout?: number;
  headers?: HeaderValue[];
  /** ambit's addition (Istio sends protobuf only): protobuf (default) or json. */
  encoding?: 'protobuf' | 'json';
}

export interface OpenTelemetryProvider {
  /** A host name or IP address; Istio writes a Kubernetes service name here. */
  service: string;
  port: number;
  /** Required: ambit exports OTLP over HTTP only. */
  http: OtlpHttp;
}

export interface ZipkinProvider {
  service: string;
  port: number;
  /** Default /api/v2/spans. */
  path?: string;
  maxTagLength?: number;
}

export interface FileAccessLogProvider {
  /** Only /dev/stdout: access logs are lines of the process log (journald under systemd). */
  path: string;
}

/** Exactly one provider type per entry. */
export interface ExtensionProvider {
  name: string;
  opentelemetry?: OpenTelemetryProvider;
  zipkin?: ZipkinProvider;
  /** ambit's addition: spans as log lines, for a first look without a backend. */
  console?: Record<string, never>;
  envoyFileAccessLog?: FileAccessLogProvider;
  prometheus?: Record<string, never>;
}

export interface DefaultProviders {
  tracing?: string[];
  metrics?: string[];
  accessLogging?: string[];
}

export interface MeshConfigSpec {
  extensionProviders?: ExtensionProvider[];
  defaultProviders?: DefaultProviders;
}

/** Providers every mesh has without declaring them, as Istio ships them. */
export const BUILTIN_PROVIDERS: Readonly<Record<string, 'metrics' | 'accessLogging'>> = { prometheus: 'metrics', envoy: 'accessLogging' };

const PROVIDER_TYPES = ['opentelemetry', 'zipkin', 'console', 'envoyFileAccessLog', 'prometheus'] as const;

const urlPath = (): Schema<string> => refine(string(), (p) => (p.startsWith('/') ? undefined : `${JSON.stringify(p)} must start with "/"`));
const empty = (): Schema<Record<string, never>> => object<Record<string, never>>({});

const openTelemetry = (): Schema<OpenTelemetryProvider> =>
  object<OpenTelemetryProvider>(
    {
      service: req(address()),
      port: req(port()),
      http: req(
        object<OtlpHttp>({
          path: urlPath(),
          timeout: duration({ minMs: 1 }),
          headers: array(object<HeaderValue>({ name: req(string()), value: req(string()) }), {}),
          encoding: enumOf(['protobuf', 'json']),
        }),
      ),
    },
    {
      unsupported: {
        grpc: 'ambit exports OTLP over HTTP only: set http (for example {path: /v1/traces}) and the collector port 4318',
        resourceDetectors: 'ambit sets service.name and host attributes itself',
        dynatraceSampler: 'ambit samples by ratio (Telemetry randomSamplingPercentage)',
      },
    },
  );

const zipkin = (): Schema<ZipkinProvider> =>
  object<ZipkinProvider>(
    { service: req(address()), port: req(port()), path: urlPath(), maxTagLength: int({ min: 1 }) },
    { unsupported: { enable64bitTraceId: 'ambit makes 128-bit trace ids, as W3C trace context requires' } },
  );

const fileAccessLog = (): Schema<FileAccessLogProvider> =>
  object<FileAccessLogProvider>(
    {
      path: req(
        refine(string(), (p) =>
          p === '/dev/stdout' ? undefined : `${JSON.stringify(p)}: ambit writes access logs to the process log only; use /dev/stdout (journald keeps them)`,
        ),
      ),
    },
    { unsupported: { logFormat: 'ambit writes its JSON access-log line (docs/telemetry-api.md lists the fields)' } },
  );

function oneProviderType(p: ExtensionProvider, at: Cursor): void {
  const set = PROVIDER_TYPES.filter((k) => p[k] !== undefined);
  if (set.length !== 1)
    at.fail(set.length ? Codes.value : Codes.required, `needs exactly one of ${PROVIDER_TYPES.join(', ')}${set.length ? `, not ${set.join(' and ')}` : ''}`);
}

const extensionProvider = (): Schema<ExtensionProvider> =>
  object<ExtensionProvider>(
    {
      name: req(refine(string(), dnsLabelProblem)),
      opentelemetry: openTelemetry(),
      zipkin: zipkin(),
      console: empty(),
      envoyFileAccessLog: fileAccessLog(),
      prometheus: empty(),
    },
    {
      check: oneProviderType,
      unsupported: {
        envoyOtelAls: 'export access logs through the process log',
        envoyHttpAls: 'export access logs through the process log',
        envoyTcpAls: 'export access logs through the process log',
        envoyExtAuthzHttp: 'not an ambit telemetry provider',
        envoyExtAuthzGrpc: 'not an ambit telemetry provider',
        datadog: 'use an OpenTelemetry collector with its Datadog exporter',
        lightstep: 'use opentelemetry',
        stackdriver: 'use an OpenTelemetry collector with its Google Cloud exporter',
        skywalking: 'use opentelemetry',
        sds: 'not an ambit telemetry provider',
      },
    },
  );

function uniqueNames(spec: MeshConfigSpec, at: Cursor): void {
  const seen = new Set<string>();
  spec.extensionProviders?.forEach((p, i) => {
    if (Object.hasOwn(BUILTIN_PROVIDERS, p.name))
      at.at('extensionProviders').at(i).at('name').fail(Codes.value, `${p.name} is a built-in provider name; choose another`);
    else if (seen.has(p.name)) at.at('extensionProviders').at(i).at('name').fail(Codes.value, `provider ${p.name} is declared twice`);
    seen.add(p.name);
  });
}

export type ProviderUse = 'tracing' | 'metrics' | 'accessLogging';

const USE_NAMES: Record<ProviderUse, string> = { tracing: 'a tracing', metrics: 'a metrics', accessLogging: 'an access-log' };
/** "provider x is a metrics provider, not a tracing one". */
export function wrongUse(name: string, found: ProviderUse, wanted: ProviderUse): string {
  return `provider ${name} is ${USE_NAMES[found]} provider, not ${USE_NAMES[wanted]} one`;
}

/** What a provider can be used for; undefined for a name neither declared nor built in. */
export function providerUse(spec: MeshConfigSpec | undefined, name: string): ProviderUse | undefined {
  if (Object.hasOwn(BUILTIN_PROVIDERS, name)) return BUILTIN_PROVIDERS[name];
  const p = spec?.extensionProviders?.find((e) => e.name === name);
  if (!p) return undefined;
  if (p.prometheus) return 'metrics';
  if (p.envoyFileAccessLog) return 'accessLogging';
  return 'tracing';
}

function defaultsExist(spec: MeshConfigSpec, at: Cursor): void {
  for (const use of ['tracing', 'metrics', 'accessLogging'] as const) {
    spec.defaultProviders?.[use]?.forEach((name, i) => {
      const found = providerUse(spec, name);
      const here = at.at('defaultProviders').at(use).at(i);
      if (found === undefined)
        here.fail(Codes.value, `provider ${name} is not declared in extensionProviders (nor built in: ${Object.keys(BUILTIN_PROVIDERS).join(', ')})`);
      else if (found !== use) here.fail(Codes.value, wrongUse(name, found, use));
    });
  }
}

export const meshConfigSpec = (): Schema<MeshConfigSpec> =>
  object<MeshConfigSpec>(
    {
      extensionProviders: array(extensionProvider()),
      defaultProviders: object<DefaultProviders>({ tracing: strings(), metrics: strings(), accessLogging: strings() }),
    },
    {
      check: (spec, at) => {
        uniqueNames(spec, at);
        defaultsExist(spec, at);
      },
    },
  );
