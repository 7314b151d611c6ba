/**
 * The revocation list in the signed manifest (issue 13), as pure decisions:
 * its strict payload form, the peer check every refusal goes through, pruning
 * of expired serials, re-admitting a name, and the manifest version rules
 * (v1 revokes nothing and may not carry a list; v2 must carry one).
 */
import test from 'ava';
import { bundleOf, createRootCA } from '../../core/identity/index.js';
import { checkManifest } from '../../core/identity/manifest/check.js';
import { EMPTY_BODY, openManifest, sameBody, signManifest, withRevocations } from '../../core/identity/manifest/format.js';
import { issueOperator } from '../../core/identity/operator.js';
import { peerRevocation } from '../../core/identity/revocation/check.js';
import {
  admitNode,
  EMPTY_REVOCATIONS,
  MIN_REVOCATION_MS,
  normalizeSerial,
  parseRevocations,
  pruneExpired,
  revokeNode,
} from '../../core/identity/revocation/list.js';
import { parseEnvelope, serializeEnvelope, signEnvelope } from '../../core/identity/trust/envelope.js';
import { stableJson } from '../../core/store/codec.js';
import { tempDir } from './identity-fixtures.js';
import type { DetailedPeerCertificate } from 'node:tls';
import { pino } from 'pino';
import type { IdentityError } from '../../core/identity/errors.js';
import { PeerRevocations } from '../../core/identity/revocation/peer-check.js';

// Real time: checkManifest verifies the operator chain at `now`.
const now = new Date();
const inDays = (d: number) => new Date(now.getTime() + d * 86400_000).toISOString();

test('serials are compared as numbers: case and leading zeros do not matter', (t) => {
  t.is(normalizeSerial('00AB12'), 'ab12');
  t.is(normalizeSerial('ab12'), 'ab12');
  t.is(normalizeSerial('0'), '0');
});

test('revokeNode lists the name and every serial; admitNode lifts the name only; expired serials are pruned', (t) => {
  const list = revokeNode(
    EMPTY_REVOCATIONS,
    'b',
    [
      { serial: '0A1B', notAfter: inDays(20) },
      { serial: 'ff', notAfter: inDays(1) },
      { serial: 'not hex!', notAfter: inDays(1) },
    ],
    now,
  );
  t.deepEqual(list.nodes, ['b']);
  t.deepEqual(Object.keys(list.serials).sort(), ['a1b', 'ff'], 'normalized, garbage from the store skipped');
  t.is(list.serials['a1b']!.notAfter, inDays(20));
  // A notAfter from Redis moved into the past must not get the entry pruned at once.
  t.is(list.serials['ff']!.notAfter, new Date(now.getTime() + MIN_REVOCATION_MS).toISOString());
  const again = revokeNode(list, 'a', [], now);
  t.deepEqual(again.nodes, ['a', 'b'], 'sorted');
  const admitted = admitNode(again, 'b');
  t.deepEqual(admitted.nodes, ['a']);
  t.deepEqual(admitted.serials, again.serials, 'the old serials stay revoked');
  t.deepEqual(Object.keys(pruneExpired(list, new Date(Date.parse(inDays(10)))).serials), ['a1b']);
  t.deepEqual(pruneExpired(list, new Date(Date.parse(inDays(30)))).serials, {});
});

test('peerRevocation: by serial (any workload cert of the node), by node identity, and not otherwise', (t) => {
  const list = revokeNode(EMPTY_REVOCATIONS, 'b', [{ serial: 'abc', notAfter: inDays(2) }], now);
  const bySerial = peerRevocation(list, { serial: '0ABC', spiffeId: 'spiffe://cluster.local/ns/default/sa/reviews' });
  t.like(bySerial, { revoked: true, match: 'serial', node: 'b' });
  t.like(peerRevocation(list, { serial: '1234', spiffeId: 'spiffe://cluster.local/ambit/node/b' }), { revoked: true, match: 'node' });
  t.like(peerRevocation(list, { serial: '1234', spiffeId: 'spiffe://cluster.local/ambit/node/a' }), { revoked: false });
  t.like(
    peerRevocation(list, { serial: '1234', spiffeId: 'spiffe://cluster.local/ns/b/sa/b' }),
    { revoked: false },
    'a workload namespace named like the node',
  );
  t.like(peerRevocation(list, { serial: '1234', spiffeId: 'not a uri' }), { revoked: false });
  t.like(peerRevocation(admitNode(list, 'b'), { serial: 'abc', spiffeId: 'spiffe://cluster.local/ambit/node/b' }), { revoked: true, match: 'serial' });
});

test('parseRevocations is strict: unknown fields, unsorted or duplicate names, bad serials and times are refused', (t) => {
  const good = { nodes: ['a', 'b'], serials: { ab: { node: 'a', notAfter: inDays(1) } } };
  t.deepEqual(parseRevocations(good), good);
  t.deepEqual(parseRevocations(JSON.parse(stableJson(EMPTY_REVOCATIONS))), EMPTY_REVOCATIONS);
  const bad: [string, unknown][] = [
    ['not an object', []],
    ['unknown field', { ...good, extra: 1 }],
    ['missing serials', { nodes: [] }],
    ['unsorted', { ...good, nodes: ['b', 'a'] }],
    ['duplicate', { ...good, nodes: ['a', 'a'] }],
    ['bad name', { ...good, nodes: ['a b'] }],
    ['upper-case serial', { nodes: [], serials: { AB: { node: 'a', notAfter: inDays(1) } } }],
    ['leading zero', { nodes: [], serials: { '0ab': { node: 'a', notAfter: inDays(1) } } }],
    ['not hex', { nodes: [], serials: { xyz: { node: 'a', notAfter: inDays(1) } } }],
    ['bad time', { nodes: [], serials: { ab: { node: 'a', notAfter: 'tomorrow' } } }],
    ['non-canonical time', { nodes: [], serials: { ab: { node: 'a', notAfter: '2030-01-01' } } }],
    ['extra entry field', { nodes: [], serials: { ab: { node: 'a', notAfter: inDays(1), why: 'x' } } }],
  ];
  for (const [what, value] of bad) t.is(parseRevocations(value), undefined, what);
});

