/**
 * Bodies arrive as the bytes that were sent, under concurrency, through the
 * waypoint and a peer daemon (issue 17's "no regression" check). A full suite
 * once returned `W\ufffd(\0\0` for a 6-byte body: the first bytes replaced as a
 * freed allocation's are (core/hbone/write-retention.ts). So every request and
 * response body is compared byte for byte: each request derives its bodies
 * from its index (empty to 256 KiB, text and binary, answered as a string or a
 * Buffer, to an HTTP/1.1 and an h2c endpoint), the endpoint checks the request
 * body it got, the client the response. The run is a process of its own with a
 * 1 MiB young generation (test/fixtures/body-integrity.ts says why).
 *
 * AMBIT_STRESS_REQUESTS sets the count: the suite runs a bounded 8,000;
 * `npm run stress:bodies` runs 100,000.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';

const REQUESTS = Number(process.env.AMBIT_STRESS_REQUESTS ?? 8000);
const RUN = join(fileURLToPath(new URL('.', import.meta.url)), '../fixtures/body-integrity.js');

test(`${REQUESTS} request and response bodies arrive byte for byte through the waypoint, 32 at a time, to HTTP/1.1 and h2c endpoints`, async (t) => {
  const limitMs = Math.max(120_000, REQUESTS * 25);
  t.timeout(limitMs + 10_000);
  const out = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, ['--max-semi-space-size=1', RUN, String(REQUESTS)], { timeout: limitMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
    ),
  );
  const { bytes, failures } = JSON.parse(out) as { bytes: number; failures: string[] };
  t.log(`${REQUESTS} exchanges, ${(bytes / 2 ** 20).toFixed(1)} MiB of response bodies compared, ${failures.length} differed`);
  t.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${REQUESTS} bodies differed`);
});
