/**
 * Istio's own sample files in ../shared/fixtures/istio. Tests that read them
 * skip loudly, naming the missing directory, when ../shared is not beside the
 * checkout.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { REPO_ROOT } from './cli.js';

export const ISTIO_FIXTURES = resolve(REPO_ROOT, '../shared/fixtures/istio');

/** Absolute paths of the YAML files in fixtures/istio/<dir>, or undefined when absent. */
export function istioFixtures(dir: string): string[] | undefined {
  const path = join(ISTIO_FIXTURES, dir);
  if (!existsSync(path)) return undefined;
  return readdirSync(path)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => join(path, f));
}

export const MISSING_FIXTURES = `Istio fixtures are absent: ${ISTIO_FIXTURES} (../shared beside the checkout) is needed`;
