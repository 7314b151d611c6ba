/**
 * The signer: takes requests off the store's queue, decides, issues, answers.
 * Runs as `ambit ca serve` or embedded in `ambitd --ca` via startSigner().
 * Several signers may serve one store: BLPOP hands each request to one.
 *
 * It signs with the CA in the operator's directory and reloads it whenever the
 * published trust bundle changes (that is how `ambit ca rotate` takes effect
 * without a restart). A CA whose root is not in the bundle is never used:
 * its leaves would verify nowhere.
 */
import { AmbitError, isAmbitError } from '../../errors.js';
import { logger } from '../../logging.js';
import type { Store } from '../../store/index.js';
import { createBundle, rootFingerprint, serializeBundle, type TrustBundle } from '../bundle.js';
import type { SigningCA } from '../ca.js';
import { DEFAULT_CA_DIR, loadCADir, loadPreviousCA } from '../ca-dir.js';
import { IdentityError } from '../errors.js';
import { requireBundle, type PublishedBundle } from '../store/bundle.js';
import { countRefusal } from '../trust/refusals.js';
import { checkBundleUpdate } from '../trust/signed-bundle.js';
import { watchBundle, type BundleWatch } from '../store/bundle-watch.js';
import { recordIssued } from '../store/issued.js';
import { identityKeys } from '../store/keys.js';
import { decide, type Decision } from './decide.js';
import { SignedManifests } from './signed-enrollment.js';
import { SequenceFile } from '../manifest/sequence-file.js';
import { answerAddressOf, parseRequest, type SignRequest, type SignResponse } from './protocol.js';

const log = logger('identity-signer');

export const DEFAULT_NODE_CERT_TTL_SECONDS = 7 * 24 * 3600;
export const DEFAULT_WORKLOAD_CERT_TTL_SECONDS = 24 * 3600;
/** How long an answer waits for its requester before Redis drops it. */
const RESPONSE_TTL_MS = 60_000;

export interface SignerOptions {
  store: Store;
  /** The CA directory (default /etc/ambit/ca); reloaded when the bundle changes. */
  caDir?: string;
  /** An in-memory CA instead of caDir (tests, benches); never reloaded. */
  ca?: SigningCA;
  /**
   * Where the highest accepted manifest sequence is kept (default: caDir), so
   * a restarted signer refuses an older, replayed manifest; with `ca` and no
   * caDir or stateDir, in memory only.
   */
  stateDir?: string;
  nodeCertTtlSeconds?: number;
  workloadCertTtlSeconds?: number;
  bundlePollMs?: number;
}

export interface SignerStats {
  issued: number;
  refused: number;
  /** Trust bundles in the store refused because no trusted root signed them. */
  bundlesRefused: number;
}

export interface RunningSigner {
  readonly ca: SigningCA;
  readonly stats: SignerStats;
  stop(): Promise<void>;
}

function checkRootInBundle(ca: SigningCA, bundle: TrustBundle, where: string): void {
  const fp = ca.root.native.fingerprint256;
  if (!bundle.roots.some((r) => rootFingerprint(r) === fp)) {
    throw new IdentityError(
      'EIDENTITY_UNTRUSTED',
      `the CA in ${where} (root ${fp.slice(0, 23)}…) is not in the store's trust bundle; run \`ambit ca init\` or \`ambit ca rotate\` for this CA`,
      { root: fp },
    );
  }
  if (ca.trustDomain !== bundle.trustDomain) {
    throw new IdentityError(
      'EIDENTITY_WRONG_TRUST_DOMAIN',
      `the CA in ${where} is for trust domain ${ca.trustDomain}, the store's bundle for ${bundle.trustDomain}`,
    );
  }
}

/** How long stop() waits for a request being processed to be answered. */
const STOP_WAIT_MS = 2000;

class Signer implements RunningSigner {
  readonly stats: SignerStats = { issued: 0, refused: 0, bundlesRefused: 0 };
  #stopped = false;
  #loop: Promise<void> = Promise.resolve();
  readonly #blocking;
  #watch: BundleWatch | undefined;
  readonly #opts: SignerOptions;
  #bundle: TrustBundle;
  #bundleSequence: number;
  readonly #manifests: SignedManifests;

  constructor(
    opts: SignerOptions,
    public ca: SigningCA,
    bundle: TrustBundle,
    sequence: number,
    manifests: SignedManifests,
  ) {
    this.#opts = opts;
    this.#manifests = manifests;
    this.#bundle = bundle;
    this.#bundleSequence = sequence;
    // BLPOP holds its connection, so it gets one of its own.
    this.#blocking = opts.store.redis.duplicate();
    this.#blocking.on('error', () => undefined);
  }

