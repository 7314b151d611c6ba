/**
 * HTTPRetry as Istio hands it to Envoy, and Envoy's retry_on decision.
 * Istio (retry.ConvertPolicy): no `retries` -> the mesh default policy
 * (2 retries on connect-failure,refused-stream,unavailable,cancelled,
 * retriable-status-codes with codes [503]); `attempts <= 0` -> no retries
 * at all (so `retries: {}` disables them); otherwise the default with
 * attempts replaced and, when retryOn is given, conditions and codes taken
 * from it alone (numeric parts are status codes and imply
 * retriable-status-codes).
 */
import type { HTTPRetry } from '../config/index.js';

export type RetryCondition =
  | '5xx'
  | 'gateway-error'
  | 'connect-failure'
  | 'reset'
  | 'retriable-4xx'
  | 'refused-stream'
  | 'retriable-status-codes'
  | 'cancelled'
  | 'deadline-exceeded'
  | 'internal'
  | 'resource-exhausted'
  | 'unavailable';

const BIT: Record<RetryCondition, number> = {
  '5xx': 1,
  'gateway-error': 2,
  'connect-failure': 4,
  reset: 8,
  'retriable-4xx': 16,
  'refused-stream': 32,
  'retriable-status-codes': 64,
  cancelled: 128,
  'deadline-exceeded': 256,
  internal: 512,
  'resource-exhausted': 1024,
  unavailable: 2048,
};

export interface RetryPolicy {
  /** Retries after the first try (Envoy num_retries). */
  attempts: number;
  /** undefined: each try may use what is left of the route timeout. */
  perTryTimeoutMs: number | undefined;
  retryOn: ReadonlySet<RetryCondition>;
  retriableStatusCodes: ReadonlySet<number>;
  retryRemoteLocalities: boolean;
  /** retryOn as bits, for shouldRetry. */
  readonly mask: number;
}

export type AttemptError = 'connect-failure' | 'reset' | 'refused-stream' | 'timeout';

/** What one try ended with: a response status (and grpc-status if any) or a transport error. */
export interface AttemptOutcome {
  status?: number;
  error?: AttemptError;
  grpcStatus?: number;
}

function policy(attempts: number, retryOn: RetryCondition[], codes: number[], perTryTimeoutMs?: number, remote = false): RetryPolicy {
  return Object.freeze({
    attempts,
    perTryTimeoutMs,
    retryOn: new Set(retryOn),
    retriableStatusCodes: new Set(codes),
    retryRemoteLocalities: remote,
    mask: retryOn.reduce((m, c) => m | BIT[c], 0),
  });
}

/** Istio's default when a route has no `retries` (also used for hosts without a VirtualService). */
export const DEFAULT_RETRY_POLICY: RetryPolicy = policy(2, ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes'], [503]);

export function retryPolicyFor(retries: HTTPRetry | undefined): RetryPolicy | undefined {
  if (retries === undefined) return DEFAULT_RETRY_POLICY;
  const attempts = retries.attempts ?? 0;
  if (attempts <= 0) return undefined;
  let on = [...DEFAULT_RETRY_POLICY.retryOn];
  let codes = [...DEFAULT_RETRY_POLICY.retriableStatusCodes];
  if (retries.retryOn && retries.retryOn.length > 0) {
    codes = retries.retryOn.filter((c) => /^\d+$/.test(c)).map(Number);
    on = retries.retryOn.filter((c): c is RetryCondition => c in BIT);
    if (codes.length > 0 && !on.includes('retriable-status-codes')) on.push('retriable-status-codes');
  }
  return policy(attempts, on, codes, retries.perTryTimeout, retries.retryRemoteLocalities === true);
}

const GRPC: Record<number, number> = { 1: BIT.cancelled, 4: BIT['deadline-exceeded'], 8: BIT['resource-exhausted'], 13: BIT.internal, 14: BIT.unavailable };

/**
 * Whether Envoy's router would retry this outcome (attempt budget and the
 * maxRetries circuit breaker are the caller's). Transport failures: every
 * upstream reset, connect failure, refused stream or per-try timeout counts
 * as 5xx/gateway-error/reset (they would become a 503/504); connect-failure
 * and refused-stream additionally match their own condition.
 */
export function shouldRetry(p: RetryPolicy | undefined, o: AttemptOutcome): boolean {
  if (p === undefined || p.mask === 0) return false;
  const m = p.mask;
  if (o.error !== undefined) {
    if (m & (BIT['5xx'] | BIT['gateway-error'] | BIT.reset)) return true;
    if (o.error === 'connect-failure') return (m & BIT['connect-failure']) !== 0;
    if (o.error === 'refused-stream') return (m & BIT['refused-stream']) !== 0;
    return false;
  }
  const s = o.status;
  if (s !== undefined) {
    if (m & BIT['5xx'] && s >= 500 && s <= 599) return true;
    if (m & BIT['gateway-error'] && (s === 502 || s === 503 || s === 504)) return true;
    if (m & BIT['retriable-4xx'] && s === 409) return true;
    if (m & BIT['retriable-status-codes'] && p.retriableStatusCodes.has(s)) return true;
  }
  const g = o.grpcStatus === undefined ? 0 : (GRPC[o.grpcStatus] ?? 0);
  return (m & g) !== 0;
}
