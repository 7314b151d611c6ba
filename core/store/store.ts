/**
 * The store client: resources (Istio and ambit documents), the service registry
 * (nodes, services, endpoints) and consistent snapshots, all in Redis.
 *
 * Every write that changes something goes through one Lua script (core/store/scripts.ts),
 * which bumps the global revision once, appends the changes to the change log and
 * publishes `{"revision":n}`. Node heartbeats are the exception: they are liveness, not
 * configuration, so they expire on their own and do not bump the revision.
 */
import { randomUUID } from 'node:crypto';
import type { ChainableCommander, Redis } from 'ioredis';
import { parseRefKey, refKey, refOf, type Resource, type ResourceRef } from '../config/resource.js';
import { AmbitError, isAmbitError, isStoreErrorCode, NotFoundError, StoreError } from '../errors.js';
import { AccessError } from '../access/errors.js';
import { logger } from '../logging.js';
import { DEFAULT_VIP_CIDR } from '../vip/allocator.js';
import { checkResource, decodeChange, decodeResource, encodeEndpoint, encodeResource, parseEntryId } from './codec.js';
import { connectRedis, unreachable } from './connection.js';
import { endpointKey, keysFor, serviceKey, type Keys } from './keys.js';
import { defineScripts, type Scripts } from './scripts.js';
import { readMeshSettings, withVipClaim, writeMeshSettings } from './vips.js';
import { readinessFrom, withReadiness } from './waypoint-readiness.js';
import { decodeRecord, endpointRecord, nodeRecord, serviceRecord } from './records.js';
import { nodeStatusSchema, type NodeStatusReport } from '../status/index.js';
import type {
  ApplyAction,
  ApplyResult,
  Change,
  DeleteOptions,
  DeleteResult,
  EndpointFilter,
  EndpointRecord,
  EnrollResult,
  ManifestWrite,
  MeshSettings,
  NodeRecord,
  ServiceRecord,
  Snapshot,
  StoreOptions,
  UnenrollFilter,
  UnenrollResult,
} from './types.js';

const log = logger('store');
const DEFAULT_CHANGE_LOG_LENGTH = 10_000;
const NAME = /^[^/\s]+$/;

/** Every live daemon's last report; a report that fails its schema is listed apart, so one bad node hides no other. */
export interface NodeStatuses {
  reports: Map<string, NodeStatusReport>;
  invalid: { node: string; reason: string }[];
}

export class Store {
  readonly keys: Keys;
  readonly #scripts: Scripts;
  readonly #maxlen: number;

  /** Usually reached through Store.connect(); takes a client made by core/store/connection.ts. */
  constructor(
    /** The underlying client, for diagnostics (ambit doctor) and tests. */
    readonly redis: Redis,
    readonly options: StoreOptions = {},
  ) {
    this.keys = keysFor(options.keyPrefix);
    this.#scripts = defineScripts(redis);
    this.#maxlen = options.changeLogLength ?? DEFAULT_CHANGE_LOG_LENGTH;
  }

  /** Connects and waits for Redis (CLI mode: EREDIS_UNREACHABLE after connectTimeoutMs). */
  static async connect(options: StoreOptions = {}): Promise<Store> {
    return new Store(await connectRedis(options, 'store'), options);
  }

