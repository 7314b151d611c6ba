/**
 * core/error-codes.ts is the one list of codes operators can meet, so it must
 * match the source both ways (as fastify's test/internals/errors.test.js holds
 * its codes to its docs): every code literal in core, daemon, waypoint, cli and
 * native is registered, every registered code is still thrown or reported
 * somewhere, and docs/errors.md is what the registry renders.
 */
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMPONENTS, ERROR_CODES, PASSED_THROUGH } from '../../core/error-codes.js';
import { ERROR_DOCS_PATH, renderErrorDocs } from '../../scripts/error-docs.js';

// Compiled to dist/test/unit/, three levels below the repository root.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SCANNED = ['core', 'daemon', 'waypoint', 'cli', 'native'];
const SOURCE = /\.(ts|cc|h)$/;
const REGISTRY = 'core/error-codes.ts';

/**
 * A quoted code: the whole string ('EHBONE_TLS'), or the head of one before a
 * space, which is how a Redis error reply from a Lua script names its code
 * ('ESTORE_INVALID apply: ...').
 */
const LITERAL = /(['"`])(E[A-Z][A-Z0-9_]{2,})(?=\1|\s)/g;

/** A line that only names a member of a union of codes (`  | 'EDNS_BIND'`): a declaration, not a use. */
const UNION_MEMBER = /^\s*\|?\s*'E[A-Z0-9_]+'\s*;?\s*$/;

/** Quoted words in the scanned source that look like codes and are not, with where they come from. */
const NOT_CODES: Record<string, string> = {
  ECDSA: 'the WebCrypto algorithm name (core/identity)',
  ES256: 'a JWS algorithm name (waypoint/authn/request-authn.ts)',
  ES384: 'a JWS algorithm name (waypoint/authn/request-authn.ts)',
  ES512: 'a JWS algorithm name (waypoint/authn/request-authn.ts)',
  EXISTS: 'a Redis command in a Lua script (core/identity/store/tokens.ts)',
  ENDPOINTS: 'a column header of `ambit get services`',
};

interface Occurrence {
  code: string;
  where: string;
  /** False on a union member line: naming a code in a type does not throw it. */
  use: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && SOURCE.test(e.name))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)))
    .filter((file) => !file.startsWith('native/build/') && file !== REGISTRY);
}

function occurrences(): Occurrence[] {
  const found: Occurrence[] = [];
  for (const file of SCANNED.flatMap(sourceFiles)) {
    readFileSync(join(ROOT, file), 'utf8')
      .split('\n')
      .forEach((line, i) => {
        for (const m of line.matchAll(LITERAL)) found.push({ code: m[2]!, where: `${file}:${i + 1}`, use: !UNION_MEMBER.test(line) });
      });
  }
  return found;
}

const found = occurrences();
const registered = new Set(Object.keys(ERROR_CODES));
const passedThrough = new Set(Object.keys(PASSED_THROUGH));

test('the scan sees the source tree', (t) => {
  // A broken path or pattern would find nothing and pass everything below.
  t.true(found.some((o) => o.code === 'EHBONE_TLS' && o.where.startsWith('core/hbone/errors.ts') && !o.use));
  t.true(
    found.some((o) => o.code === 'ESTORE_INVALID' && o.where.startsWith('core/store/scripts.ts')),
    'codes at the head of a Lua error reply',
  );
  t.true(
    found.some((o) => o.code === 'ESOCKDIAG' && o.where.startsWith('native/')),
    'codes the addon throws with',
  );
});

test('every code in the source is registered in core/error-codes.ts', (t) => {
  const unknown = found.filter((o) => !registered.has(o.code) && !passedThrough.has(o.code) && !Object.hasOwn(NOT_CODES, o.code));
  t.deepEqual(
    unknown.map((o) => `${o.where}: ${o.code}`),
    [],
    `register each in ${REGISTRY} (ERROR_CODES if ambit makes it, PASSED_THROUGH if it only passes it on), then npm run docs:errors`,
  );
});

test('every registered code is still thrown or reported somewhere', (t) => {
  const used = new Set(found.filter((o) => o.use).map((o) => o.code));
  t.deepEqual(
    [...registered].filter((code) => !used.has(code)),
    [],
    'nothing throws these any more: remove them from the registry',
  );
  const seen = new Set(found.map((o) => o.code));
  t.deepEqual(
    [...passedThrough].filter((code) => !seen.has(code)),
    [],
    'ambit no longer checks for these: remove them from PASSED_THROUGH',
  );
  t.deepEqual(
    Object.keys(NOT_CODES).filter((word) => !seen.has(word)),
    [],
    'no longer in the source: remove them from NOT_CODES',
  );
});

test("a code is either ambit's or passed through, never both", (t) => {
  t.deepEqual(
    [...registered].filter((code) => passedThrough.has(code)),
    [],
  );
});

test('each entry says, in one line each, what happened and what to do', (t) => {
  const components = new Set(Object.keys(COMPONENTS));
  for (const [code, info] of Object.entries(ERROR_CODES)) {
    t.regex(code, /^E[A-Z0-9_]+$/);
    t.true(components.has(info.component), code);
    for (const text of [info.meaning, info.action]) {
      t.regex(text, /^\S.*\.$/, `${code}: a sentence`);
      t.false(text.includes('\n'), `${code}: one line`);
    }
  }
  for (const [code, info] of Object.entries(PASSED_THROUGH)) {
    t.true(info.from.length > 0 && info.handling.length > 0, code);
  }
});

test('every component has a code, so the doc has no empty section', (t) => {
  const used = new Set(Object.values(ERROR_CODES).map((info) => info.component));
  t.deepEqual(
    Object.keys(COMPONENTS).filter((c) => !used.has(c as keyof typeof COMPONENTS)),
    [],
  );
});

test('docs/errors.md is what the registry renders', (t) => {
  const onDisk = readFileSync(join(ROOT, ERROR_DOCS_PATH), 'utf8');
  t.true(onDisk === renderErrorDocs(), `${ERROR_DOCS_PATH} is out of date: run npm run docs:errors`);
  for (const code of [...registered, ...passedThrough]) t.true(onDisk.includes(`| \`${code}\` |`), code);
});

test('README links the doc from its troubleshooting section', (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const troubleshooting = readme.slice(readme.indexOf('## Troubleshooting'), readme.indexOf('\n## ', readme.indexOf('## Troubleshooting') + 1));
  t.true(troubleshooting.includes(`](${ERROR_DOCS_PATH})`));
});
