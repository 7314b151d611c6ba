/** `npm run docs:errors`: writes docs/errors.md from core/error-codes.ts. */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ERROR_DOCS_PATH, renderErrorDocs } from './error-docs.js';

// Compiled to dist/scripts/, two levels below the repository root.
const target = fileURLToPath(new URL(`../../${ERROR_DOCS_PATH}`, import.meta.url));
writeFileSync(target, renderErrorDocs());
process.stdout.write(`wrote ${target}\n`);
