import net from 'node:net';
import test from 'ava';
import { AmbitError } from '../../core/errors.js';
import { loadOriginalDstAddon, originalDst } from '../../core/net/original-dst.js';

test('a missing addon is a typed error that says how to build it', (t) => {
  const error = t.throws(() => loadOriginalDstAddon(['/nonexistent/original_dst.node']), { instanceOf: AmbitError });
  t.is(error?.code, 'ENATIVE_MISSING');
  t.regex(error?.message ?? '', /npm run build:native/);
});

test('a socket without a descriptor is refused before reaching the addon', (t) => {
  const error = t.throws(() => originalDst(new net.Socket()), { instanceOf: AmbitError });
  t.is(error?.code, 'EBADF');
});
