/** PeerAuthentication resolution: workload > namespace > mesh, port level, UNSET inheritance, PERMISSIVE default. */
import test from 'ava';
import { normalize, type Resource, type TypedResource } from '../../core/config/index.js';
import { mtlsMode as modeOfTyped, type WorkloadRef } from '../../core/mesh/peer-authentication.js';
import { resource } from './support/daemon-fixtures.js';

// The mesh state hands mtlsMode its snapshot's PeerAuthentications in typed form; so do these tests.
const mtlsMode = (resources: Resource[], w: WorkloadRef, port: number, root?: string) =>
  modeOfTyped(
    resources.filter((r) => r.kind === 'PeerAuthentication').map((r) => normalize(r) as TypedResource<'PeerAuthentication'>),
    w,
    port,
    root,
  );

const reviews = { namespace: 'default', labels: { app: 'reviews', version: 'v1' } };
const pa = (name: string, spec: Record<string, unknown>, namespace = 'default', creationTimestamp?: string) =>
  resource('PeerAuthentication', name, spec, { namespace, ...(creationTimestamp ? { creationTimestamp } : {}) });
const mesh = (mode: string) => pa('default', { mtls: { mode } }, 'istio-system');
const ns = (mode: string) => pa('default', { mtls: { mode } });
const workload = (mode: string, labels: Record<string, string> = { app: 'reviews' }) => pa('reviews', { selector: { matchLabels: labels }, mtls: { mode } });

test('with nothing set the mode is PERMISSIVE', (t) => {
  t.is(mtlsMode([], reviews, 9080), 'PERMISSIVE');
  t.is(mtlsMode([resource('AuthorizationPolicy', 'x', {})], reviews, 9080), 'PERMISSIVE', 'other kinds are ignored');
});

test('workload beats namespace beats mesh', (t) => {
  t.is(mtlsMode([mesh('STRICT')], reviews, 9080), 'STRICT');
  t.is(mtlsMode([mesh('STRICT'), ns('PERMISSIVE')], reviews, 9080), 'PERMISSIVE');
  t.is(mtlsMode([mesh('PERMISSIVE'), ns('PERMISSIVE'), workload('STRICT')], reviews, 9080), 'STRICT');
  t.is(mtlsMode([ns('STRICT'), workload('DISABLE')], reviews, 9080), 'DISABLE');
});

test('a selector that does not match, or another namespace, does not apply', (t) => {
  t.is(mtlsMode([workload('STRICT', { app: 'ratings' })], reviews, 9080), 'PERMISSIVE');
  t.is(mtlsMode([pa('default', { mtls: { mode: 'STRICT' } }, 'other')], reviews, 9080), 'PERMISSIVE');
  t.is(
    mtlsMode([pa('sel', { selector: { matchLabels: { app: 'reviews' } }, mtls: { mode: 'STRICT' } }, 'istio-system')], reviews, 9080),
    'PERMISSIVE',
    'selectors in the root namespace are not mesh-wide',
  );
});

test('the root namespace is configurable', (t) => {
  const p = pa('default', { mtls: { mode: 'STRICT' } }, 'mesh-root');
  t.is(mtlsMode([p], reviews, 9080, 'mesh-root'), 'STRICT');
  t.is(mtlsMode([p], reviews, 9080), 'PERMISSIVE');
});

test('portLevelMtls beats the policy’s own mode, for that port only', (t) => {
  const p = pa('reviews', { selector: { matchLabels: { app: 'reviews' } }, mtls: { mode: 'STRICT' }, portLevelMtls: { '9080': { mode: 'PERMISSIVE' } } });
  t.is(mtlsMode([p], reviews, 9080), 'PERMISSIVE');
  t.is(mtlsMode([p], reviews, 9081), 'STRICT');
});

test('UNSET (or no mtls) inherits from the next level', (t) => {
  t.is(mtlsMode([mesh('STRICT'), ns('UNSET')], reviews, 9080), 'STRICT');
  t.is(mtlsMode([ns('STRICT'), pa('reviews', { selector: { matchLabels: { app: 'reviews' } } })], reviews, 9080), 'STRICT');
  const portUnset = pa('reviews', { selector: { matchLabels: { app: 'reviews' } }, mtls: { mode: 'DISABLE' }, portLevelMtls: { '9080': { mode: 'UNSET' } } });
  t.is(mtlsMode([portUnset], reviews, 9080), 'DISABLE', 'an UNSET port falls back to the policy mode');
});

test('between two policies of one level the oldest wins', (t) => {
  const older = pa('b-older', { selector: { matchLabels: { app: 'reviews' } }, mtls: { mode: 'STRICT' } }, 'default', '2024-01-01T00:00:00Z');
  const newer = pa('a-newer', { selector: { matchLabels: { version: 'v1' } }, mtls: { mode: 'DISABLE' } }, 'default', '2025-01-01T00:00:00Z');
  t.is(mtlsMode([newer, older], reviews, 9080), 'STRICT');
});
