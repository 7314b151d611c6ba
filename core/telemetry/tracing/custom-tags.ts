/**
 * Istio Telemetry's tracing.customTags as span attributes: a literal, a
 * request header, or an environment variable of the proxy, each with its
 * default when the header or variable is absent. A tag with no value and no
 * default is left off rather than sent empty, as Envoy does.
 */
import type { Attributes } from '@opentelemetry/api';
import type { CustomTag } from '../settings.js';
import type { HeaderBag } from './propagation.js';

export function customTagAttributes(tags: Readonly<Record<string, CustomTag>>, headers: HeaderBag, env: NodeJS.ProcessEnv): Attributes {
  const out: Attributes = {};
  for (const [name, tag] of Object.entries(tags)) {
    const value = tagValue(tag, headers, env);
    if (value !== undefined) out[name] = value;
  }
  return out;
}

function tagValue(tag: CustomTag, headers: HeaderBag, env: NodeJS.ProcessEnv): string | undefined {
  if (tag.kind === 'literal') return tag.value;
  if (tag.kind === 'environment') return env[tag.name] ?? tag.defaultValue;
  const raw = headers[tag.name.toLowerCase()];
  const value = typeof raw === 'string' ? raw : raw?.join(',');
  return value ?? tag.defaultValue;
}
