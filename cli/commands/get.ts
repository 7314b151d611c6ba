import type { Command } from 'commander';
import type { Resource } from '../../core/config/resource.js';
import type { Store } from '../../core/store/index.js';
import { NotFoundError } from '../../core/errors.js';
import { withStore } from '../store-client.js';
import { selectKind, type KindSelector } from '../kinds.js';
import { age, labelList, listOf, outputFormat, outputOption, renderData, renderTable, type OutputFormat } from '../output.js';
import { resourceColumns } from '../resource-columns.js';

interface GetOptions {
  namespace: string;
  allNamespaces: boolean;
  output: string;
}

export function registerGet(program: Command): void {
  program
    .command('get')
    .description('show resources (Istio kinds, or services, endpoints, nodes)')
    .argument(
      '<kind>',
      'virtualservice|destinationrule|serviceentry|workloadentry|authorizationpolicy|peerauthentication|requestauthentication|all|services|endpoints|nodes',
    )
    .argument('[name]', 'one resource by name')
    .option('-n, --namespace <ns>', 'namespace', 'default')
    .option('-A, --all-namespaces', 'every namespace', false)
    .addOption(outputOption(['table', 'json', 'yaml']))
    .action(async (kind: string, name: string | undefined, opts: GetOptions, cmd: Command) => {
      const selector = selectKind(kind);
      const format = outputFormat(opts.output);
      const namespace = opts.allNamespaces ? undefined : opts.namespace;
      const text = await withStore(cmd, (store) => show(store, selector, name, namespace, format));
      process.stdout.write(text);
    });
}

async function show(store: Store, selector: KindSelector, name: string | undefined, namespace: string | undefined, format: OutputFormat): Promise<string> {
  switch (selector.type) {
    case 'resource':
      return showResources(store, selector.kinds, name, namespace, format);
    case 'service': {
      const services = (await store.listServices(namespace)).filter((s) => !name || s.name === name);
      const endpoints = await store.listEndpoints({ namespace });
      return records(services, name, 'service', format, () =>
        renderTable(
          ['NAMESPACE', 'NAME', 'PORTS', 'VIP', 'ENDPOINTS'],
          services.map((s) => [
            s.namespace,
            s.name,
            s.ports.join(','),
            s.vip ?? '<pending>',
            String(endpoints.filter((e) => e.namespace === s.namespace && e.service === s.name).length),
          ]),
        ),
      );
    }
    case 'endpoint': {
      const endpoints = (await store.listEndpoints({ namespace })).filter((e) => !name || e.service === name);
      return records(
        endpoints,
        name,
        'endpoints of service',
        format,
        () =>
          renderTable(
            ['NAMESPACE', 'SERVICE', 'NODE', 'ADDRESS', 'USER', 'SERVICE-ACCOUNT', 'LABELS'],
            endpoints.map((e) => [
              e.namespace,
              e.service,
              e.node,
              `${e.address}:${e.port}`,
              e.user ?? (e.uid !== undefined ? String(e.uid) : '-'),
              e.serviceAccount,
              labelList(e.labels),
            ]),
          ),
        false,
      );
    }
    case 'node': {
      const nodes = (await store.listNodes()).filter((n) => !name || n.name === name);
      return records(nodes, name, 'node', format, () =>
        renderTable(
          ['NAME', 'ADDRESS', 'VERSION', 'LAST-SEEN'],
          nodes.map((n) => [n.name, n.address, n.version ?? '-', `${age(n.lastSeen)} ago`]),
        ),
      );
    }
  }
}

async function showResources(store: Store, kinds: string[], name: string | undefined, namespace: string | undefined, format: OutputFormat): Promise<string> {
  const found: Resource[] = [];
  for (const kind of kinds) {
    if (name) {
      const one = await store.get({ kind, namespace: namespace ?? 'default', name });
      if (one) found.push(one);
    } else {
      found.push(...(await store.list(kind, namespace)));
    }
  }
  if (name && found.length === 0) throw new NotFoundError(`${kinds.join('/')} ${namespace ?? 'default'}/${name}`, { kinds, name });
  // A NAME of one kind is one object; the same NAME across kinds (`get all reviews`) is several.
  if (format !== 'table') return renderData(name && kinds.length === 1 ? found[0] : listOf(found), format);
  if (found.length === 0) return `No resources found${namespace ? ` in ${namespace} namespace` : ''}.\n`;
  // One table per kind, each with its own columns (as `kubectl get all`), a blank line between them.
  const tables: string[] = [];
  for (const kind of kinds) {
    const ofKind = found.filter((r) => r.kind === kind);
    if (ofKind.length > 0) tables.push(resourceTable(kind, ofKind, kinds.length > 1));
  }
  return tables.join('\n');
}

/** `prefixed`: several kinds are shown, so NAME says which (`virtualservice/reviews`). */
function resourceTable(kind: string, resources: Resource[], prefixed: boolean): string {
  const columns = resourceColumns(kind);
  return renderTable(
    ['NAMESPACE', 'NAME', ...columns.head, 'AGE'],
    resources.map((r) => [
      r.metadata.namespace,
      prefixed ? `${kind.toLowerCase()}/${r.metadata.name}` : r.metadata.name,
      ...columns.cells(r),
      age(r.metadata.creationTimestamp),
    ]),
  );
}

/**
 * Registry records as kubectl prints objects: NAME names one (the object itself), no NAME a List.
 * `one` is false where NAME selects several records (the endpoints of a service).
 */
async function records<T>(items: T[], name: string | undefined, what: string, format: OutputFormat, table: () => string, one = true): Promise<string> {
  if (name && items.length === 0) throw new NotFoundError(`${what} ${name}`);
  if (format !== 'table') return renderData(name && one ? items[0] : listOf(items), format);
  return items.length === 0 ? 'No resources found.\n' : table();
}
