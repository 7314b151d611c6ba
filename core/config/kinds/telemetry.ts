/**
 * Telemetry (telemetry.istio.io v1 and v1alpha1): tracing, metrics and access
 * logging per mesh (root namespace), namespace or workload. Providers are
 * named here and declared in the mesh's MeshConfig (kinds/mesh-config.ts).
 * Expressions (access-log filters, tag override values) are parsed at apply
 * time, so one outside ambit's CEL subset is refused before it is stored.
 */
import { ISTIO_METRIC_NAMES, type IstioMetricName } from '../../telemetry/settings.js';
import { parseTelemetryExpression } from '../../telemetry/expression.js';
import { array, bool, enumOf, number, object, oneOf, record, refine, req, string, type Cursor, type Schema, Codes } from '../schema.js';
import { onePolicyTarget, policyTargetShape, type PolicyTarget } from './common.js';

export interface ProviderRef {
  name: string;
}

/**
 * Istio's WorkloadMode. ambit applies one configuration to both directions of
 * a workload's traffic, so only CLIENT_AND_SERVER (the default) is accepted.
 */
export interface TelemetryMatch {
  mode?: 'CLIENT_AND_SERVER';
}

export interface LiteralTag {
  value: string;
}
export interface NamedTag {
  name: string;
  defaultValue?: string;
}
/** Exactly one of literal, environment, header. */
export interface TelemetryCustomTag {
  literal?: LiteralTag;
  environment?: NamedTag;
  header?: NamedTag;
}

export interface TelemetryTracing {
  match?: TelemetryMatch;
  providers?: ProviderRef[];
  randomSamplingPercentage?: number;
  disableSpanReporting?: boolean;
  customTags?: Record<string, TelemetryCustomTag>;
}

export interface MetricSelector {
  /** Absent or ALL_METRICS: every standard metric. */
  metric?: IstioMetricName | 'ALL_METRICS';
  mode?: 'CLIENT_AND_SERVER';
}

export interface TagOverrideSpec {
  operation?: 'UPSERT' | 'REMOVE';
  /** A CEL expression in ambit's subset (core/telemetry/expression.ts); required for UPSERT. */
  value?: string;
}

export interface MetricsOverrides {
  match?: MetricSelector;
  disabled?: boolean;
  tagOverrides?: Record<string, TagOverrideSpec>;
}

export interface TelemetryMetrics {
  providers?: ProviderRef[];
  overrides?: MetricsOverrides[];
}

export interface AccessLogFilter {
  expression: string;
}

export interface TelemetryAccessLogging {
  match?: TelemetryMatch;
  providers?: ProviderRef[];
  disabled?: boolean;
  filter?: AccessLogFilter;
}

export interface TelemetrySpec extends PolicyTarget {
  tracing?: TelemetryTracing[];
  metrics?: TelemetryMetrics[];
  accessLogging?: TelemetryAccessLogging[];
}

const ONE_CONFIG_FOR_BOTH = 'ambit applies one configuration to both directions of a workload';
const NO_MODE = `match.mode CLIENT or SERVER: ${ONE_CONFIG_FOR_BOTH}; omit match or use CLIENT_AND_SERVER`;

const providers = (): Schema<ProviderRef[]> => array(object<ProviderRef>({ name: req(string()) }));
const mode = () => enumOf(['CLIENT_AND_SERVER'], ['CLIENT', 'SERVER']);
const match = (): Schema<TelemetryMatch> => object<TelemetryMatch>({ mode: mode() });

function expressionProblem(use: string) {
  return (text: string): string | undefined => {
    const parsed = parseTelemetryExpression(text, use);
    return parsed.ok ? undefined : parsed.message;
  };
}

const namedTag = (): Schema<NamedTag> => object<NamedTag>({ name: req(string()), defaultValue: string() });
const customTag = (): Schema<TelemetryCustomTag> =>
  object<TelemetryCustomTag>(
    { literal: object<LiteralTag>({ value: req(string()) }), environment: namedTag(), header: namedTag() },
    { check: oneOf<TelemetryCustomTag>(['literal', 'environment', 'header']) },
  );

const tracing = (): Schema<TelemetryTracing> =>
  object<TelemetryTracing>(
    {
      match: match(),
      providers: providers(),
      randomSamplingPercentage: number({ min: 0, max: 100 }),
      disableSpanReporting: bool(),
      customTags: record(customTag()),
    },
    {
      unsupported: {
        useRequestIdForTraceSampling: 'ambit samples by trace id (parent-based ratio); x-request-id does not decide sampling',
        enableIstioTags: 'ambit always adds its mesh attributes to spans',
      },
    },
  );

const tagOverride = (): Schema<TagOverrideSpec> =>
  object<TagOverrideSpec>(
    { operation: enumOf(['UPSERT', 'REMOVE']), value: refine(string(), expressionProblem('tag override')) },
    {
      check: (o, at) => {
        if ((o.operation ?? 'UPSERT') === 'UPSERT' && o.value === undefined) at.at('value').fail(Codes.required, 'is required for operation UPSERT');
      },
    },
  );

const metrics = (): Schema<TelemetryMetrics> =>
  object<TelemetryMetrics>(
    {
      providers: providers(),
      overrides: array(
        object<MetricsOverrides>({
          match: object<MetricSelector>(
            { metric: enumOf([...ISTIO_METRIC_NAMES, 'ALL_METRICS']), mode: mode() },
            { unsupported: { customMetric: 'ambit exports only the standard istio_* metrics' } },
          ),
          disabled: bool(),
          tagOverrides: record(tagOverride()),
        }),
      ),
    },
    { unsupported: { reportingInterval: 'Prometheus scrapes ambit; there is no push interval to set' } },
  );

const accessLogging = (): Schema<TelemetryAccessLogging> =>
  object<TelemetryAccessLogging>({
    match: match(),
    providers: providers(),
    disabled: bool(),
    filter: object<AccessLogFilter>({ expression: req(refine(string(), expressionProblem('access-log filter'))) }),
  });

/** Several tracing entries only make sense with different match modes, which ambit does not take. */
function oneTracingEntry(spec: TelemetrySpec, at: Cursor): void {
  if ((spec.tracing?.length ?? 0) > 1) at.at('tracing').fail(Codes.unsupported, `has ${spec.tracing?.length} entries; ${NO_MODE}, so give one entry`);
}

export const telemetrySpec = (): Schema<TelemetrySpec> =>
  object<TelemetrySpec>(
    { ...policyTargetShape(), tracing: array(tracing()), metrics: array(metrics()), accessLogging: array(accessLogging()) },
    {
      check: (spec, at) => {
        onePolicyTarget<TelemetrySpec>()(spec, at);
        oneTracingEntry(spec, at);
      },
    },
  );
