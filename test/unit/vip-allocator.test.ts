import test from 'ava';
import { allocateVip, DEFAULT_VIP_CIDR, inRange, parseCidr, preferredVip, VipError } from '../../core/vip/allocator.js';

const reviews = { namespace: 'default', name: 'reviews' };

test('the same service gets the same VIP every time, inside the default range', (t) => {
  const a = allocateVip(reviews, []);
  t.is(allocateVip(reviews, []), a);
  t.is(allocateVip({ ...reviews }, new Set(['10.0.0.1'])), a, 'addresses outside the range do not move it');
  t.is(a, preferredVip(reviews));
  t.true(inRange(a, DEFAULT_VIP_CIDR));
  t.regex(a, /^240\.240\.\d+\.\d+$/);
});

test('different services usually prefer different VIPs', (t) => {
  const vips = new Set<string>();
  for (let i = 0; i < 50; i++) vips.add(preferredVip({ namespace: 'ns', name: `svc-${i}` }));
  // 50 hashes into 65534 slots: a birthday collision is possible but rare, and
  // the assertion only guards against a constant or namespace-blind hash.
  t.true(vips.size >= 48);
  t.not(preferredVip({ namespace: 'a', name: 'x' }), preferredVip({ namespace: 'b', name: 'x' }));
});

test('a taken VIP makes the allocator probe to the next free address', (t) => {
  const first = allocateVip(reviews, [], '10.0.0.0/24');
  const second = allocateVip(reviews, [first], '10.0.0.0/24');
  t.not(second, first);
  const third = allocateVip(reviews, [first, second], '10.0.0.0/24');
  t.false([first, second].includes(third));
  // Linear: each probe moves one address on, wrapping from .254 back to .1.
  const last = (vip: string): number => Number(vip.split('.')[3]);
  t.is(last(second), last(first) === 254 ? 1 : last(first) + 1);
});

test('network and broadcast addresses are never handed out; a /30 has two VIPs then is exhausted', (t) => {
  const cidr = '192.0.2.0/30';
  const a = allocateVip({ namespace: 'ns', name: 'a' }, [], cidr);
  const b = allocateVip({ namespace: 'ns', name: 'b' }, [a], cidr);
  t.deepEqual([a, b].sort(), ['192.0.2.1', '192.0.2.2']);
  const err = t.throws(() => allocateVip({ namespace: 'ns', name: 'c' }, [a, b], cidr), { instanceOf: VipError });
  t.is(err?.code, 'EVIP_EXHAUSTED');
  t.regex(err?.message ?? '', /192\.0\.2\.0\/30 is full/);
});

test('allocated addresses outside the range or in other spellings are handled', (t) => {
  const cidr = 'fd00::/126';
  const a = allocateVip(reviews, ['10.0.0.1', 'garbage'], cidr);
  t.true(inRange(a, cidr));
  // The same address written uncompressed still counts as taken.
  const long = a.replace('fd00::', 'fd00:0:0:0:0:0:0:');
  const b = allocateVip(reviews, [long], cidr);
  t.not(b, a);
  t.throws(() => allocateVip(reviews, [a, b], cidr), { instanceOf: VipError, message: /is full/ });
});

test('/31 and /32 ranges have no network or broadcast address to skip', (t) => {
  t.is(parseCidr('192.0.2.4/31').size, 2n);
  t.is(allocateVip(reviews, [], '192.0.2.9/32'), '192.0.2.9');
});

test('invalid CIDRs are rejected with EVIP_INVALID_CIDR', (t) => {
  for (const bad of ['240.240.0.0', '240.240.0.0/33', '240.240/16', '0xf0.240.0.0/16', 'nope/8', '::/129', '']) {
    const err = t.throws(() => parseCidr(bad), { instanceOf: VipError }, bad);
    t.is(err?.code, 'EVIP_INVALID_CIDR');
  }
  t.throws(() => allocateVip(reviews, [], '1.2.3.4/8'), { message: /host bits set; did you mean 1\.0\.0\.0\/8/ });
});

test('parseCidr normalises and sizes the default range', (t) => {
  const r = parseCidr(DEFAULT_VIP_CIDR);
  t.is(r.cidr, '240.240.0.0/16');
  t.is(r.family, 4);
  t.is(r.size, 65534n);
  t.false(inRange('240.240.0.0', r));
  t.false(inRange('240.240.255.255', r));
  t.true(inRange('240.240.255.254', r));
  t.false(inRange('fd00::1', r));
});

test('an almost full /24 still finds the one free address', (t) => {
  const taken: string[] = [];
  for (let i = 1; i <= 254; i++) if (i !== 77) taken.push(`10.1.2.${i}`);
  t.is(allocateVip(reviews, taken, '10.1.2.0/24'), '10.1.2.77');
});
