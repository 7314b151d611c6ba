/**
 * The OTel Sampler every MeshTracer span goes through, so the SDK's decision
 * is sampling.ts's: a parent that decided wins, a root or a deferring parent
 * (B3 without a sampling flag) is sampled by trace id at the current
 * percentage. The percentage is read per decision, so a Telemetry change
 * applies to the next request without a new provider.
 */
import { createContextKey, trace, TraceFlags, type Context } from '@opentelemetry/api';
import { SamplingDecision, type Sampler, type SamplingResult } from '@opentelemetry/sdk-trace-base';
import { shouldSample } from './sampling.js';

/** Set on the parent context of a remote parent that left the decision to us. */
export const DEFERRED_SAMPLING = createContextKey('ambit deferred sampling');

const SAMPLED: SamplingResult = { decision: SamplingDecision.RECORD_AND_SAMPLED };
const DROPPED: SamplingResult = { decision: SamplingDecision.NOT_RECORD };

/** The parent's decision as sampling.ts takes it: undefined for none (a root) or deferred. */
export function parentDecision(ctx: Context): boolean | undefined {
  const parent = trace.getSpanContext(ctx);
  if (parent === undefined || !trace.isSpanContextValid(parent) || ctx.getValue(DEFERRED_SAMPLING) === true) return undefined;
  return (parent.traceFlags & TraceFlags.SAMPLED) !== 0;
}

export class MeshSampler implements Sampler {
  readonly #percentage: () => number;

  constructor(percentage: () => number) {
    this.#percentage = percentage;
  }

  shouldSample(ctx: Context, traceId: string): SamplingResult {
    return shouldSample(parentDecision(ctx), traceId, this.#percentage()) ? SAMPLED : DROPPED;
  }

  toString(): string {
    return `MeshSampler{parent-based, root ${this.#percentage()} %}`;
  }
}
