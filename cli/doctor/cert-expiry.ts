/**
 * How close a certificate is to expiry. Holders renew at half life, so a
 * healthy certificate always has about half its lifetime left; by default one
 * with less than a quarter left has missed its renewal for a quarter of its
 * life (WARN), whatever the lifetime the signer hands out (24 h workloads,
 * 7 d nodes, or anything set with --workload-cert-ttl).
 */
import { humanSeconds } from '../duration.js';
import type { CheckStatus } from './check.js';

export interface Validity {
  notBefore?: Date | undefined;
  notAfter: Date;
}

export interface ExpiryVerdict {
  status: Exclude<CheckStatus, 'SKIP'>;
  /** "expires in 11h58m", "expired 5m ago", "not valid until …". */
  text: string;
  remainingSeconds: number;
}

/** When the lifetime is unknown (no notBefore) and no window was given. */
export const FALLBACK_WARN_SECONDS = 3600;

export function warnWindowSeconds(validity: Validity, override?: number): number {
  if (override !== undefined) return override;
  if (!validity.notBefore) return FALLBACK_WARN_SECONDS;
  return Math.floor((validity.notAfter.getTime() - validity.notBefore.getTime()) / 4000);
}

export function classifyExpiry(validity: Validity, now: Date, warnSeconds?: number): ExpiryVerdict {
  const remainingSeconds = Math.floor((validity.notAfter.getTime() - now.getTime()) / 1000);
  if (remainingSeconds <= 0) return { status: 'FAIL', text: `expired ${humanSeconds(-remainingSeconds)} ago`, remainingSeconds };
  if (validity.notBefore && now.getTime() < validity.notBefore.getTime()) {
    return { status: 'FAIL', text: `not valid until ${validity.notBefore.toISOString()} (is this clock behind?)`, remainingSeconds };
  }
  const window = warnWindowSeconds(validity, warnSeconds);
  const text = `expires in ${humanSeconds(remainingSeconds)}`;
  if (remainingSeconds < window) {
    const why = warnSeconds === undefined ? 'renewal is overdue' : 'inside the --cert-warn window';
    return { status: 'WARN', text: `${text}, less than ${humanSeconds(window)}: ${why}`, remainingSeconds };
  }
  return { status: 'OK', text, remainingSeconds };
}
