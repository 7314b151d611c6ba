/**
 * `ambit analyze` on the demo-like Bookinfo mesh: each file of
 * test/fixtures/analyze/ seeds one mistake and must yield exactly its code
 * (with the file and line), every registered EANALYZE_ code has a fixture, and
 * Istio's own Bookinfo samples, each applied with destination-rule-all as the
 * Istio task does, yield only the warnings the demo mesh warrants.
 */
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadFiles } from '../../core/config/index.js';
import { analyze } from '../../cli/analyze/analyze.js';
import type { Finding } from '../../cli/analyze/findings.js';
import { renderFindings } from '../../cli/analyze/render.js';
import { readSources } from '../../cli/inputs.js';
import { liveMesh } from '../../cli/live-mesh.js';
import { ERROR_CODES } from '../../core/error-codes.js';
import type { Resource } from '../../core/config/resource.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { istioFixtures, MISSING_FIXTURES } from '../helpers/fixtures.js';
import { bookinfoSnapshot } from './support/bookinfo-mesh.js';
import { NODES } from './support/daemon-fixtures.js';

const FIXTURES = join(REPO_ROOT, 'test/fixtures/analyze');
/** The demo's waypoints (examples/bookinfo): reviews and ratings. */
const DEMO = { waypoints: ['reviews', 'ratings'] };

async function findingsFor(files: string[], stored: Resource[] = [], namespace?: string): Promise<Finding[]> {
  const sources = files.length > 0 ? await readSources(files, namespace ?? 'default') : [];
  const snapshot = bookinfoSnapshot([...stored, ...sources.map((s) => s.resource)], DEMO);
  const mesh = await liveMesh(snapshot, NODES, { trustDomain: 'cluster.local', domain: 'cluster.local' });
  return analyze({ mesh, files: sources, ...(namespace !== undefined ? { namespace } : {}) });
}

const codeOf = (file: string) =>
  `EANALYZE_${file
    .replace(/\.yaml$/, '')
    .replaceAll('-', '_')
    .toUpperCase()}`;
const fixtureFiles = readdirSync(FIXTURES).filter((f) => f.endsWith('.yaml'));

test('every EANALYZE_ code has a fixture, and every fixture names a registered code', (t) => {
  const registered = Object.keys(ERROR_CODES).filter((c) => c.startsWith('EANALYZE_'));
  t.deepEqual(fixtureFiles.map(codeOf).sort(), registered.sort());
});

for (const file of fixtureFiles.filter((f) => f !== 'invalid-stored.yaml')) {
  test(`${file}: found as ${codeOf(file)}, and nothing else`, async (t) => {
    const path = join(FIXTURES, file);
    const findings = await findingsFor([path], [], file === 'namespace-mismatch.yaml' ? 'default' : undefined);
    t.deepEqual([...new Set(findings.map((f) => f.code))], [codeOf(file)], renderFindings(findings));
    for (const f of findings) {
      t.is(f.location?.file, path, 'the finding points at the file');
      t.true((f.location?.line ?? 0) > 0);
      t.true(f.fix.length > 0);
      t.is(f.severity === 'Error' ? 'Error' : 'Warning', f.severity);
    }
  });
}

test('invalid-stored.yaml: a stored resource its schema refuses is found as EANALYZE_INVALID_STORED', async (t) => {
  const raw = parse(readFileSync(join(FIXTURES, 'invalid-stored.yaml'), 'utf8')) as Resource;
  const findings = await findingsFor([], [raw]);
  t.deepEqual(
    findings.map((f) => [f.code, f.severity, `${f.resource.kind}/${f.resource.namespace}/${f.resource.name}`]),
    [['EANALYZE_INVALID_STORED', 'Error', 'VirtualService/default/reviews']],
    renderFindings(findings),
  );
  t.regex(findings[0]!.message, /htpp/);
});

