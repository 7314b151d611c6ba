import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { parse, stringify } from 'yaml';
import { ConfigErrors } from '../../core/errors.js';
import { loadFiles, loadSources, parseDocuments, type Resource } from '../../core/config/index.js';
import { FILE, doc } from './support/config-docs.js';

const dirs: string[] = [];
function scratch(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'ambit-config-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}
test.after.always(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const vs = (name: string) => doc('VirtualService', name, [`hosts: [${name}]`]);

test('a directory contributes its yaml, yml and json files, sorted, not recursively', async (t) => {
  const json = JSON.stringify(parse(vs('a')));
  const dir = scratch({ 'b.yml': vs('b'), 'a.json': json, 'c.yaml': `${vs('c')}\n---\n`, 'notes.txt': 'x', 'sub/d.yaml': vs('d') });
  const names = (await loadFiles([dir])).map((r) => r.metadata.name);
  t.deepEqual(names, ['a', 'b', 'c']);
});

test('"-" reads the standard input text passed in, with files in argument order', async (t) => {
  const dir = scratch({ 'x.yaml': vs('x') });
  const sources = await loadSources([path.join(dir, 'x.yaml'), '-'], { stdin: vs('y') });
  t.deepEqual(
    sources.map((s) => [s.resource.metadata.name, path.basename(s.location.file), s.location.line]),
    [
      ['x', 'x.yaml', 1],
      ['y', '<stdin>', 1],
    ],
  );
});

test('the same resource in two files is an error naming both locations', async (t) => {
  const dir = scratch({ 'one.yaml': vs('r'), 'two.yaml': `${vs('other')}\n---\n${vs('r')}` });
  const err = await t.throwsAsync(loadFiles([dir]), { instanceOf: ConfigErrors });
  t.is(err.errors.length, 1);
  t.is(err.message, `${dir}/two.yaml:8: VirtualService default/r: defined twice: at ${dir}/one.yaml:1 and at ${dir}/two.yaml:8`);
});

test('errors from every file are reported together, missing files included', async (t) => {
  const dir = scratch({ 'bad.yaml': doc('VirtualService', 'r', ['hosts: [r]', 'http: {}']) });
  const err = await t.throwsAsync(loadFiles([dir, path.join(dir, 'missing.yaml'), '-']), { instanceOf: ConfigErrors });
  t.deepEqual(
    err.errors.map((e) => e.code),
    ['ECONFIG_TYPE', 'ECONFIG_READ', 'ECONFIG_READ'],
  );
  t.regex(err.errors[1]!.message, /missing\.yaml: cannot read: no such file or directory/);
});

test('round trip: parse, stringify, parse again gives the same resources', (t) => {
  const text = [
    doc('VirtualService', 'reviews', [
      'hosts: [reviews]',
      'http:',
      '- match: [{headers: {end-user: {exact: jason}}}]',
      '  route: [{destination: {host: reviews, subset: v2}}]',
      '- route:',
      '  - {destination: {host: reviews, subset: v1}, weight: 80}',
      '  - {destination: {host: reviews, subset: v3}, weight: 20}',
      '  timeout: 2s',
    ]),
    doc('AuthorizationPolicy', 'deny', ['action: DENY', 'rules: [{from: [{source: {ipBlocks: [10.0.0.0/8]}}]}]']),
  ].join('\n---\n');
  const first = parseDocuments(text, FILE);
  const again = parseDocuments(first.map((r: Resource) => stringify(r)).join('---\n'), 'again.yaml');
  t.deepEqual(again, first);
  t.is(first[0]!.spec.http instanceof Array, true);
});

const drs = (prefix: string, n: number): string =>
  Array.from(
    { length: n },
    (_, i) => `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: ${prefix}-${i}}\nspec: {host: h${i}}\n`,
  ).join('---\n');

test('documents past the apply limit are refused, naming the file, before any is validated', async (t) => {
  // The typo would be reported if the documents were validated.
  const dir = scratch({ 'many.yaml': `${drs('many', 6)}---\nkind: Typo\n`, 'a.yaml': drs('a', 3), 'b.yaml': `${drs('b', 3)}---\n` });
  const err = await t.throwsAsync(loadSources([path.join(dir, 'many.yaml')], { limits: { maxDocuments: 5 } }), { instanceOf: ConfigErrors });
  t.is(err?.code, 'ECONFIG_TOO_MANY_DOCUMENTS');
  t.regex(err?.message ?? '', /many\.yaml: more than 5 documents, the most one apply takes; split them into files of at most 5/);
  const total = await t.throwsAsync(loadSources([path.join(dir, 'a.yaml'), path.join(dir, 'b.yaml')], { limits: { maxDocuments: 5 } }));
  t.is((total as ConfigErrors).code, 'ECONFIG_TOO_MANY_DOCUMENTS', 'the limit is per apply, over all its files');
  t.regex(
    total?.message ?? '',
    /a\.yaml \(3\), .*b\.yaml \(3\): 6 documents, more than the 5 one apply takes/,
    'each file named with its count; the empty trailing document not counted',
  );
  t.is((await loadSources([path.join(dir, 'a.yaml')], { limits: { maxDocuments: 3 } })).length, 3, 'at the limit is fine');
});

test('the items of a List count as documents against the limit', async (t) => {
  const list = (n: number) =>
    `apiVersion: v1\nkind: List\nitems:\n${Array.from({ length: n }, (_, i) => `- {apiVersion: networking.istio.io/v1, kind: DestinationRule, metadata: {name: l-${i}}, spec: {host: h${i}}}\n`).join('')}`;
  const dir = scratch({ 'six.yaml': list(6), 'three.yaml': list(3), 'more.yaml': drs('m', 3) });
  const err = await t.throwsAsync(loadSources([path.join(dir, 'six.yaml')], { limits: { maxDocuments: 5 } }), { instanceOf: ConfigErrors });
  t.is(err?.code, 'ECONFIG_TOO_MANY_DOCUMENTS');
  t.regex(err?.message ?? '', /six\.yaml: more than 5 documents/);
  const total = await t.throwsAsync(loadSources([path.join(dir, 'three.yaml'), path.join(dir, 'more.yaml')], { limits: { maxDocuments: 5 } }));
  t.regex(total?.message ?? '', /three\.yaml \(3\), .*more\.yaml \(3\): 6 documents/, 'a List of 3 counts as 3 over the files of one apply');
  t.is((await loadSources([path.join(dir, 'three.yaml')], { limits: { maxDocuments: 3 } })).length, 3);
});

test('an input larger than the byte limit is refused unread, a file and standard input alike', async (t) => {
  const dir = scratch({ 'big.yaml': drs('big', 4) });
  const file = path.join(dir, 'big.yaml');
  const err = await t.throwsAsync(loadSources([file], { limits: { maxBytes: 100 } }), { instanceOf: ConfigErrors });
  t.is(err?.code, 'ECONFIG_TOO_LARGE');
  t.regex(err?.message ?? '', /big\.yaml: \d+ bytes \(0\.0 MiB\), more than the 100 \(0\.0 MiB\) one input may hold; split it/);
  const stdin = await t.throwsAsync(loadSources(['-'], { stdin: drs('in', 4), limits: { maxBytes: 100 } }));
  t.regex(stdin?.message ?? '', /^<stdin>: \d+ bytes/);
});

test('YAML errors keep their line after streaming documents one at a time', (t) => {
  const err = t.throws(() => parseDocuments(`${drs('ok', 1)}---\nkind: DestinationRule\nspec: {host: a, host: b}\nmetadata: {name: x}\n`, FILE), {
    instanceOf: ConfigErrors,
  });
  t.is(err?.code, 'ECONFIG_YAML');
  t.is(err?.message, `${FILE}:7: invalid YAML: Map keys must be unique`);
});
