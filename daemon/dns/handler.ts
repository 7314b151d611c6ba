/**
 * What to do with one DNS message, independent of the socket it came on:
 * answer from the mesh, say NXDOMAIN for unknown mesh names, or forward.
 * Never throws: every failure becomes an rcode (or silence for non-queries).
 */
import dnsPacket, { type DecodedPacket } from 'dns-packet';
import { logger } from '../../core/logging.js';
import { addressRecords, headerOnlyReply, RCODE, readHeader, reply } from './answer.js';
import { DnsError } from './errors.js';
import { forwardQuery, type Transport } from './forwarder.js';
import type { DnsMetrics, DnsResult } from './metrics.js';
import { candidateNames, inZone, normalizeName } from './names.js';
import type { Upstream } from './upstreams.js';

const log = logger('dns');

/** Addresses of a mesh name (a service VIP, ServiceEntry addresses), or undefined when it is not one. */
export type MeshLookup = (name: string) => { addresses: string[] } | undefined;

export interface QueryHandlerOptions {
  /** Called with normalised names (lower case, no trailing dot), e.g. "reviews.default.svc.cluster.local". */
  resolve: MeshLookup;
  domain: string;
  ttl: number;
  upstreams: () => readonly Upstream[];
  forwardTimeoutMs: number;
  maxInflightForwards: number;
  metrics?: DnsMetrics;
}

const OPCODE_QUERY = 0;

interface Outcome {
  reply: Buffer | undefined;
  type: string;
  result: DnsResult;
}

export class QueryHandler {
  readonly #domain: string;
  readonly #svcZone: string;
  #inflight = 0;
  readonly #options: QueryHandlerOptions;

  constructor(options: QueryHandlerOptions) {
    this.#options = options;
    this.#domain = normalizeName(options.domain);
    this.#svcZone = `svc.${this.#domain}`;
  }

  async handle(message: Buffer, transport: Transport): Promise<Buffer | undefined> {
    const started = performance.now();
    const outcome = await this.#dispatch(message, transport);
    try {
      this.#options.metrics?.onQuery({ type: outcome.type, result: outcome.result, transport, durationMs: performance.now() - started });
    } catch (err) {
      log.warn({ err }, 'DNS metrics hook threw');
    }
    return outcome.reply;
  }

  async #dispatch(message: Buffer, transport: Transport): Promise<Outcome> {
    const header = readHeader(message);
    // Too short to answer, or a response: replying to responses is how two servers loop.
    if (!header || header.isResponse) return { reply: undefined, type: 'NONE', result: 'malformed' };
    if (header.opcode !== OPCODE_QUERY) return { reply: headerOnlyReply(header, RCODE.NOTIMP), type: 'NONE', result: 'notimp' };
    let query: DecodedPacket;
    try {
      query = dnsPacket.decode(message);
    } catch {
      return { reply: headerOnlyReply(header, RCODE.FORMERR), type: 'NONE', result: 'malformed' };
    }
    const question = query.questions?.length === 1 ? query.questions[0] : undefined;
    if (!question) return { reply: headerOnlyReply(header, RCODE.FORMERR), type: 'NONE', result: 'malformed' };
    const type = question.type;
    const udp = transport === 'udp';

    const name = normalizeName(question.name);
    if ((question.class ?? 'IN') === 'IN') {
      let hit: { addresses: string[] } | undefined;
      try {
        hit = this.#lookup(name);
      } catch (err) {
        log.error({ err: new DnsError('EDNS_LOOKUP', `mesh lookup of ${name} threw`, { name }, { cause: err }) }, 'mesh DNS lookup failed');
        return { reply: reply(query, { rcode: RCODE.SERVFAIL, authoritative: false, udp }), type, result: 'servfail' };
      }
      if (hit) {
        const answers = addressRecords(question.name, type, hit.addresses, this.#options.ttl);
        return { reply: reply(query, { rcode: RCODE.NOERROR, authoritative: true, answers, udp }), type, result: 'answered' };
      }
      if (inZone(name, this.#svcZone)) {
        return { reply: reply(query, { rcode: RCODE.NXDOMAIN, authoritative: true, udp }), type, result: 'nxdomain' };
      }
    }
    return this.#forward(message, query, transport, type);
  }

  #lookup(name: string): { addresses: string[] } | undefined {
    for (const candidate of candidateNames(name, this.#domain)) {
      const hit = this.#options.resolve(candidate);
      if (hit) return hit;
    }
    return undefined;
  }

  async #forward(message: Buffer, query: DecodedPacket, transport: Transport, type: string): Promise<Outcome> {
    const servfail = (): Outcome => ({
      reply: reply(query, { rcode: RCODE.SERVFAIL, authoritative: false, udp: transport === 'udp' }),
      type,
      result: 'servfail',
    });
    // Shed load instead of opening sockets without bound while upstreams are slow.
    if (this.#inflight >= this.#options.maxInflightForwards) {
      log.warn({ err: new DnsError('EDNS_OVERLOADED', `${this.#inflight} forwarded queries outstanding`) }, 'DNS forwarder overloaded; answering SERVFAIL');
      return servfail();
    }
    this.#inflight++;
    try {
      const answer = await forwardQuery(message, transport, this.#options.upstreams(), this.#options.forwardTimeoutMs);
      return { reply: answer, type, result: 'forwarded' };
    } catch (err) {
      log.debug({ err, name: query.questions?.[0]?.name, type }, 'forwarding failed; answering SERVFAIL');
      return servfail();
    } finally {
      this.#inflight--;
    }
  }
}
