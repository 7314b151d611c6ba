/**
 * The parts of ambitd's admin API (127.0.0.1:15000) that `ambit doctor` reads:
 * readiness, and from /config_dump the store connection and the capture options
 * the daemon runs with, so doctor checks what the daemon really uses rather than
 * what the config file says.
 */

/** /healthz/ready. */
export interface Readiness {
  ready: boolean;
  /** Why not, when not. */
  reasons: string[];
}

/** What the daemon's capture rules are, for check.sh with the daemon's own options. */
export interface CaptureStatus {
  /** apply.sh's options of the rules in place; undefined before the first success or after remove(). */
  appliedArgs?: string[];
  /** Why the last apply failed, when it did (the rules in place are then older than wanted). */
  lastError?: string;
}

/** The store section of /config_dump: the watcher's state and where it points (password redacted). */
export interface StoreStatus {
  revision: number;
  resyncs: number;
  connected: boolean;
  target: string;
}

/** The sections of /config_dump that other tools read (the dump holds more, for people). */
export interface ConfigDumpStatus {
  store: StoreStatus;
  /** failOpen is absent from daemons older than issue 13's fail closed. */
  capture: CaptureStatus & { enabled: boolean; dns: boolean; failOpen?: boolean };
}
