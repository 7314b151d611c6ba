/**
 * /etc/ambit/ambitd.yaml as `ambit install` writes it: configs/ambitd.yaml
 * (the documented defaults, every comment kept) with the values given on the
 * command line filled in, edited through the yaml Document API so the
 * comments survive.
 */
import { isMap, isScalar, parseDocument, YAMLMap, type Document } from 'yaml';
import { ConfigErrors, UsageError } from '../../core/errors.js';
import { parseDaemonConfig } from '../../core/config/daemon-settings.js';

export interface DaemonConfigValues {
  nodeName?: string | undefined;
  address?: string | undefined;
  redisUrl?: string | undefined;
}

const HEADER = ' Written by `ambit install`; yours to edit: install keeps an edited file (unless --force).\n';

/** The file's text; throws UsageError when a given value is not valid where it goes. */
export function renderDaemonConfig(template: string, values: DaemonConfigValues): string {
  if (values.redisUrl !== undefined && !/^rediss?:\/\/[^\s/]+/.test(values.redisUrl)) {
    throw new UsageError(`--redis ${JSON.stringify(values.redisUrl)}: expected redis://host:port (or rediss:// for TLS)`);
  }
  const doc = parseDocument(template);
  const given: [string[], string | undefined, string][] = [
    [['node', 'name'], values.nodeName, '--node-name'],
    [['node', 'address'], values.address, '--address'],
    [['store', 'url'], values.redisUrl, '--redis'],
  ];
  for (const [path, value] of given) if (value !== undefined) setKeepingComments(doc, path, value);
  doc.commentBefore = doc.commentBefore ? `${HEADER}\n${doc.commentBefore}` : HEADER;
  const text = doc.toString();
  try {
    parseDaemonConfig(text, 'ambitd.yaml');
  } catch (err) {
    if (!(err instanceof ConfigErrors)) throw err;
    const flagOf = new Map(given.map(([path, , flag]) => [path.join('.'), flag]));
    const problems = err.errors.map((e) => {
      const detail = e.field ? e.message.slice(e.message.indexOf(`${e.field}: `) + e.field.length + 2) : e.message;
      return `${(e.field && flagOf.get(e.field)) ?? e.field ?? 'ambitd.yaml'}: ${detail}`;
    });
    throw new UsageError(problems.join('; '));
  }
  return text;
}

/**
 * Sets a scalar at `path`. A section the template leaves empty but for
 * commented-out examples (`node:`) becomes a map that keeps those comments
 * above its new keys; a scalar that exists keeps its trailing comment.
 */
function setKeepingComments(doc: Document, path: string[], value: string): void {
  let parent = doc.contents as YAMLMap;
  for (const key of path.slice(0, -1)) {
    const child: unknown = parent.get(key, true);
    if (isMap(child)) {
      parent = child;
      continue;
    }
    const section = new YAMLMap(doc.schema);
    if (isScalar(child) && child.value === null && child.comment) section.commentBefore = child.comment;
    parent.set(key, section);
    parent = section;
  }
  const key = path[path.length - 1]!;
  const existing = parent.get(key, true);
  if (isScalar(existing)) existing.value = value;
  else parent.set(key, value);
}
