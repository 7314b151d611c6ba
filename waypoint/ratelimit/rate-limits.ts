/**
 * The RateLimit resources of each served service, compiled once per mesh
 * snapshot: which rules a request falls under (route, methods, path prefix,
 * headers, caller), which bucket each takes from (one per rule, or one per
 * header value or caller), and the answer when one is empty: 429 with Envoy's
 * `x-envoy-ratelimited`, the IETF `RateLimit-Policy` / `RateLimit` fields and
 * `retry-after`. Buckets of a rule that did not change survive snapshots. A
 * global rule whose store does not answer in time follows its failureMode
 * (allow by default: a rate limiter that takes the service down with the
 * store is worse than one that stops limiting), and each such case is counted.
 */
import type { RateLimitRule, TypedResource } from '../../core/config/index.js';
import { UNIT_MS } from '../../core/config/index.js';
import type { Logger } from '../../core/logging.js';
import { stableJson } from '../../core/store/codec.js';
import type { LocalReply } from '../replies.js';
import type { RequestAttributes } from '../route.js';
import { compileValue } from '../../core/routing/match.js';
import { stringSet } from '../../core/authz/matchers.js';
import { targetsService } from '../../core/authz/index.js';
import { LocalBuckets, type Buckets } from './buckets.js';

type RateLimit = TypedResource<'RateLimit'>;

export interface RateLimitMetrics {
  limited: { inc(labels: { rule: string; mode: string }): void };
  storeErrors: { inc(labels: { rule: string; failure_mode: string }): void };
}

interface CompiledRule {
  /** `namespace/resource/rule`, in metrics and bucket keys. */
  id: string;
  rule: RateLimitRule;
  mode: 'local' | 'global';
  failureMode: 'allow' | 'deny';
  capacity: number;
  ratePerMs: number;
  matches(a: RequestAttributes, routeName: string | undefined): boolean;
  bucketOf(a: RequestAttributes): string;
  buckets: Buckets;
}

const header = (a: RequestAttributes, name: string): string | undefined => {
  const v = a.headers[name];
  return Array.isArray(v) ? v.join(',') : (v as string | undefined);
};

