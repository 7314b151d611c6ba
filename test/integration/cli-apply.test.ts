import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { ambit } from '../helpers/cli.js';
import { istioFixtures, MISSING_FIXTURES } from '../helpers/fixtures.js';

let redis: RedisServer;
test.before(async () => {
  redis = await startRedis();
});
test.after.always(async () => {
  await redis?.stop();
});

const run = (args: string[], stdin?: string) => ambit(args, { redis: redis.url, ...(stdin !== undefined ? { stdin } : {}) });

interface Doc {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec: unknown;
}

const bookinfo = istioFixtures('bookinfo');
if (!bookinfo) {
  test.skip(`Bookinfo round trip: ${MISSING_FIXTURES}`, () => {});
} else {
  for (const file of bookinfo) {
    test.serial(`${basename(file)} applies unmodified and round-trips through get -o yaml`, async (t) => {
      const applied = await run(['apply', '-f', file]);
      t.is(applied.code, 0, applied.stderr);
      const docs = parseAllDocuments(readFileSync(file, 'utf8'))
        .map((d) => d.toJS() as Doc | null)
        .filter((d): d is Doc => d !== null);
      for (const doc of docs) {
        const got = await run(['get', doc.kind, doc.metadata.name, '-n', doc.metadata.namespace ?? 'default', '-o', 'yaml']);
        t.is(got.code, 0, got.stderr);
        const back = parseAllDocuments(got.stdout).map((d) => d.toJS() as Doc);
        t.is(back.length, 1);
        t.deepEqual(back[0]!.spec, doc.spec, `${doc.kind} ${doc.metadata.name}: spec differs after the round trip`);
        // What get prints applies again, and changes nothing.
        const again = await run(['apply', '-f', '-'], got.stdout);
        t.is(again.code, 0, again.stderr);
        t.regex(again.stdout, /unchanged/);
      }
    });
  }
}

test.serial('a file with one bad document changes nothing in the store', async (t) => {
  const good =
    'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: atomic-good}\nspec:\n  hosts: [atomic]\n  http:\n  - route:\n    - destination: {host: atomic}\n';
  const bad =
    'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: atomic-bad}\nspec:\n  hosts: [atomic]\n  http:\n  - route:\n    - destination: {host: atomic}\n      weight: 80\n    - destination: {host: atomic2}\n      weight: 10\n';
  const result = await run(['apply', '-f', '-'], `${good}---\n${bad}`);
  t.not(result.code, 0);
  t.regex(result.stderr, /<stdin>:\d+: VirtualService default\/atomic-bad: spec\.http\[0\]\.route/);
  const get = await run(['get', 'vs', 'atomic-good']);
  t.is(get.code, 1);
  t.regex(get.stderr, /not found/);
});

test.serial('60,000 documents in one file are refused at once with the limit and what to do; nothing is stored', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ambit-apply-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'huge.yaml');
  const doc = (i: number) => `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: huge-${i}}\nspec: {host: h${i}}\n`;
  writeFileSync(file, Array.from({ length: 60_000 }, (_, i) => doc(i)).join('---\n'));
  const result = await run(['apply', '-f', file]);
  t.is(result.code, 2, 'bad input (exit 2), as for any other config error');
  t.is(
    result.stderr,
    `error: ${file}: more than 10000 documents, the most one apply takes; split them into files of at most 10000 documents and apply those one after another\n`,
  );
  t.is((await run(['get', 'dr', 'huge-0'])).code, 1, 'nothing stored');
  const listed = await run(['get', 'dr', '-o', 'json']);
  t.notRegex(listed.stdout, /huge-/);
});

test.serial('a bad document in a second file rejects the first file too', async (t) => {
  const result = await run(
    ['apply', '-f', '-', '-f', '/nonexistent/ambit.yaml'],
    'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: two-files}\nspec: {host: x}\n',
  );
  t.not(result.code, 0);
  t.regex(result.stderr, /nonexistent\/ambit\.yaml: cannot read/);
  t.is((await run(['get', 'dr', 'two-files'])).code, 1);
});

