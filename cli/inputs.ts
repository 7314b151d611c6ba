/**
 * Reads the resources named by `-f` flags (`-` is standard input, read once)
 * and checks what the schema alone cannot: that each AuthorizationPolicy
 * compiles (path templates, condition keys), so a policy the daemons would
 * refuse never reaches the store.
 */
import { inputTooLarge, MAX_INPUT_BYTES } from '../core/config/input-limits.js';
import type { Resource } from '../core/config/resource.js';
import type { SourcedResource } from '../core/config/index.js';
import { ConfigError, ConfigErrors } from '../core/errors.js';

export async function readInputs(paths: string[], defaultNamespace: string): Promise<Resource[]> {
  return (await readSources(paths, defaultNamespace)).map((s) => s.resource);
}

/** The same, each resource with the file and line it starts at (`ambit analyze` points at them). */
export async function readSources(paths: string[], defaultNamespace: string): Promise<SourcedResource[]> {
  const { loadSources } = await import('../core/config/index.js');
  const stdin = paths.includes('-') ? await readStdin() : undefined;
  const sources = await loadSources(paths, { defaultNamespace, ...(stdin !== undefined ? { stdin } : {}) });
  const { authorizationPolicyProblem } = await import('../core/authz/index.js');
  const problems: ConfigError[] = [];
  for (const { resource, location } of sources) {
    if (resource.kind !== 'AuthorizationPolicy') continue;
    const problem = authorizationPolicyProblem(resource);
    // The authz message already names the policy and the field.
    if (problem) problems.push(new ConfigError(problem.code, problem.message, { location }));
  }
  if (problems.length > 0) throw new ConfigErrors(problems);
  return sources;
}

/** Standard input, read no further than the input limit: a runaway pipe is refused, not buffered. */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
    bytes += (chunk as Buffer).length;
    if (bytes > MAX_INPUT_BYTES) throw new ConfigErrors([inputTooLarge('<stdin>', MAX_INPUT_BYTES)]);
  }
  return Buffer.concat(chunks).toString('utf8');
}