  start(revision: number): void {
    this.#watch = watchBundle(this.#opts.store, (p) => this.#onBundle(p), {
      sinceRevision: revision,
      ...(this.#opts.bundlePollMs ? { pollMs: this.#opts.bundlePollMs } : {}),
    });
    this.#loop = this.#serve();
  }

  async #onBundle(published: PublishedBundle): Promise<void> {
    const verdict = checkBundleUpdate({ bundle: this.#bundle, sequence: this.#bundleSequence }, published.signature);
    if (!verdict.accept) {
      this.stats.bundlesRefused++;
      countRefusal('bundle', verdict.reason);
      log.error(
        { reason: verdict.reason, detail: verdict.detail },
        'refused the trust bundle in the store: not signed by a trusted root; still signing with the trusted one',
      );
      return;
    }
    const { bundle } = verdict.trusted;
    let ca = this.ca;
    const where = this.#opts.caDir ?? 'memory';
    try {
      if (this.#opts.caDir && !this.#opts.ca) ca = await loadCADir(this.#opts.caDir);
      checkRootInBundle(ca, bundle, where);
    } catch (err) {
      log.error(
        { err: (err as Error).message, roots: bundle.roots.length },
        'trust bundle changed but the CA cannot be used with it; still signing with the previous CA',
      );
      return;
    }
    const rotated = ca.root.native.fingerprint256 !== this.ca.root.native.fingerprint256;
    this.ca = ca;
    this.#bundle = bundle;
    this.#bundleSequence = verdict.trusted.sequence;
    log.info({ roots: bundle.roots.length, root: ca.root.native.fingerprint256, rotated }, rotated ? 'signing with the new root' : 'trust bundle updated');
  }

  async #serve(): Promise<void> {
    const queue = identityKeys(this.#opts.store).requests;
    while (!this.#stopped) {
      let popped: [string, string] | null;
      try {
        popped = await this.#blocking.blpop(queue, 1);
      } catch (err) {
        if (this.#stopped) break;
        log.warn({ err: (err as Error).message }, 'reading signing requests failed; retrying');
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      if (popped) await this.#process(popped[1]);
    }
  }

  async #process(raw: string): Promise<void> {
    const started = performance.now();
    let req: SignRequest;
    try {
      req = parseRequest(raw);
    } catch (err) {
      const to = answerAddressOf(raw);
      this.stats.refused++;
      log.warn({ err: (err as Error).message, id: to?.id, node: to?.node }, 'malformed signing request');
      if (to) await this.#answer(to, refusal(err));
      return;
    }
    if (req.deadline < Date.now()) {
      // Nobody waits for it, and a join would spend a token for nothing.
      log.info({ id: req.id, kind: req.kind }, 'dropped a signing request whose requester gave up');
      return;
    }
    // A rotation published a moment ago may not have reached us through pub/sub yet.
    await this.#watch?.sync().catch((err: Error) => log.warn({ err: err.message }, 'checking the trust bundle failed'));
    // One CA for the whole request, even if a rotation lands meanwhile.
    const ca = this.ca;
    let decision: Decision;
    try {
      decision = await decide(
        { store: this.#opts.store, ca, bundle: this.#bundle, nodeTtlSeconds: this.#nodeTtl, workloadTtlSeconds: this.#workloadTtl, manifests: this.#manifests },
        req,
      );
    } catch (err) {
      this.stats.refused++;
      const out = refusal(err);
      const level = err instanceof AmbitError ? 'warn' : 'error';
      log[level]({ id: req.id, kind: req.kind, code: out.ok ? undefined : out.code, err: out.ok ? undefined : out.message }, 'refused a certificate');
      await this.#answer(req, out);
      return;
    }
    const { issued, node } = decision;
    this.stats.issued++;
    const kind = issued.spiffeId.kind === 'node' ? 'node' : 'workload';
    await recordIssued(this.#opts.store, {
      node,
      spiffeId: issued.spiffeId.uri,
      kind,
      serial: issued.serial,
      notBefore: issued.notBefore.toISOString(),
      notAfter: issued.notAfter.toISOString(),
      renewAt: issued.renewAt.toISOString(),
      root: ca.root.native.fingerprint256,
      issuer: ca.signer.cert.subject,
      issuedAt: new Date().toISOString(),
    }).catch((err: Error) => log.warn({ err: err.message }, 'recording an issued certificate failed'));
    // Answered after recording, so `ambit certs` never lags behind what a node holds.
    await this.#answer(req, {
      ok: true,
      certPem: issued.certPem,
      chainPem: issued.chainPem,
      bundle: serializeBundle(this.#bundle),
      serial: issued.serial,
      notBefore: issued.notBefore.toISOString(),
      notAfter: issued.notAfter.toISOString(),
      renewAt: issued.renewAt.toISOString(),
    });
    const ms = Math.round((performance.now() - started) * 10) / 10;
    log.info(
      {
        id: req.id,
        kind: req.kind,
        node,
        spiffeId: issued.spiffeId.uri,
        serial: issued.serial,
        notAfter: issued.notAfter.toISOString(),
        clamped: issued.clamped,
        ms,
      },
      'issued a certificate',
    );
  }

  get #nodeTtl(): number {
    return this.#opts.nodeCertTtlSeconds ?? DEFAULT_NODE_CERT_TTL_SECONDS;
  }

  get #workloadTtl(): number {
    return this.#opts.workloadCertTtlSeconds ?? DEFAULT_WORKLOAD_CERT_TTL_SECONDS;
  }

  async #answer({ node, id }: { node: string; id: string }, response: SignResponse): Promise<void> {
    const key = identityKeys(this.#opts.store).response(node, id);
    try {
      await this.#opts.store.redis.multi().lpush(key, JSON.stringify(response)).pexpire(key, RESPONSE_TTL_MS).exec();
    } catch (err) {
      log.warn({ id, err: (err as Error).message }, 'could not deliver a signing response');
    }
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    // Interrupts a BLPOP in flight; a request already popped is still answered.
    this.#blocking.disconnect();
    // A BLPOP queued while its connection was reconnecting (after a Redis outage) is never
    // settled by disconnect(), so the loop may not end: do not let stop() wait on it for ever.
    await Promise.race([this.#loop, new Promise((r) => setTimeout(r, STOP_WAIT_MS).unref())]);
    await this.#watch?.stop();
    await this.#manifests.flushed();
    log.info(this.stats, 'signer stopped');
  }
}

function refusal(err: unknown): SignResponse {
  if (isAmbitError(err)) return { ok: false, code: err.code, message: err.message };
  return { ok: false, code: 'EIDENTITY_SIGNER_FAILED', message: `the signer failed: ${(err as Error)?.message ?? String(err)}` };
}

/** Loads the CA, checks it against the published bundle, and starts serving. */
export async function startSigner(opts: SignerOptions): Promise<RunningSigner> {
  const caDir = opts.caDir ?? DEFAULT_CA_DIR;
  const ca = opts.ca ?? (await loadCADir(caDir));
  const published = await requireBundle(opts.store);
  // The signer's anchors are its own CA's root (and, mid-rotation, the previous one), read from its
  // directory, never the store's word: the published bundle must be signed under one of them.
  const previous = opts.ca ? undefined : await loadPreviousCA(caDir).catch(() => undefined);
  const anchors = createBundle(ca.trustDomain, [ca.root.pem, ...(previous ? [previous.root.pem] : [])]);
  const verdict = checkBundleUpdate({ bundle: anchors, sequence: 0 }, published.signature);
  if (!verdict.accept) {
    countRefusal('bundle', verdict.reason);
    throw new IdentityError(
      'EIDENTITY_BUNDLE_UNSIGNED',
      `the store's trust bundle is not signed by this CA's root (${verdict.detail}); publish it again with \`ambit ca init --force\` or \`ambit ca rotate\``,
    );
  }
  checkRootInBundle(ca, verdict.trusted.bundle, opts.ca ? 'memory' : caDir);
  const stateDir = opts.stateDir ?? (opts.ca && !opts.caDir ? undefined : caDir);
  const sequence = stateDir ? await SequenceFile.open(stateDir, log) : SequenceFile.inMemory(log);
  const signer = new Signer({ ...opts, caDir }, ca, verdict.trusted.bundle, verdict.trusted.sequence, new SignedManifests(sequence));
  signer.start(published.revision);
  log.info(
    {
      trustDomain: ca.trustDomain,
      root: ca.root.native.fingerprint256,
      signer: ca.signer.cert.subject,
      nodeTtl: opts.nodeCertTtlSeconds ?? DEFAULT_NODE_CERT_TTL_SECONDS,
      workloadTtl: opts.workloadCertTtlSeconds ?? DEFAULT_WORKLOAD_CERT_TTL_SECONDS,
      manifestSequence: sequence.value,
    },
    'signer serving',
  );
  return signer;
}
