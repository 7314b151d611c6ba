import test from 'ava';
import { isIpOrCidr, parseDurationMs, resolveHost } from '../../core/config/index.js';

test('resolveHost expands only dotless short names, as Istio does', (t) => {
  t.is(resolveHost('reviews', 'default'), 'reviews.default.svc.cluster.local');
  t.is(resolveHost('reviews', 'shop', 'mesh.test'), 'reviews.shop.svc.mesh.test');
  t.is(resolveHost('reviews.other', 'default'), 'reviews.other');
  t.is(resolveHost('httpbin.org', 'default'), 'httpbin.org');
  t.is(resolveHost('reviews.other.svc.cluster.local', 'default'), 'reviews.other.svc.cluster.local');
  t.is(resolveHost('api.example.com', 'default'), 'api.example.com');
  t.is(resolveHost('*.example.com', 'default'), '*.example.com');
  t.is(resolveHost('*', 'default'), '*');
  t.is(resolveHost('10.0.0.1', 'default'), '10.0.0.1');
});

test('durations in Go syntax', (t) => {
  t.is(parseDurationMs('1s'), 1000);
  t.is(parseDurationMs('0.5s'), 500);
  t.is(parseDurationMs('100ms'), 100);
  t.is(parseDurationMs('1m'), 60_000);
  t.is(parseDurationMs('1h30m'), 5_400_000);
  t.is(parseDurationMs('0'), 0);
  for (const bad of ['', '1', 's', '1 s', '-1s', '1d', '1s ']) t.is(parseDurationMs(bad), undefined, bad);
});

test('IP and CIDR checks', (t) => {
  for (const ok of ['1.2.3.4', '10.0.0.0/8', 'fd00::1', 'fd00::/64', '0.0.0.0/0']) t.true(isIpOrCidr(ok), ok);
  for (const bad of ['1.2.3', '1.2.3.4/33', 'fd00::/129', 'host', '1.2.3.4/', '1.2.3.4/x']) t.false(isIpOrCidr(bad), bad);
});
