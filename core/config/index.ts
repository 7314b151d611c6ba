/** The configuration model: Istio YAML in, validated stored resources and their typed form out. */
export * from './resource.js';
export { parseDocuments, parseSources, readDocuments, type ParseOptions, type ParseResult } from './parse.js';
export { loadFiles, loadSources, STDIN_NAME, type LoadOptions } from './load.js';
export type { SourcedResource } from './duplicates.js';
export { normalize, type NormalizeOptions, type TypedResource } from './normalize.js';
export { resolveHost, hostProblem } from './hosts.js';
export { parseDurationMs } from './duration.js';
export { compileIstioRegex } from './regex.js';
export { isIpOrCidr } from './net.js';
export { KINDS, kindDefinition, type ConfigKind, type SpecByKind, type KindDefinition } from './kinds/index.js';
export type * from './kinds/common.js';
export type * from './kinds/virtual-service.js';
export type * from './kinds/destination-rule.js';
export type * from './kinds/service-entry.js';
export type * from './kinds/workload-entry.js';
export type * from './kinds/authorization-policy.js';
export type * from './kinds/peer-authentication.js';
export type * from './kinds/request-authentication.js';
