/** Round robin with ejection of endpoints that refused a connection. */
import test from 'ava';
import { keyOf, RoundRobinBalancer } from '../../daemon/balancer.js';

const eps = [1, 2, 3].map((n) => ({ address: `10.0.0.${n}`, port: 80 }));

function clock() {
  let now = 1_000;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

test('round robin visits endpoints in order, per service', (t) => {
  const b = new RoundRobinBalancer();
  t.deepEqual(
    [1, 2, 3, 4].map(() => b.pick('svc', eps)?.address),
    ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.1'],
  );
  t.is(b.pick('other', eps)?.address, '10.0.0.1', 'another service has its own position');
  t.is(b.pick('svc', []), undefined);
});

test('an ejected endpoint is skipped until its ejection ends', (t) => {
  const c = clock();
  const b = new RoundRobinBalancer({ baseEjectionMs: 1_000, now: c.now });
  b.failed(eps[1]!);
  const picks = [1, 2, 3, 4].map(() => b.pick('svc', eps)?.address);
  t.false(picks.includes('10.0.0.2'));
  t.deepEqual(b.ejected(), [{ endpoint: '10.0.0.2:80', until: 2_000, failures: 1 }]);
  c.advance(1_000);
  t.deepEqual(b.ejected(), []);
  t.true([1, 2, 3].map(() => b.pick('svc', eps)?.address).includes('10.0.0.2'));
});

test('ejection doubles with repeated failures, up to the cap, and success forgives', (t) => {
  const c = clock();
  const b = new RoundRobinBalancer({ baseEjectionMs: 1_000, maxEjectionMs: 5_000, now: c.now });
  const untils = [1, 2, 3, 4, 5].map(() => (b.failed(eps[0]!), b.ejected()[0]!.until - c.now()));
  t.deepEqual(untils, [1_000, 2_000, 4_000, 5_000, 5_000]);
  b.succeeded(eps[0]!);
  t.deepEqual(b.ejected(), []);
  b.failed(eps[0]!);
  t.is(b.ejected()[0]!.failures, 1, 'the count restarts after a success');
});

test('when every endpoint is ejected, any is better than none', (t) => {
  const b = new RoundRobinBalancer();
  for (const ep of eps) b.failed(ep);
  t.truthy(b.pick('svc', eps));
});

test('exclude skips endpoints this connection already tried, ejected or not', (t) => {
  const b = new RoundRobinBalancer();
  const tried = new Set([keyOf(eps[0]!), keyOf(eps[1]!)]);
  t.is(b.pick('svc', eps, tried)?.address, '10.0.0.3');
  t.is(b.pick('svc', eps, new Set(eps.map(keyOf))), undefined);
  b.failed(eps[2]!);
  t.is(b.pick('svc', eps, tried)?.address, '10.0.0.3', 'the only one left is used even when ejected');
});

test('keys bracket IPv6', (t) => {
  t.is(keyOf({ address: 'fd00::1', port: 443 }), '[fd00::1]:443');
});
