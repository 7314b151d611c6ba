/**
 * This host's clock against the store's (Redis TIME). Certificates are
 * backdated one minute (CLOCK_SKEW_MS) and the signer allows five for a signed
 * request (MAX_REQUEST_SKEW_MS), so a few seconds do no harm; tens of seconds
 * eat most of that margin and mean NTP is not doing its job.
 */
import { ok, warn, fail, type Check, type CheckResult } from '../check.js';

export const SKEW_WARN_MS = 1000;
export const SKEW_FAIL_MS = 30_000;
const SAMPLES = 3;

const NTP = 'synchronise the clock: timedatectl set-ntp true (check with timedatectl timesync-status or chronyc tracking)';

/** `skewMs` > 0: this host is ahead of the store. */
export function classifySkew(skewMs: number, uncertaintyMs: number): CheckResult {
  const size = Math.abs(skewMs);
  const text = `${size < 1000 ? `${Math.round(size)} ms` : `${(size / 1000).toFixed(1)} s`} ${skewMs >= 0 ? 'ahead of' : 'behind'} the store (±${Math.ceil(uncertaintyMs)} ms)`;
  if (size > SKEW_FAIL_MS) return fail(`${text}: fresh certificates and certificate requests are close to being refused`, NTP);
  if (size > SKEW_WARN_MS) return warn(text, NTP);
  return ok(text);
}

export const clockSkewCheck: Check = {
  name: 'clock-skew',
  needs: ['redis'],
  run: async (ctx) => {
    const store = await ctx.store();
    // The sample with the shortest round trip bounds the error best: TIME was read within rtt/2 of its midpoint.
    let best: { skewMs: number; rttMs: number } | undefined;
    for (let i = 0; i < SAMPLES; i++) {
      const before = Date.now();
      const [seconds, micros] = await store.redis.time();
      const after = Date.now();
      const storeMs = Number(seconds) * 1000 + Number(micros) / 1000;
      const sample = { skewMs: (before + after) / 2 - storeMs, rttMs: after - before };
      if (!best || sample.rttMs < best.rttMs) best = sample;
    }
    return classifySkew(best!.skewMs, Math.max(best!.rttMs / 2, 1));
  },
};
