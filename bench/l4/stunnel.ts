/**
 * The stunnel4 mTLS pair bench/l4.ts compares ambit against: a client
 * stunnel on host a (the app dials it on loopback) and a server stunnel on
 * host b in front of the sink, with a CA and two leaf certificates made for
 * the run. TLS 1.3 only, chain verified both ways, as HBONE does.
 */
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Topology } from '../../test/helpers/netns.js';
import { makeTestCa, workload } from '../../test/helpers/test-pki.js';

export const STUNNEL_HINT = 'stunnel4 is not installed: apt-get install -y stunnel4';

export function haveStunnel(): boolean {
  return spawnSync('stunnel4', ['-version'], { stdio: 'ignore' }).error === undefined;
}

export interface StunnelPair {
  /** Where the client on host a dials. */
  host: string;
  port: number;
  /** The two stunnel processes, for CPU accounting. */
  processes: Array<{ host: string; pid: number | undefined }>;
}

/** Starts both ends in their hosts' namespaces; they die with the topology. */
export async function startStunnelPair(topo: Topology, dir: string, sink: { host: string; port: number }, serverPort: number): Promise<StunnelPair> {
  const pki = await makeTestCa();
  const server = await pki.issue(workload('bench', 'stunnel-server'));
  const client = await pki.issue(workload('bench', 'stunnel-client'));
  const file = (name: string): string => join(dir, name);
  await writeFile(file('ca.pem'), pki.rootPem);
  await writeFile(file('s.key'), String(server.key), { mode: 0o600 });
  await writeFile(file('s.crt'), String(server.cert));
  await writeFile(file('c.key'), String(client.key), { mode: 0o600 });
  await writeFile(file('c.crt'), String(client.cert));
  const b = topo.host('b');
  const pair = { host: '127.0.0.1', port: serverPort + 1 };
  const common = (role: string): string =>
    `foreground = yes\npid =\ndebug = 3\n[${role}]\nCAfile = ${file('ca.pem')}\nverifyChain = yes\nsslVersionMin = TLSv1.3\n`;
  await writeFile(
    file('server.conf'),
    `${common('server')}accept = ${b.address}:${serverPort}\nconnect = ${sink.host}:${sink.port}\ncert = ${file('s.crt')}\nkey = ${file('s.key')}\n`,
  );
  await writeFile(
    file('client.conf'),
    `${common('client')}client = yes\naccept = ${pair.host}:${pair.port}\nconnect = ${b.address}:${serverPort}\ncert = ${file('c.crt')}\nkey = ${file('c.key')}\n`,
  );
  // `ip netns exec` execs in place: the child's pid is stunnel's.
  const processes = [
    { host: 'a', pid: topo.spawn('a', 'stunnel4', [file('client.conf')], { stdio: 'ignore' }).pid },
    { host: 'b', pid: topo.spawn('b', 'stunnel4', [file('server.conf')], { stdio: 'ignore' }).pid },
  ];
  return { ...pair, processes };
}
