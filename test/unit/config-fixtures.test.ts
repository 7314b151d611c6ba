import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { normalize, parseDocuments } from '../../core/config/index.js';

// Istio's own samples, unmodified, are the compatibility target (DESIGN.md).
const FIXTURES = path.resolve(process.cwd(), '../shared/fixtures/istio');
const SETS = ['bookinfo', 'authz'];

if (!existsSync(FIXTURES)) {
  test.skip(`Istio sample fixtures (needs ${FIXTURES}, absent in this checkout)`, (t) => {
    t.log(`SKIPPED: ${FIXTURES} not found; run from a checkout next to ../shared`);
  });
} else {
  for (const set of SETS) {
    const dir = path.join(FIXTURES, set);
    for (const name of readdirSync(dir)
      .filter((n) => /\.ya?ml$/.test(n))
      .sort()) {
      test(`${set}/${name} parses, validates and normalizes unmodified`, (t) => {
        const file = path.join(dir, name);
        const resources = parseDocuments(readFileSync(file, 'utf8'), file);
        t.true(resources.length > 0);
        for (const r of resources) {
          t.is<string, string>(normalize(r).kind, r.kind);
        }
      });
    }
  }

  test('bookinfo 80/20 becomes weighted, fully qualified destinations', (t) => {
    const [vs] = parseDocuments(readFileSync(path.join(FIXTURES, 'bookinfo/virtual-service-reviews-80-20.yaml'), 'utf8'), 'x.yaml');
    const typed = normalize(vs!, { domain: 'mesh.test' });
    if (typed.kind !== 'VirtualService') return t.fail();
    t.deepEqual(typed.spec.hosts, ['reviews.default.svc.mesh.test']);
    t.deepEqual(typed.spec.http?.[0]?.route, [
      { destination: { host: 'reviews.default.svc.mesh.test', subset: 'v1' }, weight: 80 },
      { destination: { host: 'reviews.default.svc.mesh.test', subset: 'v2' }, weight: 20 },
    ]);
  });

  test('the authz fixtures keep their namespace', (t) => {
    const [p] = parseDocuments(readFileSync(path.join(FIXTURES, 'authz/deny-empty-rule.yaml'), 'utf8'), 'x.yaml');
    t.is(p!.metadata.namespace, 'foo');
    t.deepEqual(p!.spec, { action: 'DENY', selector: { matchLabels: { app: 'httpbin', version: 'v1' } }, rules: [{}] });
  });
}
