/**
 * How long one workload certificate takes to issue, end to end: key and CSR
 * made on the "node", request through Redis, signer checks (node signature,
 * nonce, enrollment, CSR) and signs, answer back through Redis. Compared in
 * the same run with the raw in-process cost of verifyCsr + issueCertificate,
 * which is the floor any signer pays; the ratio is what the store round trips,
 * node authentication and key generation add.
 *
 *   npm run bench:identity            # prints the table and updates bench/RESULTS.md
 *   node dist/bench/identity-issue.js [--n 100] [--no-write]
 *
 * A private redis-server is started (test/helpers/redis.ts); the signer runs
 * in this process, as it does inside `ambitd --ca`.
 */
import { loadAverage, machine, RESULTS, writeSection } from './results-file.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedis } from '../test/helpers/redis.js';

// Before the library loads (its loggers read the level once): keep the bench output clean.
process.env.AMBIT_LOG_LEVEL ??= 'warn';

const args = process.argv.slice(2);
const N = Number(args[args.indexOf('--n') + 1] ?? 100) || 100;
const WARMUP = 10;
const WRITE = !args.includes('--no-write');
const HEADING = 'Workload certificate issuance';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function timeIt(n: number, fn: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < WARMUP; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out.sort((a, b) => a - b);
}

async function main(): Promise<void> {
  const [{ Store }, id, { startSigner }, { createJoinToken, publishBundle }, client] = await Promise.all([
    import('../core/store/index.js'),
    import('../core/identity/index.js'),
    import('../core/identity/signer/index.js'),
    import('../core/identity/store/index.js'),
    import('../core/identity/client/index.js'),
  ]);
  const redis = await startRedis();
  const tmp = await mkdtemp(join(tmpdir(), 'ambit-bench-identity-'));
  const store = await Store.connect({ url: redis.url });
  try {
    const ca = await id.createRootCA();
    await publishBundle(store, id.bundleOf(ca), ca);
    const signer = await startSigner({ store, ca, workloadCertTtlSeconds: 3600 });
    // Tokens and enrollments count only when an operator signed them.
    const { issueOperator } = await import('../core/identity/operator.js');
    const { signedEnroll } = await import('../core/identity/manifest/writer.js');
    const operator = await issueOperator(ca, join(tmp, 'operator'));
    const { token } = await createJoinToken(store, { operator, ttlSeconds: 60, node: 'bench' });
    const node = await client.joinNode({ store, token, nodeName: 'bench', dir: join(tmp, 'node') });
    await signedEnroll(store, operator, {
      service: 'reviews',
      namespace: 'default',
      node: 'bench',
      address: '10.0.0.1',
      port: 9080,
      serviceAccount: 'reviews',
      labels: {},
    });
    const spiffeId = 'spiffe://cluster.local/ns/default/sa/reviews';
    const signerClient = new client.SignerClient(store, 'bench');

    const e2e = await timeIt(N, () => client.requestWorkloadCert(signerClient, node, spiffeId));
    const csr = await id.createCsr(spiffeId, await id.generateKeyPair());
    const raw = await timeIt(N, async () => id.issueCertificate(ca, await id.verifyCsr(csr, { trustDomain: 'cluster.local' }), { ttlSeconds: 3600 }));
    const keyCsr = await timeIt(N, async () => id.createCsr(spiffeId, await id.generateKeyPair()));
    signerClient.close();
    await signer.stop();

    const row = (name: string, xs: number[]): string =>
      `| ${name} | ${N} | ${percentile(xs, 50).toFixed(2)} | ${percentile(xs, 99).toFixed(2)} | ${(percentile(xs, 50) / percentile(raw, 50)).toFixed(1)}x |`;
    const table = [
      '| path | n | median ms | p99 ms | median vs raw sign |',
      '|---|---:|---:|---:|---:|',
      row('end to end: key + CSR → store → signer (auth, nonce, enrollment, sign) → store → cert', e2e),
      row('raw in-process verifyCsr + issueCertificate (baseline)', raw),
      row('key generation + CSR on the node (part of end to end)', keyCsr),
    ].join('\n');
    process.stdout.write(`${table}\n`);
    if (WRITE) await writeResults(table);
  } finally {
    await store.close();
    await redis.stop();
    await rm(tmp, { recursive: true, force: true });
  }
}

async function writeResults(table: string): Promise<void> {
  const section = [
    `${new Date().toISOString().slice(0, 10)}, ${machine()}, load average ${loadAverage()} at the end (shared machine: other jobs ran too), ` +
      '`npm run bench:identity` (bench/identity-issue.ts; private redis-server on loopback, signer in the same process, ECDSA P-256).',
    '',
    table,
    '',
    'One request at a time; 10 warm-up requests first. The end-to-end time includes generating the',
    "workload key and CSR on the node, the node's request signature, two Redis round trips each way",
    "(RPUSH/BLPOP), and the signer's checks: chain and signature of the node, nonce SET NX, the",
    'enrollment lookup, and recording the issued certificate.',
    '',
  ].join('\n');
  await writeSection(HEADING, section);
  process.stderr.write(`updated ${RESULTS}\n`);
}

await main();
