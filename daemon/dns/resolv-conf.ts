/**
 * resolv.conf(5) as glibc reads it: the host's upstream resolvers for names
 * the mesh does not own. Parsing is pure; reading the file is separate so
 * tests and the daemon's periodic re-read share the parser.
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';

export const DEFAULT_RESOLV_CONF = '/etc/resolv.conf';

export interface ResolvConf {
  /** Addresses in file order, without ports (resolv.conf always means port 53). */
  nameservers: string[];
  /** Search list: from the last `search` or `domain` line, as glibc does. */
  search: string[];
  /** `options` lines merged: `ndots:2` -> { ndots: 2 }, `rotate` -> { rotate: true }. */
  options: ResolvOptions;
}

export interface ResolvOptions {
  ndots?: number;
  timeout?: number;
  attempts?: number;
  [option: string]: number | string | boolean | undefined;
}

export function parseResolvConf(text: string): ResolvConf {
  const conf: ResolvConf = { nameservers: [], search: [], options: {} };
  for (const raw of text.split(/\r?\n/)) {
    // Comments start with '#' or ';' anywhere on the line.
    const line = raw.replace(/[#;].*$/, '').trim();
    const [keyword, ...args] = line.split(/\s+/);
    if (!keyword || args.length === 0) continue;
    switch (keyword) {
      case 'nameserver': {
        // An IPv6 link-local server carries a zone ("fe80::1%eth0"); keep it, node:dgram accepts it.
        const [address] = args;
        if (address && isIP(address.replace(/%.*$/, '')) !== 0) conf.nameservers.push(address);
        break;
      }
      case 'domain':
        conf.search = args.slice(0, 1).map(trimDot);
        break;
      case 'search':
        conf.search = args.map(trimDot).filter((d) => d.length > 0);
        break;
      case 'options':
        for (const opt of args) Object.assign(conf.options, parseOption(opt));
        break;
      default:
        // sortlist and unknown keywords do not matter to a forwarder.
        break;
    }
  }
  return conf;
}

/** Read and parse; a missing file is an empty config (glibc then uses 127.0.0.1, which we do not guess). */
export async function readResolvConf(path: string = DEFAULT_RESOLV_CONF): Promise<ResolvConf> {
  try {
    return parseResolvConf(await readFile(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return parseResolvConf('');
    throw err;
  }
}

function parseOption(opt: string): ResolvOptions {
  const colon = opt.indexOf(':');
  if (colon < 0) return { [opt]: true };
  const name = opt.slice(0, colon);
  const value = opt.slice(colon + 1);
  return { [name]: /^\d+$/.test(value) ? Number(value) : value };
}

function trimDot(name: string): string {
  return name.endsWith('.') ? name.slice(0, -1) : name;
}
