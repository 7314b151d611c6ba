/**
 * The RequestAuthentication of each served service, compiled once per mesh
 * snapshot. As in Istio ambient, a waypoint enforces the resources that name
 * its service in targetRef(s) (a selector-only resource is for sidecars, which
 * ambit has none of). Key sources come from the waypoint's JwksCache and
 * outlive snapshots: a jwtRule that did not change keeps its fetched keys, so a
 * config reload does not refetch every JWKS.
 */
import { targetsService } from '../../core/authz/index.js';
import type { TypedResource } from '../../core/config/index.js';
import type { Logger } from '../../core/logging.js';
import type { JwksCache } from './jwks-cache.js';
import { RequestAuthenticator, type AuthnMetrics, type CompiledRule } from './request-authn.js';
import { sourcesOf } from './token-location.js';

type RequestAuthentication = TypedResource<'RequestAuthentication'>;

export interface ServedService {
  namespace: string;
  name: string;
}

export class Authenticators {
  readonly #metrics: AuthnMetrics;
  readonly #log: Logger;
  readonly #keys: JwksCache;

  constructor(metrics: AuthnMetrics, log: Logger, keys: JwksCache) {
    this.#metrics = metrics;
    this.#log = log;
    this.#keys = keys;
  }

  /**
   * One authenticator per served service for a new snapshot. Warnings name
   * resources that bind nothing.
   */
  compile(resources: readonly RequestAuthentication[], services: readonly ServedService[]): Map<string, RequestAuthenticator> {
    const out = new Map<string, RequestAuthenticator>();
    for (const svc of services) {
      const rules: CompiledRule[] = [];
      for (const ra of resources) {
        if (!targetsService(ra, svc, (w) => this.#log.warn({ resource: `RequestAuthentication ${ra.metadata.namespace}/${ra.metadata.name}` }, w))) continue;
        for (const rule of ra.spec.jwtRules ?? []) {
          const jwks = this.#keys.source({
            issuer: rule.issuer,
            ...(rule.jwks !== undefined ? { jwks: rule.jwks } : {}),
            ...(rule.jwksUri !== undefined ? { jwksUri: rule.jwksUri } : {}),
            ...(rule.timeout !== undefined ? { timeoutMs: rule.timeout } : {}),
          });
          rules.push({ rule, sources: sourcesOf(rule), jwks });
        }
      }
      out.set(`${svc.namespace}/${svc.name}`, new RequestAuthenticator(rules, this.#metrics, this.#log));
    }
    return out;
  }
}
