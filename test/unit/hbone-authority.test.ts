/** The HBONE `:authority`: IP literals and a canonical decimal port, or nothing. */
import test from 'ava';
import { formatAuthority, parseAuthority } from '../../core/hbone/authority.js';

test('ip:port and [ipv6]:port parse, and format back the same', (t) => {
  t.deepEqual(parseAuthority('10.0.0.2:9080'), { host: '10.0.0.2', port: 9080, family: 4 });
  t.deepEqual(parseAuthority('[fd00::2]:9080'), { host: 'fd00::2', port: 9080, family: 6 });
  t.is(formatAuthority('10.0.0.2', 9080), '10.0.0.2:9080');
  t.is(formatAuthority('fd00::2', 9080), '[fd00::2]:9080');
});

const refused: [string, string][] = [
  ['09080', 'a leading zero'],
  ['00080', 'leading zeros'],
  ['0', 'port 0'],
  ['65536', 'past 65535'],
  ['+80', 'a sign'],
  ['80 ', 'trailing space'],
  ['8e1', 'an exponent'],
  ['0x50', 'hex'],
  ['', 'no port'],
];
for (const [port, why] of refused) {
  test(`a port with ${why} (${JSON.stringify(port)}) is refused`, (t) => {
    t.is(parseAuthority(`10.0.0.2:${port}`), undefined);
    t.is(parseAuthority(`[fd00::2]:${port}`), undefined);
  });
}

test('host names, bare IPv6 and oversized values are refused', (t) => {
  for (const v of ['reviews:9080', 'fd00::2:9080', '[10.0.0.2]:80', '10.0.0.2', undefined, `10.0.0.2:${'1'.repeat(70)}`])
    t.is(parseAuthority(v), undefined, String(v));
});
