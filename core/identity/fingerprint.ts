/**
 * A root's SHA-256 fingerprint as people pass it around: `openssl x509
 * -fingerprint -sha256` prints `AB:CD:…`, other tools print bare hex, in either
 * case. Every form is read into one canonical spelling (colon-separated upper
 * case, what node:crypto's fingerprint256 gives), so comparing two pins is a
 * string comparison; the compact form (64 lower-case hex) is what a join token
 * carries.
 */
import { IdentityError } from './errors.js';

const COLONS = /^[0-9a-f]{2}(:[0-9a-f]{2}){31}$/i;
const BARE = /^[0-9a-f]{64}$/i;

/** The canonical fingerprint, or undefined when `text` is not a SHA-256 fingerprint in either form. */
export function normalizeFingerprint(text: string): string | undefined {
  const trimmed = text.trim().replace(/^sha256:/i, '');
  if (!COLONS.test(trimmed) && !BARE.test(trimmed)) return undefined;
  const hex = trimmed.replace(/:/g, '').toUpperCase();
  return hex.match(/../g)!.join(':');
}

/** What a bad fingerprint is told, in a settings file and on the command line alike. */
export function fingerprintProblem(text: string): string | undefined {
  return normalizeFingerprint(text)
    ? undefined
    : `${JSON.stringify(text)} is not a SHA-256 fingerprint: give 64 hex digits, bare or colon-separated (as \`ambit ca show\` prints it)`;
}

/** The canonical fingerprint of `text`, or EIDENTITY_BAD_FINGERPRINT naming where it came from. */
export function parseFingerprint(text: string, source: string): string {
  const fingerprint = normalizeFingerprint(text);
  if (!fingerprint) throw new IdentityError('EIDENTITY_BAD_FINGERPRINT', `${source}: ${fingerprintProblem(text)!}`, { source });
  return fingerprint;
}

/** 64 lower-case hex digits: the spelling a join token carries. */
export function compactFingerprint(fingerprint: string): string {
  return fingerprint.replace(/:/g, '').toLowerCase();
}
