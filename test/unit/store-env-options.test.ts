/** The AMBIT_REDIS_* environment: how ambitd hands its store settings to the waypoints it starts. */
import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storeEnv, storeOptionsFromEnv } from '../../core/store/env-options.js';
import { UsageError } from '../../core/errors.js';

test('settings survive the trip through the environment', (t) => {
  const options = {
    url: 'redis://store:6380/2',
    password: 's3cret',
    keyPrefix: 'mesh2:',
    sentinels: [
      { host: 's1', port: 26379 },
      { host: 's2', port: 26380 },
    ],
    sentinelName: 'main',
    sentinelPassword: 'sentinel-s3cret',
    username: 'ambit-node-b',
  };
  const env = storeEnv(options);
  t.false(JSON.stringify(env).includes('--'), 'nothing for a command line');
  t.like(storeOptionsFromEnv(env.AMBIT_REDIS_URL!, env), options);
});

test('a TLS CA travels as a file', (t) => {
  const file = join(mkdtempSync(join(tmpdir(), 'ambit-env-')), 'ca.pem');
  writeFileSync(file, 'PEM');
  const env = storeEnv({ url: 'rediss://store:6380' }, file);
  const back = storeOptionsFromEnv(env.AMBIT_REDIS_URL!, env);
  t.is(String((back.tls as { ca: Buffer }).ca), 'PEM');
});

test('a malformed sentinel list is a usage error naming the variable', (t) => {
  const err = t.throws(() => storeOptionsFromEnv('redis://x:1', { AMBIT_REDIS_SENTINELS: 's1:26379,nope' }), { instanceOf: UsageError });
  t.regex(err.message, /AMBIT_REDIS_SENTINELS.*"nope"/);
});

test('credentials and the sentinel password come from files', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ambit-env-'));
  const credentials = join(dir, 'node.json');
  writeFileSync(credentials, JSON.stringify({ username: 'ambit-node-b', password: 'pw' }), { mode: 0o600 });
  const sentinel = join(dir, 'sentinel-password');
  writeFileSync(sentinel, 'sp\n');
  const options = storeOptionsFromEnv('redis://x:6379', {
    AMBIT_REDIS_CREDENTIALS: credentials,
    AMBIT_REDIS_SENTINELS: 's1:26379',
    AMBIT_REDIS_SENTINEL_PASSWORD_FILE: sentinel,
  });
  t.like(options, { username: 'ambit-node-b', password: 'pw', sentinelPassword: 'sp' });
  writeFileSync(join(dir, 'open.json'), JSON.stringify({ username: 'u', password: 'p' }), { mode: 0o644 });
  t.throws(() => storeOptionsFromEnv('redis://x:6379', { AMBIT_REDIS_CREDENTIALS: join(dir, 'open.json') }), { message: /readable by other users.*chmod 600/ });
});
