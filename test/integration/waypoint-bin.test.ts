/**
 * The `ambit-waypoint` binary against a real store: starts with its
 * certificate files, loads the mesh, answers /healthz/ready and serves Istio
 * metrics; exits non-zero with the reason when its certificate is missing or
 * its state dir holds a corrupt manifest sequence.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { REPO_ROOT } from '../helpers/cli.js';
import { closedPort } from '../helpers/hbone-harness.js';
import { startRedis } from '../helpers/redis.js';
import { makeTestCa, workload } from '../helpers/test-pki.js';

const BIN = path.join(REPO_ROOT, 'bin/ambit-waypoint.js');

/** A directory with a reviews-waypoint certificate, key and roots, and the arguments naming them and a state dir in it. */
async function waypointFiles(t: ExecutionContext): Promise<{ dir: string; args: string[] }> {
  const pki = await makeTestCa();
  const id = await pki.issue(workload('default', 'reviews-waypoint'));
  const dir = mkdtempSync(path.join(tmpdir(), 'ambit-wp-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, pem] of Object.entries({ cert: id.cert, key: id.key, ca: String(id.ca) })) writeFileSync(path.join(dir, `${name}.pem`), pem);
  const file = (name: string) => path.join(dir, name);
  return {
    dir,
    args: [
      '-s',
      'reviews.default.svc.cluster.local',
      '--cert',
      file('cert.pem'),
      '--key',
      file('key.pem'),
      '--ca',
      file('ca.pem'),
      '--state-dir',
      file('state'),
    ],
  };
}

test('ambit-waypoint serves health and metrics once it has the store snapshot, and drains on SIGTERM', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const { args } = await waypointFiles(t);
  const [hbone, metrics] = [await closedPort(), await closedPort()];
  const child = spawn(process.execPath, [BIN, ...args, '--listen', `127.0.0.1:${hbone}`, '--metrics', `127.0.0.1:${metrics}`, '--redis', redis.url], {
    stdio: 'ignore',
  });
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
  // Revocation refusals, under ambitd's names.
  t.true(text.includes('# TYPE ambit_tls_peer_revoked_total counter'));
  t.true(text.includes('# TYPE ambit_tls_handshake_failures_total counter'));
  child.kill('SIGTERM');
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  t.is(code, 0);
});

test('ambit-waypoint with a corrupt manifest-sequence file exits 1 naming it, instead of accepting any replayed manifest', async (t) => {
  const { dir, args } = await waypointFiles(t);
  mkdirSync(path.join(dir, 'state'));
  writeFileSync(path.join(dir, 'state', 'manifest-sequence'), 'not a number\n');
  // Nothing listens on loopback port 9: the state file is refused before the store is needed.
  const r = spawnSync(process.execPath, [BIN, ...args, '--redis', 'redis://127.0.0.1:9'], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  t.is(r.status, 1);
  t.regex(r.stdout + r.stderr, /EIDENTITY_SEQUENCE_CORRUPT/);
  t.regex(r.stdout + r.stderr, /state\/manifest-sequence/);
});

test('ambit-waypoint without its certificate exits 1 and says which file', (t) => {
  const r = spawnSync(process.execPath, [BIN, '-s', 'reviews.default.svc.cluster.local', '--cert', '/nonexistent/cert.pem', '--key', '/x', '--ca', '/x'], {
    encoding: 'utf8',
  });
  t.is(r.status, 1);
  t.regex(r.stdout + r.stderr, /\/nonexistent\/cert\.pem/);
});
