/**
 * The `ambit-waypoint` binary against a real store: starts with its
 * certificate files, loads the mesh, answers /healthz/ready and serves Istio
 * metrics; exits non-zero with the reason when its certificate is missing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { REPO_ROOT } from '../helpers/cli.js';
import { closedPort } from '../helpers/hbone-harness.js';
import { startRedis } from '../helpers/redis.js';
import { makeTestCa, workload } from '../helpers/test-pki.js';

const BIN = path.join(REPO_ROOT, 'bin/ambit-waypoint.js');

test('ambit-waypoint serves health and metrics once it has the store snapshot, and drains on SIGTERM', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const pki = await makeTestCa();
  const id = await pki.issue(workload('default', 'reviews-waypoint'));
  const dir = mkdtempSync(path.join(tmpdir(), 'ambit-wp-'));
  for (const [name, pem] of Object.entries({ cert: id.cert, key: id.key, ca: String(id.ca) })) writeFileSync(path.join(dir, `${name}.pem`), pem);
  const [hbone, metrics] = [await closedPort(), await closedPort()];
  const child = spawn(
    process.execPath,
    [
      BIN,
      '-s',
      'reviews.default.svc.cluster.local',
      '--listen',
      `127.0.0.1:${hbone}`,
      '--metrics',
      `127.0.0.1:${metrics}`,
      '--cert',
      path.join(dir, 'cert.pem'),
      '--key',
      path.join(dir, 'key.pem'),
      '--ca',
      path.join(dir, 'ca.pem'),
      '--redis',
      redis.url,
    ],
    { stdio: 'ignore' },
  );
  t.teardown(() => void child.kill('SIGKILL'));
  let ready = false;
  for (let i = 0; i < 100 && !ready; i++) {
    ready = await fetch(`http://127.0.0.1:${metrics}/healthz/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (!ready) await new Promise((r) => setTimeout(r, 100));
  }
  t.true(ready);
  const text = await (await fetch(`http://127.0.0.1:${metrics}/metrics`)).text();
  t.true(text.includes('# TYPE istio_requests_total counter'));
  child.kill('SIGTERM');
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  t.is(code, 0);
});

test('ambit-waypoint without its certificate exits 1 and says which file', (t) => {
  const r = spawnSync(process.execPath, [BIN, '-s', 'reviews.default.svc.cluster.local', '--cert', '/nonexistent/cert.pem', '--key', '/x', '--ca', '/x'], {
    encoding: 'utf8',
  });
  t.is(r.status, 1);
  t.regex(r.stdout + r.stderr, /\/nonexistent\/cert\.pem/);
});

test('ambit-waypoint with a settings file that does not validate exits 1 with file:line and the field', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ambit-wp-'));
  const file = path.join(dir, 'ambit-waypoint.yaml');
  writeFileSync(file, 'tracing:\n  providers:\n    - name: otel\n      opentelemetry: {endpoint: "udp://127.0.0.1:4318"}\n');
  const r = spawnSync(process.execPath, [BIN, '-s', 'reviews.default.svc.cluster.local', '--cert', '/x', '--key', '/x', '--ca', '/x', '--config', file], {
    encoding: 'utf8',
  });
  t.is(r.status, 1);
  t.regex(r.stdout + r.stderr, new RegExp(`${file.replace(/[.]/g, '\\.')}:4`));
  t.regex(r.stdout + r.stderr, /tracing\.providers\[0\]\.opentelemetry\.endpoint/);
});
