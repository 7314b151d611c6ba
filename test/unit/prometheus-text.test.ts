import test from 'ava';
import { parsePrometheusText, parseSampleLine } from '../../core/telemetry/prometheus-text.js';
import { Counter, Histogram, Registry } from 'prom-client';

test('reads what prom-client writes, label values with quotes, backslashes, newlines, braces and commas intact', async (t) => {
  const registry = new Registry();
  const c = new Counter({ name: 'istio_requests_total', help: 'h', labelNames: ['path', 'code'], registers: [registry] });
  const tricky = 'a"b\\c\nd}e,f=g';
  c.inc({ path: tricky, code: '200' }, 3);
  c.inc({ path: '/', code: '503' });
  const h = new Histogram({ name: 'd_ms', help: 'h', buckets: [1, 10], registers: [registry] });
  h.observe(5);
  const { samples, unreadable } = parsePrometheusText(await registry.metrics());
  t.is(unreadable, 0);
  t.deepEqual(
    samples.filter((s) => s.name === 'istio_requests_total'),
    [
      { name: 'istio_requests_total', labels: { path: tricky, code: '200' }, value: 3 },
      { name: 'istio_requests_total', labels: { path: '/', code: '503' }, value: 1 },
    ],
  );
  t.deepEqual(
    samples.filter((s) => s.name === 'd_ms_bucket').map((s) => [s.labels.le, s.value]),
    [
      ['1', 0],
      ['10', 1],
      ['+Inf', 1],
    ],
  );
  t.deepEqual(samples.find((s) => s.name === 'd_ms_count')?.value, 1);
});

test('timestamps, special values, no labels, and lines it cannot read', (t) => {
  t.deepEqual(parseSampleLine('up 1 1700000000000'), { name: 'up', labels: {}, value: 1 });
  t.is(parseSampleLine('x{a="1"} +Inf')?.value, Infinity);
  t.true(Number.isNaN(parseSampleLine('x NaN')?.value));
  t.deepEqual(parseSampleLine('x{ a = "1", } 2'), { name: 'x', labels: { a: '1' }, value: 2 });
  for (const bad of ['x{a="1} 2', 'x{a=1} 2', 'x{a="1"}', 'x 1 2 3', '9x 1', 'x abc']) t.is(parseSampleLine(bad), undefined, bad);
  const parsed = parsePrometheusText('# HELP x h\n# TYPE x counter\n\nx 1\nbroken{\n');
  t.is(parsed.samples.length, 1);
  t.is(parsed.unreadable, 1);
});
