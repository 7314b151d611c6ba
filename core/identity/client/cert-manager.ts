/**
 * Keeps a node's certificates fresh: its own node certificate and one workload
 * certificate per identity enrolled on it. Each is renewed at half life with a
 * new key (the node key stays: it is on disk); a failed renewal is retried with
 * backoff while the old certificate is still served. Every new certificate, and
 * every trust bundle change, is announced with `updated`, so TLS contexts are
 * swapped (setSecureContext) for new connections without a restart.
 *
 * When the bundle gains a root (`ambit ca rotate`), everything is renewed at
 * once, so leaves move to the new root well before the old one is dropped.
 */
import { EventEmitter } from 'node:events';
import { logger } from '../../logging.js';
import type { Store } from '../../store/index.js';
import { bundlePem, type TrustBundle } from '../bundle.js';
import { IdentityError } from '../errors.js';
import { parseSpiffeId } from '../spiffe.js';
import { requireBundle } from '../store/bundle.js';
import { watchBundle, type BundleWatch } from '../store/bundle-watch.js';
import type { PublishedBundle } from '../store/bundle.js';
import { countRefusal } from '../trust/refusals.js';
import { checkBundleUpdate } from '../trust/signed-bundle.js';
import { verifyPeerChain } from '../verify.js';
import { saveBundle, saveNodeIdentity, type NodeIdentity } from './node-identity.js';
import { requestNodeRenewal, requestWorkloadCert, type KeyedCert } from './requests.js';
import { DEFAULT_REQUEST_TIMEOUT_MS, SignerClient } from './signer-client.js';

const log = logger('identity-certs');
// setTimeout keeps delays in a signed 32-bit int.
const MAX_TIMER_MS = 2 ** 31 - 1;
/** A renewal this much after its time is logged as late (event loop stalls, slow signer). */
const LATE_MS = 1000;

/** What a TLS endpoint needs for one identity. */
export interface CertMaterial {
  keyPem: string;
  chainPem: string;
  /** All trusted roots (two during a root rotation). */
  bundlePem: string;
}

export interface CertStatus {
  spiffeId: string;
  kind: 'node' | 'workload';
  state: 'valid' | 'pending' | 'expired';
  serial?: string;
  notBefore?: string;
  notAfter?: string;
  renewAt?: string;
  remainingSeconds?: number;
  renewals: number;
  lastError?: string;
}

export interface CertManagerEvents {
  /** A new certificate for `spiffeId`, or the same one with a changed bundle. */
  updated: [spiffeId: string, material: CertMaterial];
  /** The node certificate was renewed. */
  node: [identity: NodeIdentity];
  bundle: [bundle: TrustBundle];
  /** The store's bundle was refused (unsigned, signed by a root this node does not trust, or older); the trusted one stays. */
  refused: [reason: string, detail: string];
  /** A renewal failed; it is retried with backoff. */
  failed: [spiffeId: string, error: Error];
}

export interface CertManagerOptions {
  store: Store;
  node: NodeIdentity;
  /** The node's state directory: renewed node certificates and bundles are written back here. */
  dir?: string;
  requestTimeoutMs?: number;
  /** Backoff between failed attempts: from retryMinMs doubling to retryMaxMs (default 500 ms .. 30 s). */
  retryMinMs?: number;
  retryMaxMs?: number;
  bundlePollMs?: number;
}

interface Slot {
  readonly id: string;
  readonly kind: 'node' | 'workload';
  cert?: KeyedCert;
  timer?: NodeJS.Timeout;
  attempt: number;
  renewals: number;
  lastError?: string;
  inflight?: Promise<void>;
}

export class CertManager extends EventEmitter<CertManagerEvents> {
  #node: NodeIdentity;
  #bundle: TrustBundle;
  /** Sequence of the signed bundle record #bundle came from: a lower one is a replay. */
  #bundleSequence: number;
  readonly #client: SignerClient;
  readonly #workloads = new Map<string, Slot>();
  readonly #nodeSlot: Slot;
  #watch: BundleWatch | undefined;
  #stopped = false;
  readonly #opts: CertManagerOptions;

  constructor(opts: CertManagerOptions) {
    super();
    this.#opts = opts;
    this.#node = opts.node;
    this.#bundle = opts.node.bundle;
    this.#bundleSequence = opts.node.bundleSequence ?? 0;
    this.#client = new SignerClient(opts.store, opts.node.spiffeId.node, opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
    this.#nodeSlot = { id: opts.node.spiffeId.uri, kind: 'node', attempt: 0, renewals: 0 };
  }

