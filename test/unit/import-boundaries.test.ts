/**
 * The three binaries share code only through core/: daemon/, waypoint/ and cli/
 * never import each other, and core/ imports none of them (STYLE.md). Checked on
 * the sources, static and dynamic imports alike, so a shortcut across the seam
 * fails here with the file and line that took it.
 */
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const BINARIES = ['daemon', 'waypoint', 'cli'] as const;
const TOP = ['core', ...BINARIES] as const;
type Top = (typeof TOP)[number];

/** What each top-level folder may import from the others. */
const ALLOWED: Record<Top, readonly Top[]> = {
  core: ['core'],
  daemon: ['core', 'daemon'],
  waypoint: ['core', 'waypoint'],
  cli: ['core', 'cli'],
};

const IMPORT = /(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

function topOf(path: string): string {
  return relative(ROOT, path).split(sep)[0] ?? '';
}

function crossings(): string[] {
  const found: string[] = [];
  for (const top of TOP) {
    for (const file of sources(join(ROOT, top))) {
      const lines = readFileSync(file, 'utf8').split('\n');
      lines.forEach((line, i) => {
        for (const m of line.matchAll(IMPORT)) {
          const target = topOf(resolve(dirname(file), m[1]!));
          if ((TOP as readonly string[]).includes(target) && !ALLOWED[top].includes(target as Top)) {
            found.push(`${relative(ROOT, file)}:${i + 1} imports ${m[1]} (${top}/ may import only ${ALLOWED[top].join(', ')})`);
          }
        }
      });
    }
  }
  return found;
}

test('daemon/, waypoint/ and cli/ share code only through core/, and core/ imports none of them', (t) => {
  t.true(sources(join(ROOT, 'core')).length > 0, `no sources found under ${ROOT}/core: the test looks in the wrong place`);
  t.deepEqual(crossings(), []);
});

test('the scan sees static, type-only and dynamic imports', (t) => {
  const sample = [
    "import { a } from '../daemon/x.js';",
    'import type { B } from "../../cli/y.js";',
    "const m = await import('../waypoint/z.js');",
    "import '../daemon/side-effect.js';",
  ].join('\n');
  t.deepEqual(
    [...sample.matchAll(IMPORT)].map((m) => m[1]),
    ['../daemon/x.js', '../../cli/y.js', '../waypoint/z.js', '../daemon/side-effect.js'],
  );
});
