/**
 * Prometheus's text exposition format (version 0.0.4), read into samples: what
 * `ambit stat` reads from the daemons' and waypoints' /metrics, and what tests
 * read the same pages with. A scanner rather than a regex, so label values
 * holding `}`, `,`, `"` or a newline (escaped as the format says), optional
 * timestamps, and NaN/±Inf values all come out right; a line it cannot read
 * is skipped and counted, never guessed at.
 */

export interface Sample {
  /** The series name as exposed: `istio_requests_total`, `…_bucket`, `…_sum`. */
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ParsedText {
  samples: Sample[];
  /** Lines that were neither a comment, blank, nor a readable sample. */
  unreadable: number;
}

const NAME_START = /[a-zA-Z_:]/;
const NAME_CHAR = /[a-zA-Z0-9_:]/;

export function parsePrometheusText(text: string): ParsedText {
  const samples: Sample[] = [];
  let unreadable = 0;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const s = parseSampleLine(line);
    if (s) samples.push(s);
    else unreadable++;
  }
  return { samples, unreadable };
}

/** One `name{labels} value [timestamp]` line, or undefined when it is not one. */
export function parseSampleLine(line: string): Sample | undefined {
  let i = 0;
  if (!NAME_START.test(line[0] ?? '')) return undefined;
  while (i < line.length && NAME_CHAR.test(line[i]!)) i++;
  const name = line.slice(0, i);
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    for (;;) {
      while (line[i] === ' ' || line[i] === ',') i++;
      if (line[i] === '}') {
        i++;
        break;
      }
      const start = i;
      while (i < line.length && NAME_CHAR.test(line[i]!)) i++;
      const label = line.slice(start, i);
      while (line[i] === ' ') i++;
      if (label === '' || line[i] !== '=') return undefined;
      i++;
      while (line[i] === ' ') i++;
      if (line[i] !== '"') return undefined;
      i++;
      let value = '';
      for (;;) {
        const c = line[i];
        if (c === undefined) return undefined;
        i++;
        if (c === '"') break;
        if (c !== '\\') {
          value += c;
          continue;
        }
        const e = line[i++];
        if (e === undefined) return undefined;
        value += e === 'n' ? '\n' : e;
      }
      labels[label] = value;
    }
  }
  const rest = line.slice(i).trim().split(/\s+/);
  if (rest.length < 1 || rest.length > 2 || rest[0] === '') return undefined;
  const value = parseValue(rest[0]!);
  if (value === undefined) return undefined;
  return { name, labels, value };
}

function parseValue(s: string): number | undefined {
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  const n = Number(s);
  return Number.isNaN(n) ? undefined : n;
}
