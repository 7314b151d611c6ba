/**
 * docs/store-roles.md shows the ACL rules ambit really gives Redis: its table is
 * what roleRules renders (`npm run docs:roles`), and README's security section
 * points at it.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { classifyRules, renderStoreRolesDocs, STORE_ROLES_DOCS_PATH } from '../../scripts/store-roles-docs.js';

// Compiled to dist/test/unit/, three levels below the repository root.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

test('the ACL table in docs/store-roles.md is what roleRules renders', (t) => {
  const onDisk = readFileSync(join(ROOT, STORE_ROLES_DOCS_PATH), 'utf8');
  t.true(onDisk === renderStoreRolesDocs(onDisk), `${STORE_ROLES_DOCS_PATH} is out of date: run npm run docs:roles`);
  for (const user of ['ambit-operator', 'ambit-signer', 'ambit-node-<name>']) t.true(onDisk.includes(`\`${user}\``), user);
});

test('rules are sorted into keys, read-only keys, channels, commands and selectors', (t) => {
  t.deepEqual(classifyRules(['%R~a:*', '~a:node:x', '&a:events', '+@read', '-@dangerous', '(~a:q +rpush)']), {
    keys: ['a:node:x'],
    readKeys: ['a:*'],
    channels: ['a:events'],
    commands: ['+@read', '-@dangerous'],
    selectors: ['(~a:q +rpush)'],
  });
});

test('README links the doc from its security model section', (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('## Security model');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  t.true(section.includes(`](${STORE_ROLES_DOCS_PATH})`));
});
