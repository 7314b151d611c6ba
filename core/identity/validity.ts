import { randomBytes } from 'node:crypto';
import { IdentityError } from './errors.js';

/** notBefore is backdated this much so a peer whose clock runs a little behind still accepts a fresh cert. */
export const CLOCK_SKEW_MS = 60_000;

/**
 * 128 random bits as hex. RFC 5280 wants serials positive; the generator
 * prepends a zero byte when the top bit is set, so all 128 bits stay random.
 */
export function randomSerialHex(): string {
  return randomBytes(16).toString('hex');
}

export interface ValidityWindow {
  notBefore: Date;
  notAfter: Date;
  /** True when `notAfter` was cut short to stay inside the signer's own lifetime. */
  clamped: boolean;
}

/**
 * [now - skew, now + ttl], with notAfter capped at `cap` (the signer's own
 * notAfter): a certificate outliving its issuer would fail path validation
 * in most stacks anyway, and silently so.
 */
export function validityWindow(ttlSeconds: number, now: Date, cap?: Date): ValidityWindow {
  if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
    throw new IdentityError('EIDENTITY_BAD_TTL', `certificate TTL must be a positive number of seconds, got ${ttlSeconds}`, { ttlSeconds });
  }
  // X.509 times have whole seconds: round outwards so a short TTL is not cut below what was asked.
  const notBefore = new Date(Math.floor((now.getTime() - CLOCK_SKEW_MS) / 1000) * 1000);
  const wanted = new Date(Math.ceil((now.getTime() + ttlSeconds * 1000) / 1000) * 1000);
  if (cap && cap.getTime() <= now.getTime()) {
    throw new IdentityError('EIDENTITY_CA_EXPIRED', `the signing CA expired at ${cap.toISOString()}; rotate it before issuing`, {
      notAfter: cap.toISOString(),
    });
  }
  const clamped = cap !== undefined && cap.getTime() < wanted.getTime();
  return { notBefore, notAfter: clamped ? cap : wanted, clamped };
}

/** "expired at …" / "is not valid before …" when `now` lies outside [notBefore, notAfter]; undefined inside. */
export function timeProblem(notBefore: Date, notAfter: Date, now: Date): string | undefined {
  if (now.getTime() > notAfter.getTime()) return `expired at ${notAfter.toISOString()}`;
  if (now.getTime() < notBefore.getTime()) return `is not valid before ${notBefore.toISOString()}`;
  return undefined;
}

/**
 * When to renew: half way through the time the certificate was actually
 * meant to live. Our notBefore is backdated by CLOCK_SKEW_MS, so the plain
 * midpoint of [notBefore, notAfter] would land after expiry for a TTL under
 * two minutes; the issue time is recovered by undoing the backdating.
 */
export function renewalTime(notBefore: Date, notAfter: Date): Date {
  const issuedAt = Math.min(notBefore.getTime() + CLOCK_SKEW_MS, notAfter.getTime());
  return new Date(issuedAt + (notAfter.getTime() - issuedAt) / 2);
}
