// @ts-check
// ESLint for ambit: typescript-eslint's type-aware recommended rules, the layer rule
// (core/ is shared; daemon/, waypoint/ and cli/ never import each other), one private-member
// style (#name), and one quote style. Layout is prettier's job (.prettierrc.json):
// eslint-config-prettier turns every formatting rule off, so the two never disagree.
// `npm run lint` runs tsc, then this, then `prettier --check`.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier/flat';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import ambit from './scripts/eslint/private-names.js';

// --- the layer rule --------------------------------------------------------------------
// What two binaries share lives in core/; daemon/, waypoint/ and cli/ never import each
// other, and core/ imports none of them (STYLE.md). Imports here are relative, so a file
// anywhere under waypoint/ reaches daemon/ only through `../` (any number of them) followed
// by `daemon/`; a sub-folder of the same name (bench/waypoint/) is outside these globs.
// no-restricted-imports covers `import`, `import type` and `export … from`; the CLI loads
// most modules lazily with `await import()`, which only no-restricted-syntax can see.
/** @param {string} dir @param {string[]} forbidden */
function layer(dir, forbidden) {
  const them = forbidden.map((f) => `${f}/`).join(', ');
  const why =
    dir === 'core'
      ? `core/ is what the binaries share: it must not depend on ${them} (STYLE.md)`
      : `${dir}/ must not depend on ${them}: move what both need into core/ (STYLE.md)`;
  const regex = `^(\\.\\./)+(${forbidden.join('|')})(/|$)`;
  return {
    files: [`${dir}/**/*.ts`],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: [{ regex, message: why }] }],
      'no-restricted-syntax': ['error', { selector: `ImportExpression > Literal[value=/${regex.replaceAll('/', '\\/')}/]`, message: why }],
    },
  };
}

export default defineConfig(
  globalIgnores(['dist/', 'node_modules/', 'native/build/']),
  // A disable comment that no longer disables anything is an error, so none outlives its reason.
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },

  js.configs.recommended,
  // Type-aware: the type check costs about as much as `tsc --noEmit` once, and buys
  // no-floating-promises / no-misused-promises (an unhandled rejection ends the daemon).
  tseslint.configs.recommendedTypeChecked,
  {
    files: ['**/*.ts'],
    plugins: { ambit },
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // One private-member style, #name: see scripts/eslint/private-names.js (it fixes what it reports).
      'ambit/private-names': 'error',
      // No `_field` convention either (none today): a private member is #field.
      '@typescript-eslint/naming-convention': ['error', { selector: ['classProperty', 'parameterProperty'], format: null, leadingUnderscore: 'forbid' }],
      // `_name` is how the code says "deliberately unused": a destructured field left out
      // of a copy (`const { resourceVersion: _rv, ...rest } = r`), an interface's argument.
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          args: 'after-used',
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
      // `let x: T | undefined` declared before a closure that reads it, assigned once after
      // (a server handed a callback that refers to the server) cannot be const.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // Off: an `async` method without `await` is deliberate here. It implements a
      // Promise-returning interface (doctor checks, test fakes, close()) so that a throw
      // becomes a rejection instead of escaping synchronously.
      '@typescript-eslint/require-await': 'off',
    },
  },
  layer('core', ['daemon', 'waypoint', 'cli']),
  layer('daemon', ['waypoint', 'cli']),
  layer('waypoint', ['daemon', 'cli']),
  layer('cli', ['daemon', 'waypoint']),

  // bin/*.js and this file: plain Node ESM outside tsconfig.json, so no type information.
  {
    files: ['**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: globals.node },
  },

  prettier,
  // After eslint-config-prettier, which turns `quotes` off: prettier already makes every
  // string single-quoted (double only to avoid escapes); this adds the one thing it leaves
  // alone, a template literal with nothing to interpolate. eslint-config-prettier documents
  // this combination as compatible.
  { rules: { quotes: ['error', 'single', { avoidEscape: true, allowTemplateLiterals: false }] } },
);
