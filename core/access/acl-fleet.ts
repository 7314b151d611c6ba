/**
 * Every Redis server an ACL change must reach. Redis does not replicate ACL users
 * (ACL SETUSER, DELUSER and SAVE change only the server they run on, and a full
 * resync copies data, not users), so a change made on the master alone is gone
 * after the next failover: every role is locked out of the new master, or a
 * removed node's user is back. A fleet is the master plus every replica that
 * Sentinel knows (SENTINEL REPLICAS, asked of every sentinel that answers) or the
 * master reports (INFO replication), each reached with the credentials and TLS
 * settings the caller used on the master: the default user during `ambit store
 * init`, the operator (who has +acl) afterwards.
 *
 * Invariants:
 *  - every server is connected before anything changes, so an unreachable replica
 *    stops the change while nothing has changed (EACCESS_REPLICA_UNREACHABLE);
 *  - the master goes first: its refusal (NOPERM) stops the change everywhere;
 *  - a replica lost part-way is an error naming what did and did not get the change
 *    (EACCESS_PARTIAL), never a warning: that replica would lock the mesh out later.
 * Connections opened here stay open until close(), so a change that turns the
 * default user off does not cut the fleet's own later commands (persisting).
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { ConnectionOptions } from 'node:tls';
import { AccessError } from './errors.js';

/** Where the users now live: an ACL file, the config file, or only this Redis process's memory. */
export type AclPersistence = 'aclfile' | 'config' | 'memory';

export interface AclServer {
  /** host:port as Sentinel or the master names it. */
  address: string;
  role: 'master' | 'replica';
}

export interface AclServerReport extends AclServer {
  persistence: AclPersistence;
}

interface Member extends AclServer {
  redis: Redis;
  /** Opened here (and closed by close()), unlike the caller's master connection. */
  own: boolean;
}

const DEFAULT_TIMEOUT_MS = 3000;

export class AclFleet {
  readonly #members: Member[];

  private constructor(members: Member[]) {
    this.#members = members;
  }

  /** The master (the caller's connection) and a connection to each replica, all answering. */
  static async open(master: Redis): Promise<AclFleet> {
    const { masterAddress, replicas } = await discover(master);
    const members: Member[] = [{ address: masterAddress, role: 'master', redis: master, own: false }];
    const unreachable: string[] = [];
    await Promise.all(
      replicas.map(async (address) => {
        const redis = connectReplica(master.options, address);
        try {
          await redis.connect();
          await redis.ping();
          members.push({ address, role: 'replica', redis, own: true });
        } catch (err) {
          redis.disconnect();
          unreachable.push(`${address} (${(err as Error).message})`);
        }
      }),
    );
    const fleet = new AclFleet(members);
    if (unreachable.length) {
      await fleet.close();
      throw new AccessError(
        'EACCESS_REPLICA_UNREACHABLE',
        `cannot reach replica ${unreachable.join(', ')} of the store: Redis does not replicate ACL users, so a change made without it would be missing there after a failover; nothing was changed. Bring it back (or, if it is gone for good, run SENTINEL RESET on each sentinel) and run this again`,
        { unreachable },
      );
    }
    return fleet;
  }

  get master(): Redis {
    return this.#members[0]!.redis;
  }

  get servers(): AclServer[] {
    return this.#members.map(({ address, role }) => ({ address, role }));
  }

  /** True when the store has replicas (or is reached through Sentinel, which can promote one). */
  get replicated(): boolean {
    return this.#members.length > 1 || Boolean(this.master.options.sentinels?.length);
  }

  /** One ACL command on every server, the master first; returns the master's reply. */
  async run(what: string, args: string[]): Promise<unknown> {
    const [master, ...replicas] = this.#members;
    const reply = await asAdmin(`${what} on ${master!.address}`, () => master!.redis.call(args[0]!, ...args.slice(1)));
    const failed: string[] = [];
    await Promise.all(
      replicas.map(async (m) => {
        try {
          await asAdmin(`${what} on ${m.address}`, () => m.redis.call(args[0]!, ...args.slice(1)));
        } catch (err) {
          failed.push(`${m.address} (${(err as Error).message})`);
        }
      }),
    );
    if (failed.length) throw this.#partial(what, failed);
    return reply;
  }

