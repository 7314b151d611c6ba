/**
 * What Istio's Telemetry resources and the mesh's MeshConfig mean for one
 * workload (or one waypoint's service): the TelemetrySettings that ambitd and
 * the waypoint apply live. Pure: the same resources always resolve the same.
 *
 * Istio's hierarchy: the root namespace's selector-less resource, then the
 * workload's namespace's selector-less resource, then the one that selects the
 * workload (labels, or targetRefs at a waypoint). Each field a more specific
 * level sets replaces the field of the level above; fields it leaves out are
 * inherited. Metric overrides are the exception, as in Istio: they add up,
 * the more specific coming later so that it wins for the same metric and tag.
 * When several resources claim one level, the oldest applies and the others
 * are reported as problems (Istio calls that configuration invalid).
 */
import type { TypedResource } from '../config/normalize.js';
import { providerUse, wrongUse, type ExtensionProvider, type MeshConfigSpec } from '../config/kinds/mesh-config.js';
import type { TelemetryAccessLogging, TelemetryCustomTag, TelemetryMetrics, TelemetrySpec, TelemetryTracing } from '../config/kinds/telemetry.js';
import { DEFAULT_TELEMETRY, type CustomTag, type MetricOverride, type TagOverride, type TelemetrySettings, type TracingProvider } from './settings.js';

type Telemetry = TypedResource<'Telemetry'>;
type MeshConfig = TypedResource<'MeshConfig'>;

export interface TelemetryWorkload {
  namespace: string;
  labels?: Readonly<Record<string, string>>;
  /** At a waypoint: the service it serves (targetRef kind Service / ServiceEntry). */
  serviceName?: string;
  /** At a waypoint: its own name (targetRef kind Gateway). */
  waypointName?: string;
}

export interface TelemetryInputs {
  telemetries: readonly Telemetry[];
  meshConfigs: readonly MeshConfig[];
  rootNamespace: string;
}

export interface ResolvedTelemetry {
  settings: TelemetrySettings;
  /** Resources that could not apply as written, each naming the resource and why. */
  problems: string[];
}

const DEFAULT_OTLP_PATH = '/v1/traces';
const DEFAULT_ZIPKIN_PATH = '/api/v2/spans';
const DEFAULT_EXPORT_TIMEOUT_MS = 10_000;
/** Istio's default for Zipkin's maxTagLength. */
const DEFAULT_MAX_TAG_LENGTH = 256;