  /** Reads the published bundle, starts following it and schedules the node certificate's renewal. */
  async start(): Promise<void> {
    // The bundle pinned on disk is the trust anchor; the store's is only a candidate to check against it.
    const published = await requireBundle(this.#opts.store);
    await this.#onBundle(published);
    this.#watch = watchBundle(this.#opts.store, (p) => this.#onBundle(p), {
      sinceRevision: published.revision,
      ...(this.#opts.bundlePollMs ? { pollMs: this.#opts.bundlePollMs } : {}),
    });
    this.#schedule(this.#nodeSlot, this.#node.renewAt);
  }

  /**
   * The workload identities this node should hold (SPIFFE URIs). New ones are
   * requested now (resolves once each has a certificate or has failed once),
   * dropped ones are forgotten.
   */
  async setIdentities(ids: Iterable<string>): Promise<void> {
    const wanted = new Set<string>();
    for (const id of ids) {
      if (parseSpiffeId(id).kind !== 'workload')
        throw new IdentityError('EIDENTITY_INVALID_SPIFFE_ID', `${id} is not a workload identity (spiffe://<td>/ns/<ns>/sa/<sa>)`, { spiffeId: id });
      wanted.add(id);
    }
    for (const [id, slot] of this.#workloads) {
      if (wanted.has(id)) continue;
      clearTimeout(slot.timer);
      this.#workloads.delete(id);
      log.info({ spiffeId: id }, 'identity no longer enrolled here; certificate dropped');
    }
    const added: Slot[] = [];
    for (const id of wanted) {
      if (this.#workloads.has(id)) continue;
      const slot: Slot = { id, kind: 'workload', attempt: 0, renewals: 0 };
      this.#workloads.set(id, slot);
      added.push(slot);
    }
    await Promise.all(added.map((s) => this.#renew(s)));
  }

  /** The current material of an identity, or undefined before its first certificate. */
  material(spiffeId: string): CertMaterial | undefined {
    const cert = this.#workloads.get(spiffeId)?.cert;
    return cert && { keyPem: cert.keyPem, chainPem: cert.chainPem, bundlePem: bundlePem(this.#bundle) };
  }

  current(spiffeId: string): KeyedCert | undefined {
    return this.#workloads.get(spiffeId)?.cert;
  }

  nodeIdentity(): NodeIdentity {
    return this.#node;
  }

  trustBundle(): TrustBundle {
    return this.#bundle;
  }

  /** For the admin API's /certs: the node certificate first, then workloads by identity. */
  list(now = Date.now()): CertStatus[] {
    const nodeCert = { serial: this.#node.serial, notBefore: undefined, notAfter: this.#node.notAfter, renewAt: this.#node.renewAt };
    const out = [status(this.#nodeSlot, nodeCert, now)];
    for (const slot of [...this.#workloads.values()].sort((a, b) => (a.id < b.id ? -1 : 1))) out.push(status(slot, slot.cert, now));
    return out;
  }

  /** Renews now instead of at half life: all certificates, or one identity. */
  async renewNow(spiffeId?: string): Promise<void> {
    if (spiffeId === undefined || spiffeId === this.#nodeSlot.id) await this.#renew(this.#nodeSlot);
    const slots = spiffeId === undefined ? [...this.#workloads.values()] : [this.#workloads.get(spiffeId)].filter((s): s is Slot => s !== undefined);
    await Promise.all(slots.map((s) => this.#renew(s)));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const slot of [this.#nodeSlot, ...this.#workloads.values()]) clearTimeout(slot.timer);
    await this.#watch?.stop();
    await Promise.allSettled([this.#nodeSlot, ...this.#workloads.values()].flatMap((s) => (s.inflight ? [s.inflight] : [])));
    this.#client.close();
  }

  #schedule(slot: Slot, at: Date): void {
    clearTimeout(slot.timer);
    if (this.#stopped) return;
    const delay = Math.min(Math.max(at.getTime() - Date.now(), 0), MAX_TIMER_MS);
    slot.timer = setTimeout(() => void this.#renew(slot), delay);
    // The daemon's servers keep the process alive, not a renewal timer.
    slot.timer.unref();
  }

  #renew(slot: Slot): Promise<void> {
    slot.inflight ??= this.#attempt(slot).finally(() => (slot.inflight = undefined));
    return slot.inflight;
  }

  async #attempt(slot: Slot): Promise<void> {
    if (this.#stopped) return;
    clearTimeout(slot.timer);
    const due = slot.kind === 'node' ? this.#node.renewAt : slot.cert?.renewAt;
    const lateMs = due ? Date.now() - due.getTime() : 0;
    try {
      const next = slot.kind === 'node' ? await this.#renewNode() : this.#trusted(await requestWorkloadCert(this.#client, this.#node, slot.id), slot.id);
      if (this.#stopped || (slot.kind === 'workload' && this.#workloads.get(slot.id) !== slot)) return;
      slot.attempt = 0;
      slot.renewals++;
      delete slot.lastError;
      const fields = { spiffeId: slot.id, serial: next.serial, notAfter: next.notAfter.toISOString(), renewAt: next.renewAt.toISOString() };
      if (lateMs > LATE_MS) log.warn({ ...fields, lateMs }, 'certificate renewed late');
      else log.info(fields, slot.renewals === 1 && slot.kind === 'workload' ? 'certificate issued' : 'certificate renewed');
      if (slot.kind === 'workload') {
        slot.cert = next as KeyedCert;
        this.emit('updated', slot.id, this.material(slot.id)!);
      }
      this.#schedule(slot, next.renewAt);
    } catch (err) {
      if (this.#stopped) return;
      const error = err as Error;
      slot.attempt++;
      slot.lastError = error.message;
      const delay = Math.min((this.#opts.retryMinMs ?? 500) * 2 ** (slot.attempt - 1), this.#opts.retryMaxMs ?? 30_000);
      const notAfter = slot.kind === 'node' ? this.#node.notAfter : slot.cert?.notAfter;
      const expired = notAfter !== undefined && notAfter.getTime() <= Date.now();
      log[expired ? 'error' : 'warn'](
        { spiffeId: slot.id, code: (err as IdentityError).code, err: error.message, attempt: slot.attempt, retryInMs: delay, expired },
        expired ? 'certificate expired and renewal failed' : 'certificate renewal failed; retrying',
      );
      this.emit('failed', slot.id, error);
      this.#schedule(slot, new Date(Date.now() + delay));
    }
  }

  /**
   * The answer came back through the store, which anyone with write access could have filled: the certificate is
   * used only if it chains to the trusted bundle and names the identity asked for (a refusal is a failed renewal:
   * retried, the old certificate still served).
   */
  #trusted<C extends { chainPem: string }>(issued: C, id: string): C {
    const peer = verifyPeerChain(issued.chainPem, this.#bundle);
    if (peer.spiffeId.uri !== id) {
      throw new IdentityError('EIDENTITY_UNTRUSTED', `the certificate returned for ${id} is for ${peer.spiffeId.uri}`, { spiffeId: id });
    }
    return issued;
  }

  async #renewNode(): Promise<NodeIdentity> {
    const next = this.#trusted(await requestNodeRenewal(this.#client, this.#node), this.#node.spiffeId.uri);
    this.#node = next;
    if (this.#opts.dir) await saveNodeIdentity(this.#opts.dir, { ...next, bundle: this.#bundle, bundleSequence: this.#bundleSequence }, { withKey: false });
    this.emit('node', next);
    return next;
  }

  async #onBundle(published: PublishedBundle): Promise<void> {
    const verdict = checkBundleUpdate({ bundle: this.#bundle, sequence: this.#bundleSequence }, published.signature);
    if (!verdict.accept) {
      countRefusal('bundle', verdict.reason);
      log.error(
        { reason: verdict.reason, detail: verdict.detail, revision: published.revision },
        'refused the trust bundle in the store: not signed by a trusted root; keeping the trusted one',
      );
      this.emit('refused', verdict.reason, verdict.detail);
      return;
    }
    if (!verdict.changed) {
      this.#bundleSequence = verdict.trusted.sequence;
      return;
    }
    const { bundle, sequence } = verdict.trusted;
    const added = bundle.roots.filter((r) => !this.#bundle.roots.includes(r));
    this.#bundle = bundle;
    this.#bundleSequence = sequence;
    log.info({ roots: bundle.roots.length, added: added.length, sequence }, 'trust bundle changed');
    if (this.#opts.dir)
      await saveBundle(this.#opts.dir, bundle, sequence).catch((err: Error) => log.warn({ err: err.message }, 'writing the trust bundle failed'));
    this.emit('bundle', bundle);
    for (const id of this.#workloads.keys()) {
      const material = this.material(id);
      if (material) this.emit('updated', id, material);
    }
    if (added.length > 0) {
      // The node certificate first: workload requests are authenticated with it.
      await this.#renew(this.#nodeSlot);
      await Promise.all([...this.#workloads.values()].map((s) => this.#renew(s)));
    }
  }
}

function status(slot: Slot, cert: { serial: string; notBefore?: Date | undefined; notAfter: Date; renewAt: Date } | undefined, now: number): CertStatus {
  const base = { spiffeId: slot.id, kind: slot.kind, renewals: slot.renewals, ...(slot.lastError ? { lastError: slot.lastError } : {}) };
  if (!cert) return { ...base, state: 'pending' };
  const remainingSeconds = Math.floor((cert.notAfter.getTime() - now) / 1000);
  return {
    ...base,
    state: remainingSeconds > 0 ? 'valid' : 'expired',
    serial: cert.serial,
    ...(cert.notBefore ? { notBefore: cert.notBefore.toISOString() } : {}),
    notAfter: cert.notAfter.toISOString(),
    renewAt: cert.renewAt.toISOString(),
    remainingSeconds,
  };
}