test('manifest v2 carries the list under the signature; v1 revokes nothing and may not carry one; expired serials are dropped at signing', async (t) => {
  const ca = await createRootCA();
  const operator = await issueOperator(ca, await tempDir(t));
  const bundle = bundleOf(ca);
  const list = revokeNode(EMPTY_REVOCATIONS, 'b', [{ serial: 'ab', notAfter: inDays(30) }], now);
  const body = withRevocations(EMPTY_BODY, () => list);
  t.false(sameBody(body, EMPTY_BODY), 'a revocation is a manifest change');
  const record = signManifest(operator, body, 3, now);
  const opened = openManifest(record)!;
  t.is(opened.manifest.version, 2);
  t.deepEqual(opened.manifest.revoked, list);
  const verdict = checkManifest({ record, bundle, lastSequence: 0, resources: [], endpoints: [], now });
  t.true(verdict.accept);
  t.deepEqual(verdict.accept && verdict.manifest?.revoked, list);

  // Edited in the store (the revocation taken out): the signature no longer verifies.
  const env = parseEnvelope(record)!;
  const edited = serializeEnvelope({ ...env, payload: env.payload.replace('"nodes":["b"]', '"nodes":[]') });
  t.not(edited, record);
  t.like(checkManifest({ record: edited, bundle, lastSequence: 0, resources: [], endpoints: [], now }), { accept: false, reason: 'bad-signature' });
  // An older manifest, from before the revocation, is a rollback for a reader that saw this one.
  const older = signManifest(operator, EMPTY_BODY, 2, now);
  t.like(checkManifest({ record: older, bundle, lastSequence: 3, resources: [], endpoints: [], now }), { accept: false, reason: 'rollback' });

  // Version rules, with properly signed payloads so only the schema decides.
  const sign = (payload: object) => serializeEnvelope(signEnvelope('ambit-security-manifest-v1', stableJson(payload), operator.key, operator.chainPem));
  const base = { trustDomain: 'cluster.local', sequence: 1, issuedAt: now.toISOString(), operator: operator.spiffeId.uri, resources: {}, enrollments: {} };
  t.deepEqual(openManifest(sign({ ...base, version: 1 }))?.manifest.revoked, EMPTY_REVOCATIONS, 'v1: nothing revoked');
  t.is(openManifest(sign({ ...base, version: 1, revoked: list })), undefined, 'v1 may not carry a list');
  t.is(openManifest(sign({ ...base, version: 2 })), undefined, 'v2 must carry one');
  t.is(openManifest(sign({ ...base, version: 2, revoked: { nodes: ['b'] } })), undefined, 'and a well-formed one');
  t.is(openManifest(sign({ ...base, version: 3, revoked: list })), undefined, 'unknown versions refused');

  // Signing later than the serial's expiry drops it; the name stays.
  const later = openManifest(signManifest(operator, body, 4, new Date(Date.parse(inDays(31)))))!;
  t.deepEqual(later.manifest.revoked, { nodes: ['b'], serials: {} });
});

test('enforce(): sessions are rechecked both ways only when the list changed, and a refusal is counted once per direction', (t) => {
  const counted: string[] = [];
  const metrics = {
    peersRevoked: { inc: (l: { direction: string; match: string }) => void counted.push(`revoked ${l.direction} ${l.match}`) },
    tlsHandshakeFailures: { inc: (l: { direction: string; reason: string }) => void counted.push(`handshake ${l.direction} ${l.reason}`) },
  };
  const revocations = new PeerRevocations(metrics, pino({ level: 'silent' }));
  const rechecks: string[] = [];
  const sessions = {
    inbound: { recheckPeers: () => (rechecks.push('inbound'), 2) },
    outbound: { recheckPeers: () => (rechecks.push('outbound'), 1) },
  };
  t.is(revocations.enforce(EMPTY_REVOCATIONS, sessions), undefined, 'the empty list again is no change');
  t.deepEqual(rechecks, []);
  const list = revokeNode(EMPTY_REVOCATIONS, 'b', [{ serial: 'ABC', notAfter: inDays(1) }], now);
  t.deepEqual(revocations.enforce(list, sessions), { inbound: 2, outbound: 1 });
  t.deepEqual(rechecks, ['inbound', 'outbound']);
  t.is(revocations.enforce(list, sessions), undefined, 'the same list from the next snapshot rechecks nothing');
  t.deepEqual(rechecks, ['inbound', 'outbound']);
  // The checks the sessions run: a listed serial refused both ways, the outbound one with the code that fails a dial.
  const cert = { serialNumber: '0ABC', subjectaltname: 'URI:spiffe://cluster.local/ns/default/sa/x' } as DetailedPeerCertificate;
  t.is((revocations.inbound(cert) as IdentityError).code, 'EIDENTITY_PEER_REVOKED');
  t.is((revocations.outbound(cert, { host: '127.0.0.1', port: 15008 }) as Error & { code: string }).code, 'EHBONE_PEER_IDENTITY');
  t.deepEqual(counted, ['revoked inbound serial', 'revoked outbound serial', 'handshake outbound EIDENTITY_PEER_REVOKED']);
  t.is(revocations.inbound({ ...cert, serialNumber: 'DEF' }), undefined);
});
