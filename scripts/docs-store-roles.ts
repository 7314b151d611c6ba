/** `npm run docs:roles`: rewrites the ACL table of docs/store-roles.md from core/access/roles.ts. */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderStoreRolesDocs, STORE_ROLES_DOCS_PATH } from './store-roles-docs.js';

// Compiled to dist/scripts/, two levels below the repository root.
const target = fileURLToPath(new URL(`../../${STORE_ROLES_DOCS_PATH}`, import.meta.url));
writeFileSync(target, renderStoreRolesDocs(readFileSync(target, 'utf8')));
process.stdout.write(`wrote ${target}\n`);
