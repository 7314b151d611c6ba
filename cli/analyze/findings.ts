/**
 * What `ambit analyze` reports: one finding per mistake, with a stable code
 * (registered in core/error-codes.ts, so docs/errors.md lists it), a
 * severity, the resource (and file:line for a file given with -f), what is
 * wrong and the fix. Codes follow the registry's scheme, `EANALYZE_<WHAT>`,
 * and are never renamed: CI scripts may match on them.
 */
import type { SourceLocation } from '../../core/errors.js';

export type AnalyzeCode =
  | 'EANALYZE_SUBSET_UNDEFINED'
  | 'EANALYZE_SUBSET_NO_ENDPOINTS'
  | 'EANALYZE_HOST_NOT_FOUND'
  | 'EANALYZE_NO_WAYPOINT'
  | 'EANALYZE_HOST_CONFLICT'
  | 'EANALYZE_PRINCIPAL_UNKNOWN'
  | 'EANALYZE_L7_AT_L4'
  | 'EANALYZE_TARGET_NO_WAYPOINT'
  | 'EANALYZE_POLICY_SHADOWED'
  | 'EANALYZE_NAMESPACE_MISMATCH'
  | 'EANALYZE_INVALID_STORED';

/** In order of weight; `--fail-on` names one. */
export const SEVERITIES = ['Info', 'Warning', 'Error'] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface ResourceName {
  kind: string;
  namespace: string;
  name: string;
}

export interface Finding {
  code: AnalyzeCode;
  severity: Severity;
  resource: ResourceName;
  /** Where the document is, for one given with -f; undefined: as applied in the store. */
  location?: SourceLocation;
  message: string;
  fix: string;
}

export const atLeast = (s: Severity, threshold: Severity): boolean => SEVERITIES.indexOf(s) >= SEVERITIES.indexOf(threshold);

/** `Kind namespace/name`, as findings name a resource. */
export const resourceText = (r: ResourceName): string => `${r.kind} ${r.namespace}/${r.name}`;
