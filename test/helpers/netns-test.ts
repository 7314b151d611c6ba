// `netnsTest`: ava's `test` for tests that need network namespaces. Kept apart from
// netns.ts because importing ava's runtime only works inside ava test files.

import test, { type ExecutionContext } from 'ava';
import { probeNetns, requireNetns, skipRequested } from './netns-guard.js';

type Impl = (t: ExecutionContext) => PromiseLike<void> | void;

/**
 * Declare a test that needs netns. It runs normally when netns works; when it does
 * not, it fails via requireNetns, or with AMBIT_SKIP_NETNS=1 is declared as skipped
 * after a warning on stderr naming what is missing.
 */
export function netnsTest(title: string, impl: Impl): void {
  const probe = probeNetns();
  if (!probe.ok && skipRequested()) {
    warnOnce(`SKIPPING netns test(s) because AMBIT_SKIP_NETNS=1 and this machine lacks ${probe.missing}`);
    test.skip(title, impl);
    return;
  }
  test(title, async (t) => {
    requireNetns();
    await impl(t);
  });
}

let warned = false;
function warnOnce(message: string): void {
  if (warned) return;
  warned = true;
  console.warn(`\n  ⚠ ${message}\n`);
}