test('a stored security resource that fails validation is found, and the rest is still analyzed without it', async (t) => {
  const raw = parse(readFileSync(join(FIXTURES, 'invalid-stored.yaml'), 'utf8')) as Resource;
  const policy: Resource = {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name: 'broken', namespace: 'default' },
    spec: { action: 'ALLOW', rules: [{ from: [{ source: { principal: ['typo-for-principals'] } }] }] },
  };
  const findings = await findingsFor([join(FIXTURES, 'no-waypoint.yaml')], [raw, policy]);
  t.deepEqual(
    findings.map((f) => `${f.code} ${f.resource.kind}/${f.resource.name}`),
    ['EANALYZE_INVALID_STORED AuthorizationPolicy/broken', 'EANALYZE_INVALID_STORED VirtualService/reviews', 'EANALYZE_NO_WAYPOINT VirtualService/details'],
    renderFindings(findings),
  );
  t.regex(findings[0]!.message, /refuses the whole snapshot/);
});

test('applied and to-be-applied together, sorted errors first; -n keeps findings to its namespace', async (t) => {
  // Files whose resources do not share a name (apply refuses duplicates across files).
  const independent = ['no-waypoint.yaml', 'principal-unknown.yaml', 'target-no-waypoint.yaml', 'host-not-found.yaml'].map((f) => join(FIXTURES, f));
  const all = await findingsFor(independent);
  t.deepEqual([...new Set(all.map((f) => f.code))].sort(), independent.map((f) => codeOf(f.slice(f.lastIndexOf('/') + 1))).sort());
  t.is(all[0]!.severity, 'Error');
  // As applied (no file): the same findings, without file:line.
  const stored = (await readSources(independent, 'default')).map((s) => s.resource);
  const applied = await findingsFor([], stored);
  t.deepEqual(
    applied.map((f) => f.code),
    all.map((f) => f.code),
  );
  t.true(applied.every((f) => f.location === undefined));
  t.deepEqual(await findingsFor([], stored, 'prod'), [], 'nothing in namespace prod');
});

const bookinfo = istioFixtures('bookinfo');
if (!bookinfo) {
  test.skip(`Bookinfo samples: ${MISSING_FIXTURES}`, (t) => t.log(`SKIPPED: ${MISSING_FIXTURES}`));
} else {
  /**
   * What the demo mesh warrants, and nothing more: details and productpage have no
   * waypoint, so their VirtualServices do nothing; details has no v2 endpoint.
   */
  const WARRANTED: Record<string, string[]> = {
    'virtual-service-all-v1.yaml': ['EANALYZE_NO_WAYPOINT VirtualService/default/details', 'EANALYZE_NO_WAYPOINT VirtualService/default/productpage'],
    'virtual-service-details-v2.yaml': ['EANALYZE_NO_WAYPOINT VirtualService/default/details', 'EANALYZE_SUBSET_NO_ENDPOINTS VirtualService/default/details'],
    'fault-injection-details-v1.yaml': ['EANALYZE_NO_WAYPOINT VirtualService/default/details'],
  };
  const all = bookinfo.find((f) => f.endsWith('destination-rule-all.yaml'))!;
  for (const file of bookinfo) {
    const name = file.slice(file.lastIndexOf('/') + 1);
    test(`Bookinfo ${name} with destination-rule-all on the demo mesh: ${WARRANTED[name]?.join(', ') ?? 'nothing'}`, async (t) => {
      // As the Istio task runs it: destination-rule-all applied first, then the sample checked before it is applied.
      const findings = await findingsFor([file], file === all ? [] : await loadFiles([all]));
      t.deepEqual(
        findings.map((f) => `${f.code} ${f.resource.kind}/${f.resource.namespace}/${f.resource.name}`).sort(),
        WARRANTED[name] ?? [],
        renderFindings(findings),
      );
      t.false(
        findings.some((f) => f.severity === 'Error'),
        'no errors',
      );
    });
  }
}
