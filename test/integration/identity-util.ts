/** A mesh for identity tests (not a test file itself): a CA dir, a published bundle, a signer. */
import type { ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { initCA } from '../../core/identity/ca-admin.js';
import { IdentityError, type SigningCA } from '../../core/identity/index.js';
import { startSigner, type RunningSigner, type SignerOptions } from '../../core/identity/signer/index.js';
import { createJoinToken } from '../../core/identity/store/index.js';
import { joinNode, type NodeIdentity } from '../../core/identity/client/index.js';
import { Store } from '../../core/store/index.js';
import { loadOperator, operatorDirFor, type Operator } from '../../core/identity/operator.js';
import { signedEnroll } from '../../core/identity/manifest/writer.js';

let n = 0;

/** The stable code of an identity error (undefined for anything else), for t.is. */
export const code = (err: unknown): string | undefined => (err instanceof IdentityError ? err.code : undefined);

export interface Mesh {
  store: Store;
  ca: SigningCA;
  caDir: string;
  tmp: string;
  signer: RunningSigner;
  /** The operator key `ca init` made beside the CA dir: enrollments are signed with it. */
  operator: Operator;
  /** Joins `node` with a fresh token, its state in tmp/<node>. */
  join(node: string): Promise<NodeIdentity>;
  enroll(node: string, service: string, serviceAccount?: string, namespace?: string): Promise<void>;
}

export async function mesh(t: ExecutionContext, url: string, signer: Partial<SignerOptions> = {}): Promise<Mesh> {
  const store = await Store.connect({ url, keyPrefix: `id${process.pid}-${++n}:` });
  const tmp = await mkdtemp(join(tmpdir(), 'ambit-identity-'));
  const caDir = join(tmp, 'ca');
  const { ca } = await initCA(store, caDir, {});
  const running = await startSigner({ store, caDir, ...signer });
  const operator = await loadOperator(operatorDirFor(caDir));
  t.teardown(async () => {
    await running.stop();
    await store.close();
    await rm(tmp, { recursive: true, force: true });
  });
  let port = 9000;
  return {
    store,
    ca,
    caDir,
    tmp,
    signer: running,
    operator,
    async join(node) {
      const { token } = await createJoinToken(store, { operator, ttlSeconds: 60, node });
      return joinNode({ store, token, nodeName: node, dir: join(tmp, node) });
    },
    async enroll(node, service, serviceAccount = service, namespace = 'default') {
      await signedEnroll(store, operator, { service, namespace, node, address: '10.0.0.1', port: port++, serviceAccount, labels: {} });
    },
  };
}

/** Runs the real openssl: `openssl verify -CAfile <roots> [-untrusted <chain>] <leaf>`. */
export async function opensslVerify(dir: string, rootsPem: string, chainPem: string): Promise<{ ok: boolean; output: string }> {
  const blocks = chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
  const roots = join(dir, `roots-${++n}.pem`);
  const leaf = join(dir, `leaf-${n}.pem`);
  const untrusted = join(dir, `chain-${n}.pem`);
  await writeFile(roots, rootsPem);
  await writeFile(leaf, blocks[0] ?? '');
  await writeFile(untrusted, blocks.slice(1).join('') || blocks[0] || '');
  try {
    const { stdout, stderr } = await promisify(execFile)('openssl', ['verify', '-CAfile', roots, '-untrusted', untrusted, leaf]);
    return { ok: true, output: stdout + stderr };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}
