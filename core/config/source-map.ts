/**
 * Where each field of a YAML document sits: formatted field path -> 1-based
 * line. Map entries record the line of their key, list items the line they
 * start on, so a message points at the line a user would edit.
 */
import { isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import { formatPath, type Path } from './path.js';

export class LineIndex {
  readonly #lines = new Map<string, number>();

  constructor(doc: Document, counter: LineCounter) {
    const lineOf = (offset: number) => counter.linePos(offset).line;
    const visit = (node: unknown, path: Path, line: number | undefined) => {
      if (line !== undefined) this.#lines.set(formatPath(path), line);
      if (isMap(node)) {
        for (const pair of node.items) {
          const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
          const range = (pair.key as Node | null)?.range ?? (pair.value as Node | null)?.range;
          visit(pair.value, [...path, key], range ? lineOf(range[0]) : undefined);
        }
      } else if (isSeq(node)) {
        node.items.forEach((item, i) => {
          const range = (item as Node | null)?.range;
          visit(item, [...path, i], range ? lineOf(range[0]) : undefined);
        });
      }
    };
    const start = doc.contents?.range?.[0];
    visit(doc.contents, [], start === undefined ? undefined : lineOf(start));
  }

  /** The line of `path`, or of its nearest ancestor when the field is missing. */
  lineOf(path: Path): number | undefined {
    for (let n = path.length; n >= 0; n--) {
      const line = this.#lines.get(formatPath(path.slice(0, n)));
      if (line !== undefined) return line;
    }
    return undefined;
  }
}
