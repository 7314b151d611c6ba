/**
 * RateLimit (ambit.dev/v1alpha1): token buckets a waypoint applies to a
 * service's requests, kept per waypoint (`local`) or shared by every waypoint
 * of the service through the store (`global`). Istio offers this only through
 * EnvoyFilter and a separate rate-limit service; here it is one resource.
 */
import { array, bool, enumOf, int, object, record, refine, req, string, Codes, type Cursor, type Schema } from '../schema.js';
import { dnsLabelProblem, onePolicyTarget, policyTargetShape, stringMatch, strings, type PolicyTarget, type StringMatch } from './common.js';

export type RateUnit = 'second' | 'minute' | 'hour';

export interface RateLimitMatch {
  /** The VirtualService route name (`http[].name`) the request took. */
  route?: string;
  methods?: string[];
  pathPrefix?: string;
  headers?: Record<string, StringMatch>;
  /** SPIFFE IDs of callers, as AuthorizationPolicy writes principals (`cluster.local/ns/x/sa/y`). */
  sourcePrincipals?: string[];
}

export interface RateLimitKey {
  /** One bucket per distinct value of this request header (absent header: one shared bucket). */
  header?: string;
  /** One bucket per verified caller identity. */
  sourcePrincipal?: boolean;
}

export interface RateLimitRule {
  name: string;
  match?: RateLimitMatch;
  requests: number;
  unit: RateUnit;
  /** Bucket size: how many requests may come at once; default `requests`. */
  burst?: number;
  key?: RateLimitKey;
}

export interface RateLimitSpec extends PolicyTarget {
  mode?: 'local' | 'global';
  /** Global mode with the store unreachable: allow (default) or deny the request. */
  failureMode?: 'allow' | 'deny';
  rules: RateLimitRule[];
}

export const UNIT_MS: Readonly<Record<RateUnit, number>> = { second: 1000, minute: 60_000, hour: 3_600_000 };

const lowerCase = (k: string): string | undefined => (k === k.toLowerCase() ? undefined : `header name ${JSON.stringify(k)} must be lower-case`);

const rule = (): Schema<RateLimitRule> =>
  object<RateLimitRule>({
    name: req(refine(string(), dnsLabelProblem)),
    match: object<RateLimitMatch>({
      route: string(),
      methods: strings(),
      pathPrefix: refine(string(), (p) => (p.startsWith('/') ? undefined : `${JSON.stringify(p)} must start with "/"`)),
      headers: record(stringMatch(), lowerCase),
      sourcePrincipals: strings(),
    }),
    requests: req(int({ min: 1 })),
    unit: req(enumOf(['second', 'minute', 'hour'])),
    burst: int({ min: 1 }),
    key: object<RateLimitKey>(
      { header: refine(string(), lowerCase), sourcePrincipal: bool() },
      {
        check: (k, at) => {
          if (k.header !== undefined && k.sourcePrincipal) at.fail(Codes.value, 'key takes header or sourcePrincipal, not both');
        },
      },
    ),
  });

function uniqueRuleNames(spec: RateLimitSpec, at: Cursor): void {
  const seen = new Set<string>();
  spec.rules.forEach((r, i) => {
    if (seen.has(r.name)) at.at('rules').at(i).at('name').fail(Codes.value, `rule ${r.name} is named twice`);
    seen.add(r.name);
  });
}

function targetRequired(spec: RateLimitSpec, at: Cursor): void {
  if (spec.targetRef === undefined && spec.targetRefs === undefined)
    at.fail(Codes.required, 'targetRefs is required: name the Service whose waypoint applies the limits');
  if (spec.selector !== undefined) at.at('selector').fail(Codes.unsupported, 'rate limits apply at waypoints: use targetRefs with the Service');
}

export const rateLimitSpec = (): Schema<RateLimitSpec> =>
  object<RateLimitSpec>(
    { ...policyTargetShape(), mode: enumOf(['local', 'global']), failureMode: enumOf(['allow', 'deny']), rules: req(array(rule(), { min: 1 })) },
    {
      check: (spec, at) => {
        onePolicyTarget<RateLimitSpec>()(spec, at);
        targetRequired(spec, at);
        uniqueRuleNames(spec, at);
      },
    },
  );
