/** ambit doctor's pure judgements: clock skew, certificate expiry, workload certificates, Node.js version. */
import test from 'ava';
import { classifySkew } from '../../cli/doctor/checks/clock-skew.js';
import { nodeVersionSupported, requiredNode } from '../../cli/doctor/checks/node-version.js';
import { judgeWorkloadCert } from '../../cli/doctor/checks/workload-certs.js';
import { classifyExpiry, FALLBACK_WARN_SECONDS, warnWindowSeconds } from '../../cli/doctor/cert-expiry.js';
import type { CertStatus } from '../../core/identity/client/cert-manager.js';
import type { IssuedRecord } from '../../core/identity/store/issued.js';

test('clock skew: up to 1 s is OK, beyond is WARN, beyond 30 s FAIL, either direction', (t) => {
  t.is(classifySkew(0, 1).status, 'OK');
  t.is(classifySkew(1000, 1).status, 'OK');
  t.is(classifySkew(-1000, 1).status, 'OK');
  t.is(classifySkew(1001, 1).status, 'WARN');
  t.is(classifySkew(-5000, 1).status, 'WARN');
  t.is(classifySkew(30_000, 1).status, 'WARN');
  t.is(classifySkew(30_001, 1).status, 'FAIL');
  t.is(classifySkew(-120_000, 1).status, 'FAIL');
});

test('clock skew says which way and how sure, and WARN/FAIL carry the NTP fix', (t) => {
  t.regex(classifySkew(250.4, 0.6).detail, /^250 ms ahead of the store \(±1 ms\)$/);
  t.regex(classifySkew(-2500, 3).detail, /^2\.5 s behind the store \(±3 ms\)$/);
  const failed = classifySkew(45_000, 2);
  t.regex(failed.detail, /45\.0 s ahead/);
  t.regex(failed.fix ?? '', /timedatectl set-ntp true/);
  t.is(classifySkew(10, 1).fix, undefined);
});

const HOUR = 3600_000;
const at = (ms: number) => new Date(Date.UTC(2030, 0, 1) + ms);

test('certificate expiry: by default WARN once less than a quarter of the lifetime is left', (t) => {
  const cert = { notBefore: at(0), notAfter: at(24 * HOUR) };
  t.is(warnWindowSeconds(cert), 6 * 3600);
  t.is(classifyExpiry(cert, at(12 * HOUR)).status, 'OK'); // just renewed: half left
  t.is(classifyExpiry(cert, at(17 * HOUR)).status, 'OK');
  const late = classifyExpiry(cert, at(19 * HOUR));
  t.is(late.status, 'WARN');
  t.regex(late.text, /^expires in 5h0m, less than 6h0m: renewal is overdue$/);
  const gone = classifyExpiry(cert, at(24 * HOUR + 5 * 60_000));
  t.is(gone.status, 'FAIL');
  t.is(gone.text, 'expired 5m0s ago');
  t.true(gone.remainingSeconds < 0);
});

test('certificate expiry: a given window replaces the quarter; no notBefore falls back to an hour', (t) => {
  const cert = { notBefore: at(0), notAfter: at(24 * HOUR) };
  const warned = classifyExpiry(cert, at(6 * HOUR), 20 * 3600);
  t.is(warned.status, 'WARN');
  t.regex(warned.text, /--cert-warn window/);
  t.is(classifyExpiry(cert, at(19 * HOUR), 60).status, 'OK');
  const open = { notAfter: at(24 * HOUR) };
  t.is(warnWindowSeconds(open), FALLBACK_WARN_SECONDS);
  t.is(classifyExpiry(open, at(22 * HOUR)).status, 'OK');
  t.is(classifyExpiry(open, at(23.5 * HOUR)).status, 'WARN');
});

test('certificate expiry: not yet valid is a FAIL that points at the clock', (t) => {
  const v = classifyExpiry({ notBefore: at(HOUR), notAfter: at(25 * HOUR) }, at(0));
  t.is(v.status, 'FAIL');
  t.regex(v.text, /not valid until .* clock behind/);
});

const ID = 'spiffe://cluster.local/ns/default/sa/reviews';
const ROOT = 'AA:BB:CC:DD';
const held = (over: Partial<CertStatus> = {}): CertStatus => ({
  spiffeId: ID,
  kind: 'workload',
  state: 'valid',
  serial: '0a1b',
  notBefore: at(0).toISOString(),
  notAfter: at(24 * HOUR).toISOString(),
  renewals: 0,
  ...over,
});
const record = (over: Partial<IssuedRecord> = {}): IssuedRecord => ({
  node: 'a',
  spiffeId: ID,
  kind: 'workload',
  serial: '0a1b',
  notBefore: at(0).toISOString(),
  notAfter: at(24 * HOUR).toISOString(),
  renewAt: at(12 * HOUR).toISOString(),
  root: ROOT,
  issuer: 'CN=ambit',
  issuedAt: at(0).toISOString(),
  ...over,
});

test('workload certificate: valid, on record and under a bundle root is OK', (t) => {
  const f = judgeWorkloadCert(held(), at(HOUR), undefined, [record()], new Set([ROOT]));
  t.is(f.status, 'OK');
  t.regex(f.text, /chains to the trust bundle/);
  t.regex(judgeWorkloadCert(held(), at(HOUR), undefined).text, /root not checked: no store/);
});

test('workload certificate: pending, expired, foreign root, unknown serial', (t) => {
  const pending = judgeWorkloadCert(held({ state: 'pending', notAfter: undefined, lastError: 'signer timeout' }), at(HOUR), undefined, [], new Set([ROOT]));
  t.is(pending.status, 'FAIL');
  t.regex(pending.text, /no certificate yet \(last error: signer timeout\)/);
  t.regex(pending.fix ?? '', /ambit ca serve/);
  t.is(judgeWorkloadCert(held(), at(25 * HOUR), undefined, [record()], new Set([ROOT])).status, 'FAIL');
  const foreign = judgeWorkloadCert(held(), at(HOUR), undefined, [record({ root: '11:22:33:44' })], new Set([ROOT]));
  t.is(foreign.status, 'FAIL');
  t.regex(foreign.text, /not in the trust bundle/);
  const other = judgeWorkloadCert(held(), at(HOUR), undefined, [record({ serial: 'ffff' })], new Set([ROOT]));
  t.is(other.status, 'WARN');
  t.regex(other.text, /latest certificate is serial ffff, ambitd holds 0a1b/);
  t.is(judgeWorkloadCert(held(), at(HOUR), undefined, [], new Set([ROOT])).status, 'WARN');
});

test('Node.js version against package.json engines', (t) => {
  const min = requiredNode();
  t.deepEqual(min, [20, 19]);
  t.true(nodeVersionSupported('v20.19.0', min));
  t.true(nodeVersionSupported('v22.1.0', min));
  t.false(nodeVersionSupported('v20.18.3', min));
  t.false(nodeVersionSupported('v18.20.0', min));
  t.true(nodeVersionSupported(process.version, min));
});
