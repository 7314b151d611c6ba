import test from 'ava';
import { classify } from '../../waypoint/protocol.js';

const c = (s: string | number[]) => classify(typeof s === 'string' ? Buffer.from(s, 'latin1') : Buffer.from(s));

test('the h2c preface is h2; any prefix of it is undecided', (t) => {
  t.is(c('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), 'h2');
  t.is(c('PRI * HTTP/2.0\r\n'), undefined);
  t.is(c('P'), undefined);
});

test('a request line is h1; its beginnings are undecided', (t) => {
  t.is(c('GET /reviews/1?x=y HTTP/1.1\r\nhost: a\r\n'), 'h1');
  t.is(c('OPTIONS * HTTP/1.0\r\n'), 'h1');
  t.is(c('GET /x HTTP/1.1\n'), 'h1');
  for (const partial of ['G', 'GET', 'GET ', 'GET /long/path', 'GET /x ', 'GET /x HTTP/1', 'GET /x HTTP/1.1\r']) t.is(c(partial), undefined, partial);
});

test('bytes no request line starts with are tcp', (t) => {
  t.is(c([0x16, 0x03, 0x01, 0x02, 0x00]), 'tcp', 'TLS ClientHello');
  t.is(c('*1\r\n$4\r\nPING\r\n'), 'tcp', 'Redis');
  t.is(c('HELO mail.example.com\r\n'), 'tcp', 'two words');
  t.is(c('GET /x HTTP/2.0\r\n'), 'tcp', 'not HTTP/1');
  t.is(c('GET /x SPDY'), 'tcp');
  t.is(c('GET  /x HTTP/1.1\r\n'), 'tcp', 'empty target');
  t.is(c('a b c d'), 'tcp', 'too many parts');
  t.is(c('\r\n'), 'tcp');
});

test('a first line longer than 16 KiB is not HTTP', (t) => {
  t.is(c(`GET /${'a'.repeat(16 * 1024)}`), 'tcp');
});
