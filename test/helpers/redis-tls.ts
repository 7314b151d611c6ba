/**
 * A throwaway CA and a server certificate for 127.0.0.1, made with openssl, for a
 * redis-server serving TLS (startRedis({ tls })). openssl rather than the mesh's
 * identity code: that issues SPIFFE leaves (URI SANs), and Redis's certificate must
 * name an IP address, like the one an operator gets from their own CA.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RedisTlsFiles } from './redis.js';

export function makeRedisTls(dir: string): RedisTlsFiles {
  const f = (name: string): string => join(dir, name);
  const openssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '1', '-subj', '/CN=ambit test Redis CA');
  openssl('req', ...ec, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1');
  writeFileSync(f('server.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n');
  openssl(
    'x509',
    '-req',
    '-in',
    f('server.csr'),
    '-CA',
    f('ca.pem'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-out',
    f('server.pem'),
    '-days',
    '1',
    '-extfile',
    f('server.ext'),
  );
  return { cert: f('server.pem'), key: f('server.key'), ca: f('ca.pem') };
}