test.serial('unknown fields are refused with file, line, resource and field', async (t) => {
  const result = await run(
    ['apply', '-f', '-'],
    'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: typo}\nspec:\n  host: x\n  trafficPolicy:\n    loadBalancr: {simple: RANDOM}\n',
  );
  t.is(result.code, 2, 'a document that does not validate is bad input');
  t.regex(result.stderr, /^error: <stdin>:7: DestinationRule default\/typo: spec\.trafficPolicy\.loadBalancr: /);
  t.is(result.stderr.trim().split('\n').length, 1, 'one line');
});

test.serial('delete -f removes what apply -f created; a missing name deletes nothing', async (t) => {
  const doc = 'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: del-me, namespace: shop}\nspec: {}\n';
  t.is((await run(['apply', '-f', '-'], doc)).code, 0);
  const partial = await run(['delete', 'ap', 'del-me', 'not-there', '-n', 'shop']);
  t.is(partial.code, 1);
  t.regex(partial.stderr, /not-there/);
  t.is((await run(['get', 'ap', 'del-me', '-n', 'shop'])).code, 0, 'still there after a failed delete');
  const deleted = await run(['delete', '-f', '-'], doc);
  t.is(deleted.code, 0, deleted.stderr);
  t.regex(deleted.stdout, /authorizationpolicy\.security\.istio\.io\/del-me deleted/);
  t.is((await run(['get', 'ap', 'del-me', '-n', 'shop'])).code, 1);
});

test.serial('get lists in a table, in JSON, across namespaces', async (t) => {
  await run(
    ['apply', '-f', '-'],
    'apiVersion: networking.istio.io/v1beta1\nkind: ServiceEntry\nmetadata: {name: ext, namespace: edge}\nspec:\n  hosts: [api.example.com]\n  location: MESH_EXTERNAL\n  resolution: DNS\n  ports: [{number: 443, name: https, protocol: TLS}]\n',
  );
  const table = await run(['get', 'se', '-A']);
  t.is(table.code, 0, table.stderr);
  t.regex(table.stdout, /^NAMESPACE\s+NAME\s+HOSTS\s+LOCATION\s+RESOLUTION\s+AGE\n/);
  t.regex(table.stdout, /edge\s+ext\s+api\.example\.com\s+MESH_EXTERNAL\s+DNS\s+\d+s/);
  const json = JSON.parse((await run(['get', 'se', '-n', 'edge', '-o', 'json'])).stdout) as { kind: string; items: Doc[] };
  t.is(json.kind, 'List');
  t.is(json.items[0]!.metadata.name, basename('ext'));
  t.regex((await run(['get', 'se'])).stdout, /No resources found in default namespace/);
});

test.serial('get KIND prints a List (get KIND NAME the object), and apply -f takes the List back', async (t) => {
  const vs = (name: string) =>
    `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: ${name}, namespace: rt}\nspec:\n  hosts: [${name}]\n  http:\n  - route:\n    - destination: {host: ${name}}\n`;
  t.is((await run(['apply', '-f', '-'], `${vs('one')}---\n${vs('two')}`)).code, 0);
  const listed = await run(['get', 'vs', '-n', 'rt', '-o', 'json']);
  const list = JSON.parse(listed.stdout) as { apiVersion: string; kind: string; items: Doc[] };
  t.like(list, { apiVersion: 'v1', kind: 'List' });
  t.deepEqual(
    list.items.map((d) => [d.kind, d.metadata.name]),
    [
      ['VirtualService', 'one'],
      ['VirtualService', 'two'],
    ],
  );
  const one = JSON.parse((await run(['get', 'vs', 'one', '-n', 'rt', '-o', 'json'])).stdout) as Doc;
  t.like(one, { kind: 'VirtualService', metadata: { name: 'one' } });

  t.is((await run(['delete', 'vs', 'one', 'two', '-n', 'rt'])).code, 0);
  const back = await run(['apply', '-f', '-'], listed.stdout);
  t.is(back.code, 0, back.stderr);
  t.is(back.stdout, 'virtualservice.networking.istio.io/one created\nvirtualservice.networking.istio.io/two created\n');
  const yaml = await run(['get', 'vs', '-n', 'rt', '-o', 'yaml']);
  t.regex(yaml.stdout, /^apiVersion: v1\nkind: List\nitems:\n/);
  const again = await run(['apply', '-f', '-'], yaml.stdout);
  t.is(again.code, 0, again.stderr);
  t.regex(again.stdout, /one unchanged\n.*two unchanged\n$/s);

  // An item that does not validate is located inside the List, and nothing of the List is applied.
  const bad =
    'apiVersion: v1\nkind: List\nitems:\n- apiVersion: networking.istio.io/v1\n  kind: DestinationRule\n  metadata: {name: three, namespace: rt}\n  spec: {host: x, bogus: 1}\n';
  const refused = await run(['apply', '-f', '-'], bad);
  t.is(refused.code, 2);
  t.regex(refused.stderr, /^error: <stdin>:7: DestinationRule rt\/three: spec\.bogus: /);
  const notList = await run(['apply', '-f', '-'], 'apiVersion: v2\nkind: List\nitems: {}\n');
  t.is(notList.code, 2);
  t.regex(notList.stderr, /<stdin>:1: List: apiVersion: a List is apiVersion: v1/);
  t.regex(notList.stderr, /<stdin>:3: List: items: a List needs items/);
  t.is((await run(['delete', 'vs', 'one', 'two', '-n', 'rt'])).code, 0);
});

