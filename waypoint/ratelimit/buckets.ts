/**
 * Where a rule's buckets live: in this waypoint (`local`, bounded, least
 * recently used out) or in the store (`global`), shared by every waypoint of
 * the service through one atomic Lua script that uses Redis's clock, so
 * waypoints on hosts with skewed clocks still agree. A store that does not
 * answer within the deadline is reported as an error; the caller applies the
 * rule's failureMode.
 */
import type { Redis } from 'ioredis';
import { take, type BucketState, type Take } from './token-bucket.js';

export interface Buckets {
  take(key: string, capacity: number, ratePerMs: number): Promise<Take>;
}

/** Distinct buckets one waypoint keeps per rule set (a per-header key could otherwise grow without end). */
const LOCAL_MAX_BUCKETS = 10_000;

export class LocalBuckets implements Buckets {
  readonly #buckets = new Map<string, BucketState>();
  readonly #now: () => number;

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  take(key: string, capacity: number, ratePerMs: number): Promise<Take> {
    const r = take(this.#buckets.get(key), capacity, ratePerMs, this.#now());
    this.#buckets.delete(key);
    this.#buckets.set(key, r.state);
    if (this.#buckets.size > LOCAL_MAX_BUCKETS) this.#buckets.delete(this.#buckets.keys().next().value!);
    return Promise.resolve(r.take);
  }
}

/** token-bucket.ts in Lua. KEYS: bucket; ARGV: capacity, rate per ms. Returns {allowed, remaining, retry-after ms}. */
const TAKE_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cap = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1]) or cap
local at = tonumber(b[2]) or now
tokens = math.min(cap, tokens + math.max(0, now - at) * rate)
local allowed, wait = 0, 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = math.ceil((1 - tokens) / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(cap / rate) + 1000)
return {allowed, math.floor(tokens), wait}
`;

export class StoreBucketsTimeout extends Error {
  readonly code = 'ERATELIMIT_STORE';
}

export class StoreBuckets implements Buckets {
  readonly #redis: Redis & { ambitRateLimitTake?: (key: string, capacity: string, rate: string) => Promise<[number, number, number]> };
  readonly #prefix: string;
  readonly #deadlineMs: number;

  /** `prefix`: the mesh's key prefix plus `ratelimit:`; the node role may write only there (core/access/roles.ts). */
  constructor(redis: Redis, prefix: string, deadlineMs = 100) {
    this.#redis = redis;
    this.#prefix = prefix;
    this.#deadlineMs = deadlineMs;
    if (!this.#redis.ambitRateLimitTake) redis.defineCommand('ambitRateLimitTake', { numberOfKeys: 1, lua: TAKE_LUA });
  }

  async take(key: string, capacity: number, ratePerMs: number): Promise<Take> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StoreBucketsTimeout(`the store did not answer within ${this.#deadlineMs} ms`)), this.#deadlineMs);
    });
    try {
      const [allowed, remaining, wait] = await Promise.race([
        this.#redis.ambitRateLimitTake!(`${this.#prefix}${key}`, String(capacity), String(ratePerMs)),
        deadline,
      ]);
      return { allowed: allowed === 1, remaining, retryAfterMs: wait };
    } finally {
      clearTimeout(timer);
    }
  }
}