const keyOf = (r: { metadata: { namespace: string; name: string } }) => `${r.metadata.namespace}/${r.metadata.name}`;
const byAge = (a: { metadata: { creationTimestamp?: string; name: string } }, b: { metadata: { creationTimestamp?: string; name: string } }) =>
  (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') || a.metadata.name.localeCompare(b.metadata.name);

function selects(spec: TelemetrySpec, w: TelemetryWorkload): boolean {
  const targets = spec.targetRefs ?? (spec.targetRef ? [spec.targetRef] : []);
  if (targets.length > 0) return targets.some((t) => (t.kind === 'Gateway' ? t.name === w.waypointName : t.name === w.serviceName));
  return Object.entries(spec.selector?.matchLabels ?? {}).every(([k, v]) => w.labels?.[k] === v);
}

const scoped = (spec: TelemetrySpec) => spec.selector !== undefined || spec.targetRef !== undefined || spec.targetRefs !== undefined;

/** The resource of each level, least specific first; extra claimants are problems. */
function levels(inputs: TelemetryInputs, w: TelemetryWorkload, problems: string[]): TelemetrySpec[] {
  const pick = (what: string, candidates: Telemetry[]): TelemetrySpec[] => {
    const [first, ...rest] = [...candidates].sort(byAge);
    if (!first) return [];
    for (const r of rest) problems.push(`Telemetry ${keyOf(r)} is ignored: ${keyOf(first)} is older and already sets the ${what} telemetry`);
    return [first.spec];
  };
  const root = inputs.telemetries.filter((t) => t.metadata.namespace === inputs.rootNamespace);
  for (const t of root.filter((r) => scoped(r.spec))) {
    problems.push(`Telemetry ${keyOf(t)} is ignored: a resource in the root namespace ${inputs.rootNamespace} applies mesh-wide and may not select workloads`);
  }
  const own = w.namespace === inputs.rootNamespace ? [] : inputs.telemetries.filter((t) => t.metadata.namespace === w.namespace);
  return [
    ...pick(
      'mesh-wide',
      root.filter((r) => !scoped(r.spec)),
    ),
    ...pick(
      `namespace ${w.namespace}`,
      own.filter((r) => !scoped(r.spec)),
    ),
    ...pick(
      'workload',
      own.filter((r) => scoped(r.spec) && selects(r.spec, w)),
    ),
  ];
}

function meshConfigOf(inputs: TelemetryInputs, problems: string[]): MeshConfigSpec | undefined {
  const mesh = [...inputs.meshConfigs].sort(byAge);
  const inRoot = mesh.filter((m) => m.metadata.namespace === inputs.rootNamespace);
  for (const m of mesh) {
    if (m.metadata.namespace !== inputs.rootNamespace)
      problems.push(`MeshConfig ${keyOf(m)} is ignored: it belongs in the root namespace ${inputs.rootNamespace}`);
    else if (m !== inRoot[0]) problems.push(`MeshConfig ${keyOf(m)} is ignored: ${keyOf(inRoot[0]!)} is older (one MeshConfig per mesh)`);
  }
  return inRoot[0]?.spec;
}

/** `http://host:port/path`, with an IPv6 literal in brackets. */
function url(service: string, port: number, path: string): string {
  return `http://${service.includes(':') ? `[${service}]` : service}:${port}${path}`;
}

function tracingProvider(p: ExtensionProvider): TracingProvider | undefined {
  if (p.opentelemetry) {
    const o = p.opentelemetry;
    return {
      name: p.name,
      kind: 'opentelemetry',
      endpoint: url(o.service, o.port, o.http.path ?? DEFAULT_OTLP_PATH),
      encoding: o.http.encoding ?? 'protobuf',
      timeoutMs: o.http.timeout ?? DEFAULT_EXPORT_TIMEOUT_MS,
      headers: Object.fromEntries((o.http.headers ?? []).map((h) => [h.name, h.value])),
    };
  }
  if (p.zipkin) {
    const z = p.zipkin;
    return {
      name: p.name,
      kind: 'zipkin',
      endpoint: url(z.service, z.port, z.path ?? DEFAULT_ZIPKIN_PATH),
      timeoutMs: DEFAULT_EXPORT_TIMEOUT_MS,
      maxTagLength: z.maxTagLength ?? DEFAULT_MAX_TAG_LENGTH,
    };
  }
  return p.console ? { name: p.name, kind: 'console' } : undefined;
}

/** Names of providers of one use that exist; the rest are problems. */
function known(mesh: MeshConfigSpec | undefined, names: readonly string[], use: 'tracing' | 'metrics' | 'accessLogging', problems: string[]): string[] {
  return names.filter((name) => {
    const found = providerUse(mesh, name);
    if (found === use) return true;
    problems.push(found ? wrongUse(name, found, use) : `provider ${name} is not declared in the MeshConfig's extensionProviders`);
    return false;
  });
}

function customTag(t: TelemetryCustomTag): CustomTag {
  if (t.literal) return { kind: 'literal', value: t.literal.value };
  const named = (t.header ?? t.environment)!;
  return { kind: t.header ? 'header' : 'environment', name: named.name, ...(named.defaultValue !== undefined ? { defaultValue: named.defaultValue } : {}) };
}

function resolveTracing(specs: TelemetrySpec[], mesh: MeshConfigSpec | undefined, problems: string[]): TelemetrySettings['tracing'] {
  let names = mesh?.defaultProviders?.tracing ?? [];
  let disabled = false;
  let sampling = DEFAULT_TELEMETRY.tracing.samplingPercentage;
  let tags: Record<string, TelemetryCustomTag> = {};
  for (const t of specs.map((s) => s.tracing?.[0]).filter((x): x is TelemetryTracing => x !== undefined)) {
    if (t.providers) names = t.providers.map((p) => p.name);
    if (t.disableSpanReporting !== undefined) disabled = t.disableSpanReporting;
    if (t.randomSamplingPercentage !== undefined) sampling = t.randomSamplingPercentage;
    if (t.customTags) tags = t.customTags;
  }
  const declared = mesh?.extensionProviders ?? [];
  const providers = disabled
    ? []
    : known(mesh, names, 'tracing', problems)
        .map((name) => declared.find((p) => p.name === name))
        .map((p) => p && tracingProvider(p))
        .filter((p): p is TracingProvider => p !== undefined);
  return {
    providers,
    samplingPercentage: sampling,
    customTags: Object.fromEntries(Object.entries(tags).map(([name, t]) => [name, customTag(t)])),
  };
}

/**
 * ambit has one access-log sink (the process log), so the providers only say
 * whether it is on: it is on when any named provider is not disabled, and a
 * request is logged when it passes the filter of any of them.
 */
function resolveAccessLogging(specs: TelemetrySpec[], mesh: MeshConfigSpec | undefined, problems: string[]): TelemetrySettings['accessLogging'] {
  const defaults = mesh?.defaultProviders?.accessLogging ?? ['envoy'];
  const state = new Map<string, { disabled: boolean; filter: string | undefined }>(defaults.map((n) => [n, { disabled: false, filter: undefined }]));
  for (const entries of specs.map((s) => s.accessLogging).filter((x): x is TelemetryAccessLogging[] => x !== undefined)) {
    const named = new Set(entries.flatMap((e) => (e.providers ?? defaults.map((name) => ({ name }))).map((p) => p.name)));
    // A level that names providers replaces the set of the level above.
    for (const name of [...state.keys()]) if (!named.has(name)) state.delete(name);
    for (const e of entries) {
      for (const { name } of e.providers ?? defaults.map((n) => ({ name: n }))) {
        const prev = state.get(name) ?? { disabled: false, filter: undefined };
        state.set(name, { disabled: e.disabled ?? prev.disabled, filter: e.filter ? e.filter.expression : prev.filter });
      }
    }
  }
  const on = known(mesh, [...state.keys()], 'accessLogging', problems)
    .map((n) => state.get(n)!)
    .filter((s) => !s.disabled);
  if (on.length === 0) return { enabled: false, filter: undefined };
  if (on.some((s) => s.filter === undefined)) return { enabled: true, filter: undefined };
  const filters = [...new Set(on.map((s) => s.filter!))];
  return { enabled: true, filter: filters.length === 1 ? filters[0] : filters.map((f) => `(${f})`).join(' || ') };
}

function resolveMetrics(specs: TelemetrySpec[], mesh: MeshConfigSpec | undefined, problems: string[]): MetricOverride[] {
  const defaults = mesh?.defaultProviders?.metrics ?? ['prometheus'];
  let providers = defaults;
  const overrides: MetricOverride[] = [];
  for (const entries of specs.map((s) => s.metrics).filter((x): x is TelemetryMetrics[] => x !== undefined)) {
    const named = entries.flatMap((e) => e.providers?.map((p) => p.name) ?? []);
    if (named.length > 0) providers = named;
    for (const e of entries) {
      const forPrometheus = (e.providers?.map((p) => p.name) ?? defaults).some((n) => providerUse(mesh, n) === 'metrics');
      if (!forPrometheus) continue;
      for (const o of e.overrides ?? []) {
        const metric = o.match?.metric;
        overrides.push({
          metric: metric === undefined || metric === 'ALL_METRICS' ? undefined : metric,
          disabled: o.disabled,
          tagOverrides: Object.fromEntries(
            Object.entries(o.tagOverrides ?? {}).map(([tag, t]): [string, TagOverride] => [
              tag,
              t.operation === 'REMOVE' ? { operation: 'REMOVE' } : { operation: 'UPSERT', value: t.value! },
            ]),
          ),
        });
      }
    }
  }
  // Without a metrics provider the workload exports no istio_* metrics at all, as in Istio.
  if (known(mesh, providers, 'metrics', problems).length === 0) return [{ metric: undefined, disabled: true, tagOverrides: {} }];
  return overrides;
}

export function resolveTelemetry(inputs: TelemetryInputs, w: TelemetryWorkload): ResolvedTelemetry {
  const problems: string[] = [];
  const mesh = meshConfigOf(inputs, problems);
  const specs = levels(inputs, w, problems);
  const settings: TelemetrySettings = {
    tracing: resolveTracing(specs, mesh, problems),
    accessLogging: resolveAccessLogging(specs, mesh, problems),
    metrics: resolveMetrics(specs, mesh, problems),
  };
  return { settings, problems: [...new Set(problems)] };
}
