/**
 * Keeps the host's iptables capture rules in step with the mesh: which uids
 * are enrolled here, which addresses are mesh destinations, which ports are
 * STRICT. Runs scripts/iptables (the same scripts operators and `ambit
 * doctor` use), only when the wanted rules change, one run at a time.
 */
import { execFile } from 'node:child_process';
import type { Logger } from 'pino';
import { AmbitError } from '../core/errors.js';
import { IPTABLES_SCRIPTS_DIR } from '../core/iptables-scripts.js';
import type { CaptureStatus } from '../core/status/index.js';

export interface CaptureSpec {
  uids: number[];
  meshCidrs: string[];
  strictPorts: number[];
  /** This node's workloads ("10.0.0.5:9080", "[fd00::5]:9080"): plaintext to them goes to inboundPort. */
  inboundEndpoints: string[];
  inboundPort: number;
  dns: boolean;
  exemptUid: number;
  outboundPort: number;
  dnsPort: number;
}

export function captureArgs(spec: CaptureSpec): string[] {
  const args = [
    '--uids',
    spec.uids.join(','),
    '--exempt-uid',
    String(spec.exemptUid),
    '--outbound-port',
    String(spec.outboundPort),
    '--dns-port',
    String(spec.dnsPort),
  ];
  if (spec.meshCidrs.length > 0) args.push('--mesh-cidrs', spec.meshCidrs.join(','));
  if (spec.strictPorts.length > 0) args.push('--strict-ports', spec.strictPorts.join(','));
  if (spec.inboundEndpoints.length > 0) args.push('--inbound-endpoints', spec.inboundEndpoints.join(','), '--inbound-port', String(spec.inboundPort));
  args.push(spec.dns ? '--dns' : '--no-dns');
  return args;
}

export class Capture {
  #applied: string[] | undefined;
  #lastError: string | undefined;
  #queue: Promise<void> = Promise.resolve();
  /** Tables apply.sh created ("4:nat,..."), as stopCapturing() found them: its jumps carried that note and are gone. */
  #createdTables: string | undefined;
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Applies `spec` unless it is what is already in place; serialized. */
  update(spec: CaptureSpec): Promise<void> {
    const args = captureArgs(spec);
    const key = args.join(' ');
    this.#queue = this.#queue.then(async () => {
      if (key === this.#applied?.join(' ')) return;
      try {
        await runScript('apply.sh', args);
      } catch (err) {
        this.#lastError = (err as Error).message;
        throw err;
      }
      this.#applied = args;
      this.#lastError = undefined;
      this.#log.info(
        { uids: spec.uids, meshCidrs: spec.meshCidrs, strictPorts: spec.strictPorts, inboundEndpoints: spec.inboundEndpoints },
        'capture rules applied',
      );
    });
    return this.#queue;
  }

  status(): CaptureStatus {
    return { ...(this.#applied ? { appliedArgs: this.#applied } : {}), ...(this.#lastError ? { lastError: this.#lastError } : {}) };
  }

  async remove(): Promise<void> {
    await this.#queue.catch(() => undefined);
    await runScript('remove.sh', this.#createdTables === undefined ? [] : ['--created-tables', this.#createdTables]);
    this.#applied = undefined;
    this.#createdTables = undefined;
    this.#log.info('capture rules removed');
  }

  /**
   * The start of a fail-open drain: only the jumps go, so nothing new is captured
   * while the connections already redirected keep their NAT (deleting a REDIRECT
   * rule resets them) and drain; remove() afterwards deletes the rest.
   */
  async stopCapturing(): Promise<void> {
    await this.#queue.catch(() => undefined);
    const out = await runScript('remove.sh', ['--jumps-only']);
    this.#createdTables = /^created-tables: (\S+)$/m.exec(out)?.[1] ?? this.#createdTables;
    this.#applied = undefined;
    this.#log.info('capture jumps removed: new connections are no longer captured; the chains go once the drain is over');
  }
}

/** Resolves to the script's stdout. */
function runScript(name: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bash', [`${IPTABLES_SCRIPTS_DIR}${name}`, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) reject(new AmbitError('ECAPTURE', `scripts/iptables/${name} failed: ${stderr.trim() || err.message}`, { args }));
      else resolve(stdout);
    });
  });
}
