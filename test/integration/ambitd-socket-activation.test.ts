/**
 * ambitd handed sockets it must not use refuses to start, before it touches
 * anything (no identity directory, no store connection): a socket on another
 * port than ambitd.yaml says (a unit written for other settings), and
 * socket-activation variables that are garbled. The sockets come from
 * systemd-socket-activate, on loopback; no netns or Redis needed, because the
 * refusal comes first.
 */
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/cli.js';

const AMBITD = join(REPO_ROOT, 'bin/ambitd.js');

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A settings file with ports.outbound at `outbound`, its identity directory (not created), and the flags that keep ambitd off any real store. */
function settings(t: ExecutionContext, outbound: number): { file: string; identity: string; args: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'ambit-sockact-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const identity = join(dir, 'identity');
  const file = join(dir, 'ambitd.yaml');
  writeFileSync(file, `node: {name: vm-1, address: 127.0.0.1}\nidentity: {dir: ${identity}}\nports: {outbound: ${outbound}}\n`);
  return { file, identity, args: [AMBITD, '--config', file, '--redis', 'redis://127.0.0.1:1'] };
}

/** `kick`: where to connect (or send a datagram) once systemd-socket-activate listens. */
function run(cmd: string, args: string[], kick?: { port: number; udp?: boolean }): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, AMBIT_LOG_LEVEL: 'silent' } });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    // systemd-socket-activate starts the daemon on the first connection, as systemd would.
    if (!kick || !/Listening on /.test(d.toString())) return;
    if (!kick.udp) connect(kick.port, '127.0.0.1').on('error', () => undefined);
    else {
      const udp = createSocket('udp4');
      udp.send('x', kick.port, '127.0.0.1', () => udp.close());
    }
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    }),
  );
}

test('a socket on another port than ambitd.yaml says stops ambitd at once, saying which and how to fix the units', async (t) => {
  const [configured, passed] = [await freePort(), await freePort()];
  const s = settings(t, configured);
  const r = await run('systemd-socket-activate', [`--listen=127.0.0.1:${passed}`, '--fdname=outbound', process.execPath, ...s.args], { port: passed });
  t.is(r.code, 1, r.stderr);
  t.true(
    r.stderr.includes(
      `ambitd: the socket systemd passed as fd 3 (outbound) is tcp 127.0.0.1:${passed}, but ${s.file} has ports.outbound: ${configured}: re-run ambit install (it writes ambitd-outbound.socket from ${s.file}), then systemctl daemon-reload && systemctl restart ambitd-outbound.socket ambitd\n`,
    ),
    r.stderr,
  );
  t.false(existsSync(s.identity), 'refused before the identity directory was made');
});

test('a UDP socket named for a TCP listener is refused the same way', async (t) => {
  const port = await freePort();
  const s = settings(t, 15001);
  const r = await run('systemd-socket-activate', ['--datagram', `--listen=127.0.0.1:${port}`, '--fdname=inbound', process.execPath, ...s.args], {
    port,
    udp: true,
  });
  t.is(r.code, 1, r.stderr);
  t.regex(
    r.stderr,
    new RegExp(
      `^ambitd: the socket systemd passed as fd 3 \\(inbound\\) is udp 127\\.0\\.0\\.1:${port}, but inbound takes tcp only: re-run ambit install`,
      'm',
    ),
  );
  t.false(existsSync(s.identity));
});

test('garbled LISTEN_* variables for this process stop ambitd with ELISTEN_FDS', async (t) => {
  const s = settings(t, 15001);
  const r = await run('sh', ['-c', 'LISTEN_PID=$$ LISTEN_FDS=2 LISTEN_FDNAMES=outbound exec "$0" "$@"', process.execPath, ...s.args]);
  t.is(r.code, 1, r.stderr);
  t.regex(
    r.stderr,
    /^ambitd: LISTEN_FDNAMES names 1 descriptors \("outbound"\) but LISTEN_FDS says 2: the socket-activation variables are garbled; start ambitd from its units/m,
  );
  t.false(existsSync(s.identity));
});
