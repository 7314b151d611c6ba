/**
 * Which new traces are recorded: Istio's randomSamplingPercentage applied to
 * root spans only; a parent's decision (the sampled flag it carried) is kept
 * for its children, so a trace is never recorded on one hop and missing on
 * the next. Ratio decisions are by trace id (its low 56 bits, as OTel's
 * TraceIdRatioBased does in spirit), so every ambit process makes the same
 * choice for the same trace without coordination.
 */

export function clampPercentage(percentage: number): number {
  if (!Number.isFinite(percentage)) return 0;
  return Math.min(100, Math.max(0, percentage));
}

/** true when a root span of this trace id is recorded at `percentage` (0..100). */
export function sampleByTraceId(traceId: string, percentage: number): boolean {
  const p = clampPercentage(percentage);
  if (p >= 100) return true;
  if (p <= 0) return false;
  // 14 hex digits = 56 bits fit exactly in a double.
  const low = parseInt(traceId.slice(-14), 16);
  return low / 2 ** 56 < p / 100;
}

/** A parent that decided wins; a deferred or absent parent falls back to the ratio. */
export function shouldSample(parentSampled: boolean | undefined, traceId: string, percentage: number): boolean {
  if (parentSampled !== undefined) return parentSampled;
  return sampleByTraceId(traceId, percentage);
}