  async close(): Promise<void> {
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect(); // already down: nothing to flush
    }
  }

  /** The global revision: bumped once per write that changed something. */
  async revision(): Promise<number> {
    return this.#run('revision', async () => Number((await this.redis.get(this.keys.revision)) ?? 0));
  }

  // ---- resources ----------------------------------------------------------------

  /** Writes all documents or none, under one new revision (none if nothing changed). */
  async apply(resources: Resource[], manifest?: ManifestWrite): Promise<ApplyResult> {
    for (const r of resources) checkResource(r);
    const encoded = resources.map(encodeResource);
    const seen = new Set<string>();
    for (const { key } of encoded) {
      if (seen.has(key)) throw new StoreError('ESTORE_INVALID', `${key} appears twice in one apply`, { resource: key });
      seen.add(key);
    }
    if (encoded.length === 0) return { revision: await this.revision(), results: [] };
    const k = this.keys;
    const args = [k.channel, this.#maxlen, new Date().toISOString(), encoded.length];
    for (const e of encoded) args.push(e.key, e.doc, e.content, e.generation, randomUUID());
    args.push(...manifestArgs(manifest));
    const reply = await this.#run('apply', () => this.#scripts.apply([k.revision, k.resources, k.resourceMeta, k.changes, k.manifest], args));
    const [revision, ...actions] = reply as [number, ...ApplyAction[]];
    const results = resources.map((r, i) => ({ ref: refOf(r), action: actions[i]! }));
    log.debug({ revision, results: results.map((r) => `${refKey(r.ref)} ${r.action}`) }, 'applied');
    return { revision: Number(revision), results };
  }

  /** Deletes all refs or none: a missing ref fails the whole call unless ignoreNotFound. */
  async delete(refs: ResourceRef[], opts: DeleteOptions = {}, manifest?: ManifestWrite): Promise<DeleteResult> {
    const k = this.keys;
    const args = [k.channel, this.#maxlen, opts.ignoreNotFound ? '1' : '0', ...manifestArgs(manifest), ...refs.map(refKey)];
    const reply = (await this.#run('delete', () => this.#scripts.delete([k.revision, k.resources, k.resourceMeta, k.changes, k.manifest], args))) as [
      number,
      ...(string | number)[],
    ];
    if (reply[0] === 0) throw new NotFoundError(String(reply[1]), { resource: reply[1] });
    const [, revision, ...deleted] = reply;
    return { revision: Number(revision), deleted: deleted.map((key) => parseRefKey(String(key))) };
  }

  /** The stored security manifest record and its sequence (unverified: core/identity/manifest checks it). */
  async manifest(): Promise<{ record?: string; sequence: number }> {
    const [record, sequence] = await this.#run('manifest', () => this.redis.hmget(this.keys.manifest, 'record', 'sequence'));
    return { ...(record ? { record } : {}), sequence: Number(sequence ?? 0) };
  }

  /** Writes a manifest on its own (a re-sign): a change with nothing else in it, through the delete script. */
  async writeManifest(manifest: ManifestWrite): Promise<number> {
    return (await this.delete([], { ignoreNotFound: true }, manifest)).revision;
  }

  async get(ref: ResourceRef): Promise<Resource | undefined> {
    const key = refKey(ref);
    const [doc, meta] = await this.#exec('get', (m) => m.hget(this.keys.resources, key).hget(this.keys.resourceMeta, key));
    return typeof doc === 'string' ? decodeResource(doc, (meta as string | null) ?? undefined, key) : undefined;
  }

  /** Resources sorted by kind/namespace/name, optionally only one kind and/or namespace. */
  async list(kind?: string, namespace?: string): Promise<Resource[]> {
    const [docs, metas] = await this.#exec('list', (m) => m.hgetall(this.keys.resources).hgetall(this.keys.resourceMeta));
    const meta = metas as Record<string, string>;
    return sortedEntries(docs as Record<string, string>)
      .filter(([key]) => {
        const [k, ns] = key.split('/');
        return (!kind || k === kind) && (!namespace || ns === namespace);
      })
      .map(([key, doc]) => decodeResource(doc, meta[key], key));
  }

  // ---- registry: nodes ----------------------------------------------------------

  /** Records that a node is alive for ttlSeconds. Liveness is not configuration: no revision bump. */
  async heartbeatNode(node: NodeRecord, ttlSeconds: number): Promise<void> {
    checkName('node name', node.name);
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) {
      throw new StoreError('ESTORE_INVALID', `heartbeat TTL must be a whole number of seconds >= 1, got ${ttlSeconds}`);
    }
    const record = JSON.stringify({ ...node, lastSeen: Date.now() });
    await this.#run('heartbeat', () => this.redis.set(this.keys.node(node.name), record, 'EX', ttlSeconds));
  }

  /**
   * A daemon's report about itself (tunnels, certificates), kept for `ttlSeconds`
   * so a dead daemon's report disappears. Not config: no revision, no notification.
   */
  async publishNodeStatus(name: string, status: NodeStatusReport, ttlSeconds: number): Promise<void> {
    checkName('node name', name);
    await this.#run('publishNodeStatus', () => this.redis.set(this.keys.nodeStatus(name), JSON.stringify(status), 'EX', ttlSeconds));
  }

  /** Every live daemon's last report, by node name. */
  async nodeStatuses(): Promise<NodeStatuses> {
    return this.#run('nodeStatuses', async () => {
      const keys = await this.scanKeys(this.keys.nodeStatusPattern);
      const out: NodeStatuses = { reports: new Map(), invalid: [] };
      if (keys.length === 0) return out;
      const values = await this.redis.mget(...keys);
      keys.forEach((key, i) => {
        const raw = values[i];
        if (!raw) return;
        const node = key.slice(key.lastIndexOf(':') + 1);
        try {
          out.reports.set(node, decodeRecord(nodeStatusSchema(), raw, key));
        } catch (err) {
          out.invalid.push({ node, reason: (err as Error).message });
        }
      });
      return out;
    });
  }

  async getNode(name: string): Promise<NodeRecord | undefined> {
    const raw = await this.#run('getNode', () => this.redis.get(this.keys.node(name)));
    return raw ? decodeRecord(nodeRecord(), raw, this.keys.node(name)) : undefined;
  }

  /** Live nodes (heartbeat not yet expired), sorted by name. */
  async listNodes(): Promise<NodeRecord[]> {
    return this.#run('listNodes', async () => {
      const keys = await this.scanKeys(this.keys.nodePattern);
      if (keys.length === 0) return [];
      const values = await this.redis.mget(...keys);
      return values
        .filter((v): v is string => typeof v === 'string') // expired between SCAN and MGET
        .map((v) => decodeRecord(nodeRecord(), v, 'node record'))
        .sort((a, b) => cmp(a.name, b.name));
    });
  }

  // ---- registry: services and endpoints -----------------------------------------

  /**
   * Adds or updates one endpoint and its service (ports are the union of its endpoints).
   * A new service gets a VIP from the mesh's range in the same atomic write; VipError
   * EVIP_EXHAUSTED when the range is full, and then nothing is written.
   */
  async enroll(endpoint: EndpointRecord, manifest?: ManifestWrite): Promise<EnrollResult> {
    checkEndpoint(endpoint);
    const k = this.keys;
    const { namespace, service: name } = endpoint;
    const keys = [k.revision, k.services, k.endpoints, k.changes, k.serviceEndpoints(namespace, name), k.vips, k.vipOwners, k.vipEpoch, k.mesh, k.manifest];
    const args = [k.channel, this.#maxlen, serviceKey(namespace, name), endpointKey(endpoint), encodeEndpoint(endpoint), endpoint.port, name, namespace];
    const reply = (await this.#run('enroll', () =>
      withVipClaim(this.redis, k, { namespace, name }, (c) =>
        this.#scripts.enroll(keys, [...args, c.vip, c.cidr, DEFAULT_VIP_CIDR, ...manifestArgs(manifest)]),
      ),
    )) as [number, EnrollResult['action'], string];
    return { revision: Number(reply[0]), action: reply[1], vip: reply[2] };
  }

  /** Removes the matching endpoints of a service, and the service when none is left. */
  async unenroll(namespace: string, service: string, filter: UnenrollFilter = {}, manifest?: ManifestWrite): Promise<UnenrollResult> {
    const k = this.keys;
    const svc = serviceKey(namespace, service);
    const reply = (await this.#run('unenroll', () =>
      this.#scripts.unenroll(
        [k.revision, k.services, k.endpoints, k.changes, k.serviceEndpoints(namespace, service), k.vips, k.vipOwners, k.vipEpoch, k.manifest],
        [k.channel, this.#maxlen, svc, filter.node ?? '', filter.address ?? '', filter.port ?? '', ...manifestArgs(manifest)],
      ),
    )) as [number, number, number];
    const [revision, removed, serviceDeleted] = reply;
    if (removed === 0 && !filter.ignoreNotFound) {
      const which = [filter.node && `node ${filter.node}`, filter.address, filter.port && `port ${filter.port}`].filter(Boolean);
      throw new NotFoundError(`endpoint of service ${svc}${which.length ? ` (${which.join(', ')})` : ''}`, { service: svc });
    }
    return { revision: Number(revision), removed, serviceDeleted: serviceDeleted === 1 };
  }

  /**
   * The VIP held by `namespace/name`, claiming one if it holds none. For names that are not
   * enrolled services (ServiceEntry hosts without addresses); they share the range and the
   * uniqueness with services, but no registry record or revision changes. An enrolled
   * service's VIP is returned as is (and goes with the service when it is deleted; hosts
   * are FQDNs and service names DNS labels, so the two do not meet by accident).
   */
  async allocateVip(namespace: string, name: string): Promise<string> {
    checkName('namespace', namespace);
    checkName('name', name);
    const k = this.keys;
    const reply = await this.#run('allocateVip', () =>
      withVipClaim(this.redis, k, { namespace, name }, (c) =>
        this.#scripts.claimVip([k.vips, k.vipOwners, k.vipEpoch, k.mesh], [serviceKey(namespace, name), c.vip, c.cidr, DEFAULT_VIP_CIDR]),
      ),
    );
    return String(reply[1]);
  }

  async getService(namespace: string, name: string): Promise<ServiceRecord | undefined> {
    const raw = await this.#run('getService', () => this.redis.hget(this.keys.services, serviceKey(namespace, name)));
    return raw ? decodeRecord(serviceRecord(), raw, `service ${serviceKey(namespace, name)}`) : undefined;
  }

  /** Services sorted by namespace/name. */
  async listServices(namespace?: string): Promise<ServiceRecord[]> {
    const all = await this.#run('listServices', () => this.redis.hgetall(this.keys.services));
    return sortedEntries(all)
      .filter(([key]) => !namespace || key.startsWith(`${namespace}/`))
      .map(([key, v]) => decodeRecord(serviceRecord(), v, `service ${key}`));
  }

  /** Endpoints sorted by endpoint key (namespace/service/node/address:port). */
  async listEndpoints(filter: EndpointFilter = {}): Promise<EndpointRecord[]> {
    const [all, ready] = await Promise.all([this.#run('listEndpoints', () => this.redis.hgetall(this.keys.endpoints)), this.readyWaypoints()]);
    return sortedEntries(all)
      .map(([key, v]) => withReadiness(decodeRecord(endpointRecord(), v, `endpoint ${key}`), ready))
      .filter(
        (e) =>
          (!filter.namespace || e.namespace === filter.namespace) &&
          (!filter.service || e.service === filter.service) &&
          (!filter.node || e.node === filter.node),
      );
  }

  // ---- waypoint readiness: each node's own word (core/store/waypoint-readiness.ts) ----

  /** Endpoint keys of the waypoints their nodes say are ready. */
  async readyWaypoints(): Promise<Set<string>> {
    return this.#run('readyWaypoints', async () => {
      const keys = await this.scanKeys(this.keys.waypointReadyPattern);
      const byNode = new Map<string, Record<string, string>>();
      if (keys.length === 0) return readinessFrom(byNode);
      const replies = (await keys.reduce((p, k) => p.hgetall(k), this.redis.pipeline()).exec()) ?? [];
      const from = this.keys.waypointReady('').length;
      keys.forEach((k, i) => {
        const [err, fields] = replies[i] ?? [];
        if (!err && fields && typeof fields === 'object') byNode.set(k.slice(from), fields as Record<string, string>);
      });
      return readinessFrom(byNode);
    });
  }

  /** This node says one of its waypoints is (or is no longer) ready, and tells the watchers. */
  async setWaypointReady(endpoint: EndpointRecord, ready: boolean): Promise<void> {
    const key = this.keys.waypointReady(endpoint.node);
    const field = endpointKey(endpoint);
    await this.#exec('setWaypointReady', (m) =>
      (ready ? m.hset(key, field, 'ready') : m.hdel(key, field)).publish(this.keys.nodeChannel, JSON.stringify({ node: endpoint.node })),
    );
  }

  // ---- mesh settings --------------------------------------------------------------

  /** The mesh-wide settings, with defaults for what was never set. */
  async meshSettings(): Promise<MeshSettings> {
    return this.#run('meshSettings', () => readMeshSettings(this.redis, this.keys));
  }

  /**
   * Changes the VIP range (EVIP_INVALID_CIDR for a bad one). New VIPs come from the new
   * range; VipError EVIP_RANGE_IN_USE if any VIP already handed out lies outside it.
   */
  async setMeshSettings(settings: MeshSettings): Promise<MeshSettings> {
    return this.#run('setMeshSettings', () => writeMeshSettings(this.redis, this.keys, this.#scripts.setMesh, settings));
  }

  // ---- snapshots and the change log ---------------------------------------------

  /** Everything a proxy needs, read in one MULTI so it matches exactly one revision. */
  async snapshot(): Promise<Snapshot> {
    const k = this.keys;
    const [rev, docs, metas, services, endpoints, manifest] = await this.#exec('snapshot', (m) =>
      m.get(k.revision).hgetall(k.resources).hgetall(k.resourceMeta).hgetall(k.services).hgetall(k.endpoints).hget(k.manifest, 'record'),
    );
    const meta = metas as Record<string, string>;
    const ready = await this.readyWaypoints();
    return {
      readyWaypoints: ready,
      revision: Number(rev ?? 0),
      ...(typeof manifest === 'string' ? { manifest } : {}),
      resources: new Map(sortedEntries(docs as Record<string, string>).map(([key, d]) => [key, decodeResource(d, meta[key], key)])),
      services: new Map(sortedEntries(services as Record<string, string>).map(([key, s]) => [key, decodeRecord(serviceRecord(), s, `service ${key}`)])),
      endpoints: new Map(
        sortedEntries(endpoints as Record<string, string>).map(([key, e]) => [key, withReadiness(decodeRecord(endpointRecord(), e, `endpoint ${key}`), ready)]),
      ),
    };
  }

  /**
   * The changes after `revision`, in order, or undefined when they cannot be replayed:
   * the log was trimmed past them, or Redis went backwards (restored or flushed).
   * Either way the caller must reload a full snapshot.
   */
  async changesSince(revision: number): Promise<Change[] | undefined> {
    const k = this.keys;
    const [rev, entries] = await this.#exec('changesSince', (m) => m.get(k.revision).xrange(k.changes, `${revision + 1}-0`, '+'));
    const current = Number(rev ?? 0);
    if (current < revision) return undefined;
    const changes: Change[] = [];
    let expect = revision + 1;
    for (const [id, fields] of entries as [string, string[]][]) {
      const at = parseEntryId(id);
      if (at.revision === expect && at.seq === 0) expect++;
      else if (at.revision !== expect - 1) return undefined; // a revision's first entry is gone: trimmed
      changes.push(decodeChange(at.revision, fields));
    }
    return expect === current + 1 ? changes : undefined;
  }

  // ---- plumbing -----------------------------------------------------------------

  /** Runs one MULTI and unwraps its per-command errors. */
  /** Every key matching `pattern` (SCAN, so Redis is never blocked by KEYS). */
  async scanKeys(pattern: string): Promise<string[]> {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 200);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    return keys;
  }

  async #exec(op: string, build: (m: ChainableCommander) => ChainableCommander): Promise<unknown[]> {
    return this.#run(op, async () => {
      const replies = (await build(this.redis.multi()).exec()) ?? [];
      return replies.map(([err, value]) => {
        if (err) throw err;
        return value;
      });
    });
  }

  /** Maps client and server failures to StoreError with a stable code. */
  async #run<T>(op: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toStoreError(op, err, this.options);
    }
  }
}