test.serial('get all prints one table per kind, each with its own header, and no blank line inside a table', async (t) => {
  const docs = [
    'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: web, namespace: every}\nspec:\n  hosts: [web]\n  http:\n  - route:\n    - destination: {host: web}\n',
    'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: api, namespace: every}\nspec:\n  hosts: [api]\n  http:\n  - route:\n    - destination: {host: api}\n',
    'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: web, namespace: every}\nspec:\n  host: web\n  subsets: [{name: v1, labels: {version: v1}}]\n',
    'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: strict, namespace: every}\nspec: {mtls: {mode: STRICT}}\n',
  ];
  t.is((await run(['apply', '-f', '-'], docs.join('---\n'))).code, 0);
  const r = await run(['get', 'all', '-n', 'every']);
  t.is(r.code, 0, r.stderr);
  const tables = r.stdout.trimEnd().split('\n\n');
  t.is(tables.length, 3, r.stdout);
  const [vs, dr, pa] = tables.map((table) => table.split('\n'));
  t.regex(vs![0]!, /^NAMESPACE\s+NAME\s+HOSTS\s+AGE$/);
  t.deepEqual(
    vs!.slice(1).map((l) => l.split(/\s+/).slice(0, 3)),
    [
      ['every', 'virtualservice/api', 'api'],
      ['every', 'virtualservice/web', 'web'],
    ],
  );
  t.regex(dr![0]!, /^NAMESPACE\s+NAME\s+HOST\s+SUBSETS\s+AGE$/);
  t.regex(dr![1]!, /^every\s+destinationrule\/web\s+web\s+v1\s+\d+s$/);
  t.regex(pa![0]!, /^NAMESPACE\s+NAME\s+MODE\s+AGE$/);
  t.regex(pa![1]!, /^every\s+peerauthentication\/strict\s+STRICT\s+\d+s$/);
  for (const table of tables) {
    const lines = table.split('\n');
    // Every cell starts where its header does.
    const starts = [...lines[0]!.matchAll(/\S+/g)].map((m) => m.index);
    for (const line of lines.slice(1))
      t.deepEqual(
        [...line.matchAll(/\S+/g)].map((m) => m.index),
        starts,
        table,
      );
  }
  t.is((await run(['delete', '-f', '-'], docs.join('---\n'))).code, 0);
});

test.serial('bad flags are usage errors with exit code 2', async (t) => {
  const r = await run(['get', 'frobnicators']);
  t.is(r.code, 2);
  t.regex(r.stderr, /unknown kind "frobnicators"/);
  const o = await run(['get', 'vs', '-o', 'xml']);
  t.is(o.code, 2);
});

