/**
 * The requester's half of the signing protocol: push a request, wait on its
 * own response key. Requests from one client go one at a time over a single
 * blocking connection, which is plenty for the handful of identities a node holds.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Store } from '../../store/index.js';
import { IdentityError, type IdentityErrorCode } from '../errors.js';
import { identityKeys } from '../store/keys.js';
import type { IssuedPayload, SignRequest } from '../signer/protocol.js';

export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

export type RequestBody = Omit<SignRequest, 'v' | 'id' | 'node' | 'deadline'>;

export function newRequestId(): string {
  return randomBytes(12).toString('base64url');
}

export class SignerClient {
  #blocking: Redis | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  readonly #store: Store;
  readonly #node: string;
  readonly #timeoutMs: number;

  /** `node`: the name this host joins or joined as (its answers come back under it). */
  constructor(store: Store, node: string, timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS) {
    this.#store = store;
    this.#node = node;
    this.#timeoutMs = timeoutMs;
  }

  /** Sends one request; `build` gets the request id (node signatures cover it). Throws the signer's refusal as an IdentityError. */
  request(build: (id: string) => RequestBody | Promise<RequestBody>): Promise<IssuedPayload> {
    const run = this.#queue.then(() => this.#send(build));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #send(build: (id: string) => RequestBody | Promise<RequestBody>): Promise<IssuedPayload> {
    const keys = identityKeys(this.#store);
    const id = newRequestId();
    const body = await build(id);
    const request: SignRequest = { v: 1, id, node: this.#node, deadline: Date.now() + this.#timeoutMs, ...body };
    const raw = JSON.stringify(request);
    this.#blocking ??= this.#connect();
    await this.#store.redis.rpush(keys.requests, raw);
    const popped = await this.#blocking.blpop(keys.response(this.#node, id), this.#timeoutMs / 1000);
    if (!popped) {
      // Take it back, so a signer that starts later does not act on it (and spend a join token).
      await this.#store.redis.lrem(keys.requests, 1, raw).catch(() => undefined);
      throw new IdentityError(
        'EIDENTITY_NO_SIGNER',
        `no signer answered within ${Math.round(this.#timeoutMs / 1000)}s: is \`ambit ca serve\` or \`ambitd --ca\` running?`,
        { kind: body.kind },
      );
    }
    const response = JSON.parse(popped[1]) as { ok: boolean; code?: string; message?: string } & IssuedPayload;
    if (!response.ok)
      throw new IdentityError((response.code ?? 'EIDENTITY_SIGNER_FAILED') as IdentityErrorCode, response.message ?? 'refused by the signer', {
        kind: body.kind,
      });
    return response;
  }

  #connect(): Redis {
    const conn = this.#store.redis.duplicate();
    conn.on('error', () => undefined); // failures surface as rejected commands
    return conn;
  }

  close(): void {
    this.#blocking?.disconnect();
    this.#blocking = undefined;
  }
}
