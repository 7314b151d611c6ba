import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { withStore } from '../store-client.js';
import { readLiveMesh, type LiveMesh } from '../live-mesh.js';
import { outputFormat, outputOption, renderData } from '../output.js';
import type { Explanation, HttpRequest } from '../explain/explain.js';
import { collect } from './apply.js';

interface ExplainOptions {
  namespace: string;
  path?: string;
  method?: string;
  header: string[];
  output: string;
  trustDomain?: string;
  domain: string;
}

export function registerExplain(program: Command): void {
  program
    .command('explain')
    .description('say what the mesh does with a connection or request from FROM to TO, and why (capture, tunnel, waypoint, route, policy rule)')
    .argument('<from>', 'an enrolled service (name, ns/name, FQDN) or address; an address nothing enrolled has is a client outside the mesh')
    .argument('<to>', 'a service, ServiceEntry host or address, with :PORT (optional for a service with one port)')
    .option('-n, --namespace <ns>', 'namespace of short service names', 'default')
    .option('--path <path>', 'HTTP path (the request goes through a waypoint as HTTP)')
    .option('--method <method>', 'HTTP method (default GET)')
    .option('--header <name=value>', 'HTTP request header (repeatable)', collect, [])
    .option('--trust-domain <td>', "SPIFFE trust domain (default: the store's trust bundle's)")
    .option('--domain <domain>', 'mesh DNS domain short names resolve into', 'cluster.local')
    .addOption(outputOption(['table', 'json', 'yaml']))
    .action(async (from: string, to: string, opts: ExplainOptions, cmd: Command) => {
      const format = outputFormat(opts.output);
      const http = httpRequest(opts);
      const names = { domain: opts.domain, ...(opts.trustDomain ? { trustDomain: opts.trustDomain } : {}) };
      const mesh = await withStore(cmd, (store) => readLiveMesh(store, names));
      const e = await explainIn(mesh, from, to, opts.namespace, http);
      if (format !== 'table') return void process.stdout.write(await renderData(e, format));
      const { renderExplanation } = await import('../explain/render.js');
      process.stdout.write(renderExplanation(e));
    });
}

/** FROM and TO found in `mesh`, then explained: what the command runs, without the store. */
export async function explainIn(mesh: LiveMesh, from: string, to: string, namespace: string, http: HttpRequest): Promise<Explanation> {
  const [{ findSource, findDestination }, { Explainer }] = await Promise.all([import('../explain/parties.js'), import('../explain/explain.js')]);
  const state = mesh.stateFor(mesh.nodes[0]?.name ?? '');
  const source = findSource(state, from, namespace, mesh.domain);
  const destination = findDestination(state, to, namespace, mesh.domain);
  return new Explainer(mesh).explain(source, from, destination, to, http);
}

export function httpRequest(opts: Pick<ExplainOptions, 'path' | 'method' | 'header'>): HttpRequest {
  const headers: Record<string, string> = {};
  for (const h of opts.header) {
    const eq = h.indexOf('=');
    if (eq <= 0) throw new UsageError(`--header ${JSON.stringify(h)}: give it as name=value`);
    headers[h.slice(0, eq).trim().toLowerCase()] = h.slice(eq + 1);
  }
  const path = opts.path ?? '/';
  if (!path.startsWith('/')) throw new UsageError(`--path ${JSON.stringify(path)}: a path starts with /`);
  return {
    method: (opts.method ?? 'GET').toUpperCase(),
    path,
    headers,
    given: opts.path !== undefined || opts.method !== undefined || opts.header.length > 0,
  };
}