/** Principals as AuthorizationPolicy writes them: without `spiffe://`, with Istio's `*`, `prefix*`, `*suffix`. */
function principalTest(patterns: readonly string[]): (principal: string) => boolean {
  const test = stringSet(patterns);
  return (principal) => test(principal.replace(/^spiffe:\/\//, ''));
}

function matcher(rule: RateLimitRule, where: string): CompiledRule['matches'] {
  const m = rule.match ?? {};
  const headers = Object.entries(m.headers ?? {}).map(([name, match]) => ({ name, test: compileValue(match, `${where}.match.headers.${name}`) }));
  const callers = m.sourcePrincipals && principalTest(m.sourcePrincipals);
  return (a, routeName) => {
    if (m.route !== undefined && m.route !== routeName) return false;
    if (m.methods && !m.methods.includes(a.method)) return false;
    if (m.pathPrefix !== undefined && !a.path.split('?')[0]!.startsWith(m.pathPrefix)) return false;
    if (callers && !callers(a.caller.principal)) return false;
    return headers.every((h) => {
      const v = header(a, h.name);
      return v !== undefined && h.test(v);
    });
  };
}

function bucketKey(id: string, rule: RateLimitRule): CompiledRule['bucketOf'] {
  if (rule.key?.header !== undefined) {
    const name = rule.key.header;
    return (a) => `${id}|h:${header(a, name) ?? ''}`;
  }
  if (rule.key?.sourcePrincipal) return (a) => `${id}|p:${a.caller.principal}`;
  return () => id;
}

function limited(rule: CompiledRule, retryAfterMs: number): LocalReply {
  const windowS = UNIT_MS[rule.rule.unit] / 1000;
  const resetS = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return {
    status: 429,
    body: rule.mode === 'local' ? 'local_rate_limited' : '',
    flag: 'RL',
    headers: {
      'x-envoy-ratelimited': 'true',
      'ratelimit-policy': `"${rule.rule.name}";q=${rule.rule.requests};w=${windowS}`,
      ratelimit: `"${rule.rule.name}";r=0;t=${resetS}`,
      'retry-after': String(resetS),
    },
  };
}

export class ServiceRateLimits {
  readonly #rules: readonly CompiledRule[];
  readonly #metrics: RateLimitMetrics;
  readonly #log: Logger;

  constructor(rules: readonly CompiledRule[], metrics: RateLimitMetrics, log: Logger) {
    this.#rules = rules;
    this.#metrics = metrics;
    this.#log = log;
  }

  get empty(): boolean {
    return this.#rules.length === 0;
  }

  /** The 429 for a request one of whose buckets is empty, or undefined: it goes on. Every matching rule takes a token. */
  async check(a: RequestAttributes, routeName: string | undefined): Promise<LocalReply | undefined> {
    let refusal: LocalReply | undefined;
    for (const r of this.#rules) {
      if (!r.matches(a, routeName)) continue;
      try {
        const t = await r.buckets.take(r.bucketOf(a), r.capacity, r.ratePerMs);
        if (t.allowed || refusal) continue;
        this.#metrics.limited.inc({ rule: r.id, mode: r.mode });
        refusal = limited(r, t.retryAfterMs);
      } catch (err) {
        this.#metrics.storeErrors.inc({ rule: r.id, failure_mode: r.failureMode });
        this.#log.warn(
          { rule: r.id, err: (err as Error).message, failureMode: r.failureMode },
          `global rate limit unavailable: requests are ${r.failureMode === 'allow' ? 'allowed' : 'refused'}`,
        );
        if (r.failureMode === 'deny' && !refusal) {
          this.#metrics.limited.inc({ rule: r.id, mode: r.mode });
          refusal = limited(r, UNIT_MS[r.rule.unit]);
        }
      }
    }
    return refusal;
  }
}

export interface ServedService {
  namespace: string;
  name: string;
}

export class RateLimiters {
  readonly #metrics: RateLimitMetrics;
  readonly #log: Logger;
  /** Global buckets; undefined: this waypoint has no store (tests), and global rules are kept locally. */
  readonly #store: Buckets | undefined;
  #local = new Map<string, LocalBuckets>();

  constructor(metrics: RateLimitMetrics, log: Logger, store?: Buckets) {
    this.#metrics = metrics;
    this.#log = log;
    this.#store = store;
  }

  compile(resources: readonly RateLimit[], services: readonly ServedService[]): Map<string, ServiceRateLimits> {
    const used = new Map<string, LocalBuckets>();
    const out = new Map<string, ServiceRateLimits>();
    for (const svc of services) {
      const rules: CompiledRule[] = [];
      for (const rl of resources) {
        if (!targetsService(rl, svc, (w) => this.#log.warn({ resource: `RateLimit ${rl.metadata.namespace}/${rl.metadata.name}` }, w))) continue;
        const mode = rl.spec.mode ?? 'local';
        rl.spec.rules.forEach((rule, i) => {
          const id = `${rl.metadata.namespace}/${rl.metadata.name}/${rule.name}`;
          const capacity = rule.burst ?? rule.requests;
          const ratePerMs = rule.requests / UNIT_MS[rule.unit];
          // A rule that changed starts with a full bucket; one that did not keeps its state.
          const identity = stableJson({ id, rule, mode });
          let buckets: Buckets;
          if (mode === 'global' && this.#store) buckets = this.#store;
          else {
            const local = used.get(identity) ?? this.#local.get(identity) ?? new LocalBuckets();
            used.set(identity, local);
            buckets = local;
          }
          rules.push({
            id,
            rule,
            mode,
            failureMode: rl.spec.failureMode ?? 'allow',
            capacity,
            ratePerMs,
            matches: matcher(rule, `RateLimit ${rl.metadata.namespace}/${rl.metadata.name} rules[${i}]`),
            bucketOf: bucketKey(id, rule),
            buckets,
          });
        });
      }
      out.set(`${svc.namespace}/${svc.name}`, new ServiceRateLimits(rules, this.#metrics, this.#log));
    }
    this.#local = used;
    return out;
  }
}