  /** Each server's answer to one read-only question, for checks before a change. */
  async ask(args: string[]): Promise<{ member: AclServer; reply: unknown }[]> {
    return Promise.all(
      this.#members.map(async (m) => ({ member: { address: m.address, role: m.role }, reply: await m.redis.call(args[0]!, ...args.slice(1)) })),
    );
  }

  /**
   * Makes the users outlive a restart on every server: ACL SAVE where Redis has an
   * aclfile, else CONFIG REWRITE where it has a config file, else memory only (the
   * caller says so: a restart would lock every role out of that server).
   */
  async persist(): Promise<AclServerReport[]> {
    return Promise.all(this.#members.map(async ({ address, role, redis }) => ({ address, role, persistence: await persistOne(redis) })));
  }

  /** Closes the connections opened here; the caller's master connection stays open. Idempotent. */
  async close(): Promise<void> {
    await Promise.all(this.#members.filter((m) => m.own).map((m) => m.redis.quit().catch(() => m.redis.disconnect())));
    for (const m of this.#members) m.own = false;
  }

  #partial(what: string, failed: string[]): AccessError {
    const done = this.#members.map((m) => m.address).filter((a) => !failed.some((f) => f.startsWith(`${a} `)));
    return new AccessError(
      'EACCESS_PARTIAL',
      `${what}: done on ${done.join(', ')} but not on ${failed.join(', ')}; Redis does not replicate ACL users, so a failover to it would undo the change: bring it back and run this again (or copy the master's ACL file to it and restart it)`,
      { done, failed },
    );
  }
}

/** The weakest persistence of a fleet: what the operator must be warned about. */
export function weakest(reports: AclServerReport[]): AclPersistence {
  const order: AclPersistence[] = ['memory', 'config', 'aclfile'];
  return order.find((p) => reports.some((r) => r.persistence === p)) ?? 'aclfile';
}

/** "127.0.0.1:6379 (master, ACL file), …" for the CLI. */
export function describeServers(reports: AclServerReport[]): string {
  const where = { aclfile: 'ACL file', config: 'config file', memory: 'memory only' } as const;
  return reports.map((r) => `${r.address} (${r.role}, ${where[r.persistence]})`).join(', ');
}

/** NOPERM on an ACL command means the caller is not the store's administrator: say that, not just NOPERM. */
export function asAdmin<T>(what: string, run: () => Promise<T>): Promise<T> {
  return run().catch((err: unknown) => {
    const message = (err as Error).message ?? String(err);
    if (/NOPERM|no permissions/i.test(message)) {
      throw new AccessError(
        'EACCESS_NOT_ADMIN',
        `${what}: this Redis user may not manage ACL users (${message}); run it as the store's administrator`,
        {},
        { cause: err },
      );
    }
    throw err;
  });
}

async function persistOne(redis: Redis): Promise<AclPersistence> {
  try {
    await redis.call('ACL', 'SAVE');
    return 'aclfile';
  } catch {
    // Not configured with an aclfile (or not allowed): try the config file.
  }
  try {
    await redis.call('CONFIG', 'REWRITE');
    return 'config';
  } catch {
    return 'memory';
  }
}

/** The master's address and its replicas' (host:port), from Sentinel and from the master itself. */
async function discover(master: Redis): Promise<{ masterAddress: string; replicas: string[] }> {
  const opts = master.options;
  const fromMaster = parseInfoReplicas(String(await master.info('replication')));
  if (!opts.sentinels?.length) {
    const masterAddress = opts.path ?? `${opts.host ?? '127.0.0.1'}:${opts.port ?? 6379}`;
    return { masterAddress, replicas: fromMaster };
  }
  const name = opts.name ?? 'mymaster';
  let masterAddress: string | undefined;
  const replicas = new Set<string>();
  const silent: string[] = [];
  for (const s of opts.sentinels) {
    const sentinel = new Redis({
      host: s.host ?? '127.0.0.1',
      port: s.port ?? 26379,
      username: opts.sentinelUsername,
      password: opts.sentinelPassword,
      tls: opts.sentinelTLS,
      connectTimeout: opts.connectTimeout ?? DEFAULT_TIMEOUT_MS,
      lazyConnect: true,
      enableReadyCheck: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    sentinel.on('error', () => undefined);
    try {
      await sentinel.connect();
      const addr = (await sentinel.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)) as [string, string] | null;
      if (addr) masterAddress ??= `${addr[0]}:${addr[1]}`;
      for (const r of parseSentinelReplicas(await sentinel.call('SENTINEL', 'REPLICAS', name))) replicas.add(r);
    } catch (err) {
      silent.push(`${s.host ?? '127.0.0.1'}:${s.port ?? 26379} (${(err as Error).message})`);
    } finally {
      sentinel.disconnect();
    }
  }
  if (!masterAddress) {
    throw new AccessError(
      'EACCESS_REPLICA_UNREACHABLE',
      `no sentinel answered SENTINEL REPLICAS ${name} (${silent.join(', ')}), so the replicas that need this ACL change are unknown; nothing was changed. Check the sentinels and their password, then run this again`,
      { sentinels: silent },
    );
  }
  for (const r of fromMaster) replicas.add(r);
  replicas.delete(masterAddress);
  return { masterAddress, replicas: [...replicas].sort() };
}

/** SENTINEL REPLICAS answers one flat [field, value, …] list per replica. */
export function parseSentinelReplicas(reply: unknown): string[] {
  if (!Array.isArray(reply)) return [];
  const out: string[] = [];
  for (const entry of reply) {
    if (!Array.isArray(entry)) continue;
    const fields = new Map<string, string>();
    for (let i = 0; i + 1 < entry.length; i += 2) fields.set(String(entry[i]), String(entry[i + 1]));
    const ip = fields.get('ip');
    const port = fields.get('port');
    if (ip && port) out.push(`${ip}:${port}`);
  }
  return out;
}

/** INFO replication on a master: `slave0:ip=10.0.0.2,port=6379,state=online,…`. */
export function parseInfoReplicas(info: string): string[] {
  const out: string[] = [];
  for (const line of info.split(/\r?\n/)) {
    const m = /^slave\d+:(.*)$/.exec(line.trim());
    if (!m) continue;
    const fields = new Map(m[1]!.split(',').map((kv) => kv.split('=', 2) as [string, string]));
    const ip = fields.get('ip');
    const port = fields.get('port');
    if (ip && port) out.push(`${ip}:${port}`);
  }
  return out;
}

/** A CLI-style connection (no retries, fail fast) to one replica, as the caller is on the master. */
function connectReplica(opts: RedisOptions, address: string): Redis {
  const at = address.lastIndexOf(':');
  const host = address.slice(0, at);
  const port = Number(address.slice(at + 1));
  const redis = new Redis({
    host,
    port,
    username: opts.username,
    password: opts.password,
    tls: replicaTls(opts, host),
    connectTimeout: opts.connectTimeout ?? DEFAULT_TIMEOUT_MS,
    connectionName: `${opts.connectionName ?? 'ambit'}-acl`,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  return redis;
}

/**
 * The master's TLS settings for a replica. Through Sentinel, ioredis uses them for
 * the servers only with enableTLSForSentinelMode; a servername derived from the
 * master's host (rediss://host) names the replica's host instead.
 */
function replicaTls(opts: RedisOptions, host: string): ConnectionOptions | undefined {
  if (!opts.tls) return undefined;
  if (opts.sentinels?.length && !opts.enableTLSForSentinelMode) return undefined;
  const tls: ConnectionOptions = { ...opts.tls };
  if (tls.servername && tls.servername === opts.host) tls.servername = host;
  return tls;
}
