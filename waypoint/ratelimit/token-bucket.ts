/**
 * The token bucket every RateLimit rule is: `capacity` tokens (the burst),
 * refilled continuously at `ratePerMs`, one taken per request. Pure, so the
 * local buckets and the store's Lua script (buckets.ts) compute the same thing.
 */
export interface BucketState {
  tokens: number;
  /** Milliseconds (the clock of whoever keeps the bucket). */
  at: number;
}

export interface Take {
  allowed: boolean;
  /** Whole tokens left after this request. */
  remaining: number;
  /** Until the next token, when refused; 0 when allowed. */
  retryAfterMs: number;
}

export function take(state: BucketState | undefined, capacity: number, ratePerMs: number, now: number): { state: BucketState; take: Take } {
  const tokens = Math.min(capacity, (state?.tokens ?? capacity) + Math.max(0, now - (state?.at ?? now)) * ratePerMs);
  if (tokens >= 1) return { state: { tokens: tokens - 1, at: now }, take: { allowed: true, remaining: Math.floor(tokens - 1), retryAfterMs: 0 } };
  return { state: { tokens, at: now }, take: { allowed: false, remaining: 0, retryAfterMs: Math.ceil((1 - tokens) / ratePerMs) } };
}
