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
import { makeTestCa, workload, type TestCa } from '../helpers/test-pki.js';
import { EMPTY_BODY, signManifest } from '../../core/identity/manifest/format.js';
import { issueOperator } from '../../core/identity/operator.js';
import { Store } from '../../core/store/index.js';

const BIN = path.join(REPO_ROOT, 'bin/ambit-waypoint.js');

/** A directory with a reviews-waypoint certificate, key and roots, and the arguments naming them and a state dir in it. */
async function waypointFiles(t: ExecutionContext): Promise<{ dir: string; args: string[]; pki: TestCa }> {
  const pki = await makeTestCa();
  const id = await pki.issue(workload('default', 'reviews-waypoint'));
  const dir = mkdtempSync(path.join(tmpdir(), 'ambit-wp-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, pem] of Object.entries({ cert: id.cert, key: id.key, ca: String(id.ca) })) writeFileSync(path.join(dir, `${name}.pem`), pem);
  const file = (name: string) => path.join(dir, name);
  return {
    dir,
    pki,
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
  for (const h of ['istio_request_duration_milliseconds', 'istio_request_bytes', 'istio_response_bytes']) t.true(text.includes(`# TYPE ${h} histogram`), h);
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

test('a restarted ambit-waypoint refuses a signed manifest older than the one its state dir recorded, says why and exits', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const { dir, args, pki } = await waypointFiles(t);
  // The store holds an operator-signed manifest of sequence 3; the waypoint had accepted 7 before it stopped.
  const operator = await issueOperator(pki.ca, path.join(dir, 'operator'));
  const store = await Store.connect({ url: redis.url });
  t.teardown(() => store.close());
  await store.writeManifest({ expect: 0, sequence: 1, record: signManifest(operator, EMPTY_BODY, 3) });
  mkdirSync(path.join(dir, 'state'));
  /** Starts the waypoint on a state dir that had accepted `stored`; resolves with its exit code and output once it exits (SIGTERM once it serves). */
  const run = async (stored: number): Promise<{ code: number | null; out: string }> => {
    writeFileSync(path.join(dir, 'state', 'manifest-sequence'), `${stored}\n`);
    // At info, for its "waypoint serving" line (the tests run at warn).
    const child = spawn(process.execPath, [BIN, ...args, '--listen', '127.0.0.1:0', '--metrics', '127.0.0.1:0', '--redis', redis.url, '--drain-time', '0'], {
      env: { ...process.env, AMBIT_LOG_LEVEL: 'info' },
    });
    // Neither exited nor serving by then: the assertions below fail on what it said.
    const stuck = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => clearTimeout(stuck));
    t.teardown(() => void child.kill('SIGKILL'));
    let out = '';
    let signalled = false;
    const collect = (chunk: Buffer) => {
      out += String(chunk);
      // Once: a second SIGTERM is not a drain but the default, death.
      if (!signalled && /waypoint serving/.test(out)) signalled = child.kill('SIGTERM');
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
    return { code, out };
  };
  const replayed = await run(7);
  t.is(replayed.code, 1);
  t.regex(replayed.out, /EIDENTITY_MANIFEST_INVALID/);
  t.regex(replayed.out, /manifest sequence 3 is below the accepted 7 \(a replayed manifest\)/);
  // The same store, after a run that had accepted 3: the current manifest is taken, and it serves (draining is the first test's).
  const current = await run(3);
  t.regex(current.out, /waypoint serving/);
  t.notRegex(current.out, /EIDENTITY_MANIFEST_INVALID/);
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