test.serial('an AuthorizationPolicy the daemons could not compile is refused at apply', async (t) => {
  const doc =
    'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: tpl}\nspec:\n  rules:\n  - to:\n    - operation:\n        paths: ["/a/{**}/b/{**}"]\n';
  const r = await run(['apply', '-f', '-'], doc);
  t.is(r.code, 2);
  t.regex(r.stderr, /<stdin>:1: AuthorizationPolicy default\/tpl: rules\[0\]\.to\[0\]\.operation: \{\*\*\} must be the last operator/);
  t.is((await run(['get', 'ap', 'tpl'])).code, 1);
});

test.serial('a VirtualService regex RE2 cannot run (lookahead, backreference) is refused at apply, naming the field', async (t) => {
  const vs = (name: string, regex: string) =>
    `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: ${name}}\nspec:\n  hosts: [re2]\n  http:\n  - match:\n    - uri:\n        regex: '${regex}'\n    route:\n    - destination: {host: re2}\n`;
  const look = await run(['apply', '-f', '-'], vs('re2-look', '/(?!admin).*'));
  t.is(look.code, 2);
  t.regex(
    look.stderr,
    /<stdin>:9: VirtualService default\/re2-look: spec\.http\[0\]\.match\[0\]\.uri\.regex: invalid regular expression .*does not support lookahead/,
  );
  const back = await run(['apply', '-f', '-'], vs('re2-back', '/(a)\\1'));
  t.is(back.code, 2);
  t.regex(back.stderr, /<stdin>:9: VirtualService default\/re2-back: spec\.http\[0\]\.match\[0\]\.uri\.regex: .*does not support backreferences/);
  t.is((await run(['get', 'vs', 're2-look'])).code, 1);
  t.is((await run(['get', 'vs', 're2-back'])).code, 1);
  // The same route with a pattern RE2 has, even a nested quantifier, applies.
  const ok = await run(['apply', '-f', '-'], vs('re2-ok', '/(a+)+x'));
  t.is(ok.code, 0, ok.stderr);
  t.is((await run(['delete', 'vs', 're2-ok'])).code, 0);
});

const authz = istioFixtures('authz');
if (!authz) {
  test.skip(`Istio AuthorizationPolicy samples: ${MISSING_FIXTURES}`, () => {});
} else {
  test.serial('every Istio AuthorizationPolicy sample applies unmodified', async (t) => {
    for (const file of authz) {
      const r = await run(['apply', '-f', file]);
      t.is(r.code, 0, `${basename(file)}: ${r.stderr}`);
    }
  });
}

test.serial("examples/telemetry/telemetry.yaml applies; get and delete know Telemetry and MeshConfig by Istio's and kubectl's names", async (t) => {
  const applied = await run(['apply', '-f', 'examples/telemetry/telemetry.yaml']);
  t.is(applied.code, 0, applied.stderr);
  t.regex(applied.stdout, /meshconfig\.ambit\.dev\/default created/);
  t.regex(applied.stdout, /telemetry\.telemetry\.istio\.io\/reviews-quiet created/);
  const table = await run(['get', 'telemetries', '-A']);
  t.is(table.code, 0, table.stderr);
  t.regex(table.stdout, /^NAMESPACE\s+NAME\s+PROVIDERS\s+AGE\n/);
  t.regex(table.stdout, /default\s+trace-everything\s+otel,zipkin\s+\d+s/);
  t.regex((await run(['get', 'meshconfig', '-n', 'istio-system'])).stdout, /default\s+otel,zipkin\s+\d+s/);
  t.is((await run(['get', 'telemetry.telemetry.istio.io', 'mesh-default', '-n', 'istio-system', '-o', 'yaml'])).code, 0);
  const refused = await run(
    ['apply', '-f', '-'],
    'apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: bad}\nspec:\n  accessLogging:\n  - filter:\n      expression: request.path.startsWith("/api")\n',
  );
  t.is(refused.code, 2);
  t.regex(refused.stderr, /<stdin>:7: Telemetry default\/bad: spec\.accessLogging\[0\]\.filter\.expression: .*function call/);
  t.is((await run(['get', 'telemetry', 'bad'])).code, 1, 'nothing stored');
  const deleted = await run(['delete', '-f', 'examples/telemetry/telemetry.yaml']);
  t.is(deleted.code, 0, deleted.stderr);
  t.regex((await run(['get', 'telemetries', '-A'])).stdout, /No resources found/);
});
