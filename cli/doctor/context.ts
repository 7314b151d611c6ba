/**
 * What the checks share: the daemon settings doctor judges the host by, and
 * the connections several checks need (the store, the admin API), opened once
 * and closed at the end. A failed connection is remembered too, so five checks
 * that need Redis do not each wait out the same dead address.
 */
import type { DaemonConfig } from '../../core/config/daemon-settings.js';
import type { Store } from '../../core/store/index.js';
import type { StoreOptions } from '../../core/store/types.js';
import type { StoreCredentials } from '../../core/access/credentials.js';
import type { PublishedBundle } from '../../core/identity/store/bundle.js';
import { getAdminJson, type AdminReply } from './admin-client.js';
import type { IptablesBackend } from './checks/iptables.js';

export interface DoctorSettings {
  /** The ambitd settings file; undefined when the default one does not exist (built-in defaults). */
  configPath: string | undefined;
  /** --redis given on the command line: use it instead of the settings file's store. */
  redisOverride?: StoreOptions;
  /** The CLI's own store credentials, for a host whose daemon settings carry none (it has not joined yet). */
  fallbackCredentials?: StoreCredentials;
  /** Deadline of one network probe (connect, request); below the check's own deadline. */
  probeTimeoutMs: number;
  /** Certificates closer to expiry than this are a WARN; default a quarter of each one's lifetime. */
  certWarnSeconds?: number;
}

export class DoctorContext {
  readonly settings: DoctorSettings;
  /** Set by the iptables check. */
  iptablesBackend: IptablesBackend | undefined;
  #config: DaemonConfig | undefined;
  #store: Promise<Store> | undefined;
  #bundle: Promise<PublishedBundle | undefined> | undefined;
  readonly #admin = new Map<string, Promise<AdminReply<unknown>>>();

  constructor(settings: DoctorSettings) {
    this.settings = settings;
  }

  /** Set by the config check; every check that reads it lists `config` in its needs. */
  get config(): DaemonConfig {
    if (!this.#config) throw new Error('doctor: the daemon settings were read before the config check passed');
    return this.#config;
  }

  set config(config: DaemonConfig) {
    this.#config = config;
  }

  storeOptions(): StoreOptions {
    const base = this.settings.redisOverride ?? this.config.store;
    const credentials = base.username || base.password ? {} : (this.settings.fallbackCredentials ?? {});
    return { ...base, ...credentials, connectTimeoutMs: this.settings.probeTimeoutMs, connectionName: 'ambit-doctor' };
  }

  /** One connection for every check; rejects (for each caller alike) when the store is unreachable. */
  store(): Promise<Store> {
    this.#store ??= import('../../core/store/index.js').then(({ Store }) => Store.connect(this.storeOptions()));
    return this.#store;
  }

  /** The trust bundle published in the store, or undefined when there is none or no store. */
  publishedBundle(): Promise<PublishedBundle | undefined> {
    this.#bundle ??= this.store()
      .then(async (store) => (await import('../../core/identity/store/bundle.js')).readBundle(store))
      .catch(() => undefined);
    return this.#bundle;
  }

  /** GET on ambitd's admin API (any status); rejects when nothing answers. */
  admin<T>(path: string): Promise<AdminReply<T>> {
    let reply = this.#admin.get(path);
    if (!reply) {
      const { adminAddress, ports } = this.config;
      // A wildcard bind is reached on loopback, where the admin API is meant to be asked.
      const host = adminAddress === '0.0.0.0' ? '127.0.0.1' : adminAddress === '::' ? '::1' : adminAddress;
      reply = getAdminJson<unknown>(host, ports.admin, path, this.settings.probeTimeoutMs);
      this.#admin.set(path, reply);
    }
    return reply as Promise<AdminReply<T>>;
  }

  async close(): Promise<void> {
    const store = await this.#store?.catch(() => undefined);
    await store?.close();
  }
}
