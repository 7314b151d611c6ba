/**
 * The pieces of a pinned join that need no store: fingerprint spellings, the
 * fingerprint a token carries, and which pin wins when a token and an explicit
 * one meet.
 */
import test from 'ava';
import { joinPin } from '../../core/identity/client/root-pin.js';
import { IdentityError } from '../../core/identity/errors.js';
import { compactFingerprint, normalizeFingerprint, parseFingerprint } from '../../core/identity/fingerprint.js';
import { tokenRootFingerprint, withRootFingerprint } from '../../core/identity/token-pin.js';

const A = 'AB:'.repeat(31) + 'AB';
const B = '01:'.repeat(31) + '01';
const code = (err: unknown) => (err instanceof IdentityError ? err.code : undefined);

test('fingerprints: every spelling of the same SHA-256 reads the same; other text reads as none', (t) => {
  for (const spelling of [A, A.toLowerCase(), A.replace(/:/g, ''), `sha256:${A}`, ` ${A.replace(/:/g, '').toLowerCase()}\n`]) {
    t.is(normalizeFingerprint(spelling), A, spelling);
  }
  for (const bad of ['', 'AB', A.slice(3), `${A}:AB`, A.replace(/:/g, '-'), 'g'.repeat(64), `${A.replace(/:/g, '')}0`, 'AB:CD' + 'EF'.repeat(30)]) {
    t.is(normalizeFingerprint(bad), undefined, bad);
  }
  t.is(compactFingerprint(A), 'ab'.repeat(32));
  const err = t.throws(() => parseFingerprint('abc', '--root-fingerprint'));
  t.is(code(err), 'EIDENTITY_BAD_FINGERPRINT');
  t.regex(err.message, /^--root-fingerprint: "abc" is not a SHA-256 fingerprint/);
});

test('a token carries its root at the end; a token made before pins carries none', (t) => {
  const token = withRootFingerprint('ambit-join-acl-Q2x_-9aZ', A);
  t.is(token, `ambit-join-acl-Q2x_-9aZ.${'ab'.repeat(32)}`);
  t.is(tokenRootFingerprint(token), A);
  t.is(tokenRootFingerprint(`${token}\n`), A);
  t.is(tokenRootFingerprint('ambit-join-Q2x_-9aZQ2x_-9aZQ2x_-9aZQ2x_-9aZQ2x_-9aZQ2x_-9aZQ2x'), undefined);
  t.is(tokenRootFingerprint(`ambit-join-x.${'ab'.repeat(31)}`), undefined, 'a short tail is no fingerprint');
});

test('joinPin: the token pins; an explicit pin must agree; with neither, the join is refused', (t) => {
  const pinned = withRootFingerprint('ambit-join-x', A);
  t.deepEqual(joinPin(pinned), { fingerprint: A, from: 'the join token' });
  t.deepEqual(joinPin(pinned, { fingerprint: A, from: '--root-fingerprint' }), { fingerprint: A, from: 'the join token' });
  t.deepEqual(joinPin('ambit-join-x', { fingerprint: B, from: 'identity.rootFingerprint' }), { fingerprint: B, from: 'identity.rootFingerprint' });
  const conflict = t.throws(() => joinPin(pinned, { fingerprint: B, from: '--root-fingerprint' }));
  t.is(code(conflict), 'EIDENTITY_ROOT_PIN_CONFLICT');
  t.true(conflict.message.includes(A) && conflict.message.includes(B), conflict.message);
  t.is(code(t.throws(() => joinPin('ambit-join-x'))), 'EIDENTITY_ROOT_UNPINNED');
});
