/**
 * An ambitd in this process for integration tests (not a test file itself): node
 * a of an identity-util mesh, joined with an operator token, capture off, on a
 * checked block of free loopback ports, stopped at the test's end.
 */
import type { ExecutionContext } from 'ava';
import { join } from 'node:path';
import { parseDaemonConfig } from '../../core/config/daemon-settings.js';
import { createJoinToken } from '../../core/identity/store/index.js';
import { rootLogger } from '../../core/logging.js';
import { Daemon, type DaemonIdentity } from '../../daemon/daemon.js';
import { startDaemonIdentity } from '../../daemon/identity.js';
import { freePortBlock } from '../helpers/port-block.js';
import type { Mesh } from './identity-util.js';

export interface InProcessDaemon {
  daemon: Daemon;
  identity: DaemonIdentity;
  /** Its state directory (node key, bundle, manifest sequence). */
  dir: string;
  /** outbound; inbound (HBONE) is base + 1, admin base + 3, metrics base + 4. */
  base: number;
}

export async function startNodeA(t: ExecutionContext, m: Mesh, redisUrl: string): Promise<InProcessDaemon> {
  const base = await freePortBlock(5);
  const dir = join(m.tmp, 'a');
  const config = parseDaemonConfig(
    `node: {name: a, address: 127.0.0.1}\nstore: {url: "${redisUrl}", keyPrefix: "${m.store.options.keyPrefix!}"}\nidentity: {dir: ${dir}}\n` +
      `ports: {outbound: ${base}, inbound: ${base + 1}, dns: ${base + 2}, admin: ${base + 3}, metrics: ${base + 4}}\n` +
      'capture: {enabled: false}\ndns: {upstreams: ["127.0.0.1:9"]}\n',
    'test.yaml',
  );
  const log = rootLogger().child({ component: 'test-daemon' });
  const { token } = await createJoinToken(m.store, { operator: m.operator, ttlSeconds: 60, node: 'a' });
  const identity = await startDaemonIdentity({ store: m.store, dir, nodeName: 'a', token, log });
  const daemon = new Daemon(config, { store: m.store, identity }, log);
  t.teardown(() => daemon.stop());
  await daemon.start();
  return { daemon, identity, dir, base };
}