function toStoreError(op: string, err: unknown, opts: StoreOptions): AmbitError {
  if (isAmbitError(err)) return err;
  const msg = err instanceof Error ? err.message : String(err);
  const scripted = /^(ESTORE_[A-Z_]+) (.*)$/s.exec(msg);
  if (scripted && isStoreErrorCode(scripted[1]!)) return new StoreError(scripted[1], scripted[2]!.split('\nscript:')[0]!.trim(), { op });
  if (/^NOPERM/.test(msg)) {
    return new AccessError(
      'EACCESS_DENIED',
      `Redis refused ${op} for user ${opts.username ?? 'default'}: ${msg}; this role may not do that (operators use the credentials from ambit store init)`,
      { op, user: opts.username ?? 'default' },
      { cause: err },
    );
  }
  if (/Connection is closed|MaxRetriesPerRequest|ECONNREFUSED|ETIMEDOUT|ECONNRESET|Stream isn't writeable/.test(msg)) {
    return unreachable(opts, err);
  }
  return new StoreError('EREDIS', `Redis ${op} failed: ${msg}`, { op }, { cause: err });
}

/** The three script arguments of a signed manifest write; empty ones when the write carries none. */
function manifestArgs(m: ManifestWrite | undefined): (string | number)[] {
  return m ? [String(m.expect), String(m.sequence), m.record] : ['', '', ''];
}

function checkName(what: string, v: unknown): void {
  if (typeof v !== 'string' || !NAME.test(v)) {
    throw new StoreError('ESTORE_INVALID', `${what} is required and may not contain "/" or spaces, got ${JSON.stringify(v)}`);
  }
}

function checkEndpoint(e: EndpointRecord): void {
  checkName('service', e.service);
  checkName('namespace', e.namespace);
  checkName('node', e.node);
  checkName('address', e.address);
  checkName('serviceAccount', e.serviceAccount);
  if (!Number.isInteger(e.port) || e.port < 1 || e.port > 65535) {
    throw new StoreError('ESTORE_INVALID', `port must be 1-65535, got ${JSON.stringify(e.port)}`);
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortedEntries(h: Record<string, string> | null | undefined): [string, string][] {
  return Object.entries(h ?? {}).sort(([a], [b]) => cmp(a, b));
}
