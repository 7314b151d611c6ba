/**
 * The OidcLogin of each served service, compiled once per mesh snapshot, the
 * way authn/authenticators.ts compiles RequestAuthentication: the resources
 * that name the service in targetRefs apply (the oldest one when several do,
 * with a warning: a browser has one session cookie per service). Providers
 * (their discovered endpoints and fetched keys) outlive snapshots, so a reload
 * refetches nothing; secret files are read at each compile, so a rotated secret
 * applies on the next snapshot. A secret that cannot be read is logged and the
 * service's protected paths answer 503: never served without the login.
 */
import { readFileSync } from 'node:fs';
import { targetsService } from '../../core/authz/index.js';
import type { TypedResource } from '../../core/config/index.js';
import type { Logger } from '../../core/logging.js';
import type { JwksCache } from '../authn/jwks-cache.js';
import type { ServedService } from '../authn/authenticators.js';
import { OidcLoginGate, type LoginKeys, type LoginMetrics } from './login.js';
import { OidcProvider } from './provider.js';
import { Sealer, type Session } from './session.js';

type OidcLogin = TypedResource<'OidcLogin'>;

const MIN_KEY_BYTES = 32;

function readSecret(file: string, what: string): Buffer {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new Error(`the ${what} ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
  }
  const text = bytes.toString('utf8').replace(/\r?\n$/, '');
  if (text === '') throw new Error(`the ${what} ${file} is empty`);
  return Buffer.from(text, 'utf8');
}

function keysOf(r: OidcLogin): LoginKeys {
  try {
    const secret = readSecret(r.spec.clientSecretFile, 'client secret file');
    const keyBytes = r.spec.sessionKeyFile ? readSecret(r.spec.sessionKeyFile, 'session key file') : secret;
    if (r.spec.sessionKeyFile && keyBytes.length < MIN_KEY_BYTES)
      throw new Error(
        `the session key file ${r.spec.sessionKeyFile} holds ${keyBytes.length} bytes; it needs at least ${MIN_KEY_BYTES} (openssl rand -base64 48)`,
      );
    return {
      kind: 'ready',
      client: { id: r.spec.clientId, secret: secret.toString('utf8') },
      sealer: new Sealer(keyBytes, `${r.spec.issuer}|${r.spec.clientId}`),
    };
  } catch (err) {
    return { kind: 'broken', problem: `OidcLogin ${r.metadata.namespace}/${r.metadata.name}: ${(err as Error).message}` };
  }
}

export class OidcLogins {
  readonly #metrics: LoginMetrics;
  readonly #log: Logger;
  readonly #keys: JwksCache;
  #providers = new Map<string, OidcProvider>();
  readonly #refreshing = new Map<string, Promise<Session | undefined>>();
  #problems = new Set<string>();

  constructor(metrics: LoginMetrics, log: Logger, keys: JwksCache) {
    this.#metrics = metrics;
    this.#log = log;
    this.#keys = keys;
  }

  compile(resources: readonly OidcLogin[], services: readonly ServedService[]): Map<string, OidcLoginGate> {
    const used = new Map<string, OidcProvider>();
    const out = new Map<string, OidcLoginGate>();
    const problems = new Set<string>();
    const ordered = [...resources].sort((a, b) => String(a.metadata.creationTimestamp ?? '').localeCompare(String(b.metadata.creationTimestamp ?? '')));
    for (const svc of services) {
      const key = `${svc.namespace}/${svc.name}`;
      const mine = ordered.filter((r) =>
        targetsService(r, svc, (w) => this.#log.warn({ resource: `OidcLogin ${r.metadata.namespace}/${r.metadata.name}` }, w)),
      );
      const r = mine[0];
      if (!r) continue;
      if (mine.length > 1) problems.add(`service ${key} is named by ${mine.length} OidcLogins; only ${r.metadata.namespace}/${r.metadata.name} applies`);
      const keys = keysOf(r);
      if (keys.kind === 'broken') problems.add(keys.problem);
      out.set(
        key,
        new OidcLoginGate({
          service: key,
          spec: r.spec,
          provider: this.#provider(r, used),
          keys,
          metrics: this.#metrics,
          log: this.#log,
          refreshing: this.#refreshing,
        }),
      );
    }
    for (const p of problems) if (!this.#problems.has(p)) this.#log.error({ problem: p }, `OIDC login not applied as written: ${p}`);
    this.#problems = problems;
    this.#providers = used;
    return out;
  }

  #provider(r: OidcLogin, used: Map<string, OidcProvider>): OidcProvider {
    const key = `${r.spec.issuer}|${r.spec.timeout ?? ''}`;
    // Asked for at every compile, so the cache keeps the keys while the provider lives.
    const jwks = this.#keys.source({ issuer: r.spec.issuer, ...(r.spec.timeout !== undefined ? { timeoutMs: r.spec.timeout } : {}) });
    const p =
      used.get(key) ??
      this.#providers.get(key) ??
      new OidcProvider({ issuer: r.spec.issuer, ...(r.spec.timeout !== undefined ? { timeoutMs: r.spec.timeout } : {}), jwks, log: this.#log });
    used.set(key, p);
    return p;
  }
}
