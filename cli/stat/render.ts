/** `ambit stat`'s table: linkerd viz stat's columns, one row per service (or per edge with --from). */
import { humanBytes, renderTable } from '../output.js';
import type { StatRow } from './golden.js';

export function renderStat(rows: readonly StatRow[], windowSeconds: number): string {
  if (rows.length === 0) return `No traffic${windowSeconds > 0 ? ` in the last ${windowSeconds}s` : ''}.\n`;
  const edges = rows.some((r) => r.from);
  const rate = windowSeconds > 0;
  const head = [
    'NAMESPACE',
    'SERVICE',
    ...(edges ? ['FROM'] : []),
    'SUCCESS',
    'REQUESTS',
    ...(rate ? ['RPS'] : []),
    'LATENCY_P50',
    'LATENCY_P95',
    'LATENCY_P99',
    'TCP_CONN',
    rate ? 'READ_BYTES/SEC' : 'READ_BYTES',
    rate ? 'WRITE_BYTES/SEC' : 'WRITE_BYTES',
  ];
  const per = (n: number) => (rate ? n / windowSeconds : n);
  return renderTable(
    head,
    rows.map((r) => [
      r.namespace,
      r.service,
      ...(edges ? [r.from ? `${r.from.namespace}/${r.from.workload}` : '-'] : []),
      r.successRate === undefined ? '-' : `${(r.successRate * 100).toFixed(2)}%`,
      String(Math.round(r.requests)),
      ...(rate ? [r.rps === undefined ? '-' : `${r.rps.toFixed(1)}rps`] : []),
      ms(r.latencyMs.p50),
      ms(r.latencyMs.p95),
      ms(r.latencyMs.p99),
      String(Math.round(rate ? r.tcp.opened : r.tcp.opened - r.tcp.closed)),
      humanBytes(per(r.tcp.receivedBytes)),
      humanBytes(per(r.tcp.sentBytes)),
    ]),
  );
}

const ms = (v: number | undefined): string => (v === undefined ? '-' : v < 10 ? `${v.toFixed(1)}ms` : `${Math.round(v)}ms`);
