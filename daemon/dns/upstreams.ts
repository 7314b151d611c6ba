/**
 * Which resolvers non-mesh queries go to: an explicit list (tests, config) or
 * the host's resolv.conf, re-read now and then because DHCP and
 * NetworkManager rewrite it while the daemon runs.
 */
import { stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import { logger } from '../../core/logging.js';
import { parseUpstreamAddress, upstreamProblem, type Upstream } from '../../core/net/upstream.js';
import { DnsError } from './errors.js';
import { DEFAULT_RESOLV_CONF, readResolvConf } from './resolv-conf.js';

export type { Upstream };

const log = logger('dns');

/** "1.2.3.4", "1.2.3.4:5353", "::1", "[::1]:5353" -> Upstream (port 53 by default). */
export function parseUpstream(text: string): Upstream {
  const upstream = parseUpstreamAddress(text);
  if (!upstream) throw new DnsError('EDNS_BAD_UPSTREAM', upstreamProblem(text) ?? '', { upstream: text });
  return upstream;
}

export function formatUpstream(u: Upstream): string {
  return isIP(u.address) === 6 ? `[${u.address}]:${u.port}` : `${u.address}:${u.port}`;
}

/**
 * True when forwarding to `u` would send the query back to this server: the
 * same address and port, or our wildcard bind catching a loopback upstream.
 * systemd-resolved's 127.0.0.53:53 is a different socket and stays usable.
 */
export function isSelf(u: Upstream, listen: Upstream): boolean {
  if (u.port !== listen.port) return false;
  if (u.address === listen.address) return true;
  const wildcard = listen.address === '0.0.0.0' || listen.address === '::';
  return wildcard && (u.address.startsWith('127.') || u.address === '::1');
}

export interface UpstreamSourceOptions {
  /** Fixed list; when set, resolv.conf is not read. */
  upstreams?: (string | Upstream)[];
  resolvConfPath?: string;
  /** How often resolv.conf's mtime is checked (default 5000 ms). */
  refreshMs?: number;
  /** Where this server listens, so a loop back to it is dropped from the list. */
  listen: Upstream;
}

export class UpstreamSource {
  #list: Upstream[] = [];
  readonly #path: string;
  readonly #refreshMs: number;
  #lastCheck = 0;
  #mtimeMs = -1;
  #refreshing: Promise<void> | undefined;
  readonly #options: UpstreamSourceOptions;

  constructor(options: UpstreamSourceOptions) {
    this.#options = options;
    this.#path = options.resolvConfPath ?? DEFAULT_RESOLV_CONF;
    this.#refreshMs = options.refreshMs ?? 5000;
    if (options.upstreams) this.#list = this.#withoutSelf(options.upstreams.map((u) => (typeof u === 'string' ? parseUpstream(u) : u)));
  }

  /** Load resolv.conf once before serving, so the first query has somewhere to go. */
  async load(): Promise<void> {
    if (!this.#options.upstreams) await this.#reread();
  }

  /**
   * The current list. Never waits on the file system: a stale list is served
   * while a background check picks up changes for the next query.
   */
  current(): Upstream[] {
    if (!this.#options.upstreams && !this.#refreshing && Date.now() - this.#lastCheck >= this.#refreshMs) {
      this.#refreshing = this.#reread()
        .catch((err: unknown) => log.warn({ err, path: this.#path }, 'could not re-read resolv.conf; keeping the previous upstreams'))
        .finally(() => (this.#refreshing = undefined));
    }
    return this.#list;
  }

  async #reread(): Promise<void> {
    this.#lastCheck = Date.now();
    const mtimeMs = await stat(this.#path).then(
      (s) => s.mtimeMs,
      () => 0,
    );
    if (mtimeMs === this.#mtimeMs) return;
    const conf = await readResolvConf(this.#path);
    this.#mtimeMs = mtimeMs;
    this.#list = this.#withoutSelf(conf.nameservers.map((address) => ({ address, port: 53 })));
    log.info({ path: this.#path, upstreams: this.#list.map(formatUpstream) }, 'upstream resolvers loaded');
  }

  #withoutSelf(list: Upstream[]): Upstream[] {
    const kept = list.filter((u) => !isSelf(u, this.#options.listen));
    if (kept.length < list.length)
      log.warn({ listen: formatUpstream(this.#options.listen) }, 'ignoring an upstream resolver that is this DNS server (it would loop)');
    return kept;
  }
}
