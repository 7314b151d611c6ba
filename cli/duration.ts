/**
 * Durations on the command line: Go/Istio syntax (10s, 90m, 1h30m) plus
 * days (7d), which certificate and token lifetimes are usually given in.
 */
import { parseDurationMs } from '../core/config/duration.js';
import { UsageError } from '../core/errors.js';

/** Whole seconds (rounded up, at least 1); UsageError naming the flag otherwise. */
export function parseDurationSeconds(text: string, flag: string): number {
  const days = /^(\d+)d(.*)$/.exec(text);
  const ms = days ? Number(days[1]) * 86_400_000 + (days[2] ? (parseDurationMs(days[2]) ?? NaN) : 0) : parseDurationMs(text);
  if (ms === undefined || !Number.isFinite(ms) || ms <= 0) {
    throw new UsageError(`${flag} ${JSON.stringify(text)} is not a positive duration (e.g. 30s, 10m, 24h, 7d)`);
  }
  return Math.max(1, Math.ceil(ms / 1000));
}

/** A compact remaining-time: 45s, 12m30s, 23h59m, 6d23h; negative as "expired 5m ago". */
export function humanSeconds(seconds: number): string {
  if (seconds < 0) return `expired ${humanSeconds(-seconds)} ago`;
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (d > 0) return `${d}d${h}h`;
  if (h > 0) return `${h}h${m}m`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}
