/** Reads the resources named by `-f` flags; `-` is standard input, read once. */
import type { Resource } from '../core/config/resource.js';

export async function readInputs(paths: string[], defaultNamespace: string): Promise<Resource[]> {
  const { loadFiles } = await import('../core/config/index.js');
  const stdin = paths.includes('-') ? await readStdin() : undefined;
  return loadFiles(paths, { defaultNamespace, ...(stdin !== undefined ? { stdin } : {}) });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
