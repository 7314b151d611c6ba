/** ambit doctor's runner (dependencies, deadlines, order) and its report formats, with made-up checks. */
import test from 'ava';
import { fail, ok, skip, warn, type Check, type CheckReport } from '../../cli/doctor/check.js';
import { DoctorContext } from '../../cli/doctor/context.js';
import { failed, renderReport, reportJson } from '../../cli/doctor/format.js';
import { runChecks } from '../../cli/doctor/runner.js';

const ctx = () => new DoctorContext({ configPath: undefined, probeTimeoutMs: 100 });
const after = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a check whose dependency FAILs or SKIPs is a SKIP naming it, and does not run', async (t) => {
  const ran: string[] = [];
  const check = (name: string, result: ReturnType<typeof ok>, needs?: string[]): Check => ({
    name,
    ...(needs ? { needs } : {}),
    run: async () => {
      ran.push(name);
      return result;
    },
  });
  const reports = await runChecks(
    [
      check('store', fail('down', 'start it')),
      check('host', warn('slow', 'tune it')),
      check('uses-store', ok('fine'), ['store']),
      check('uses-host', ok('fine'), ['host']),
      check('uses-both', ok('fine'), ['uses-store', 'host']),
      check('optional', skip('not configured')),
      check('uses-optional', ok('fine'), ['optional']),
    ],
    ctx(),
  );
  t.deepEqual(
    reports.map((r) => [r.name, r.status]),
    [
      ['store', 'FAIL'],
      ['host', 'WARN'],
      ['uses-store', 'SKIP'],
      ['uses-host', 'OK'],
      ['uses-both', 'SKIP'],
      ['optional', 'SKIP'],
      ['uses-optional', 'SKIP'],
    ],
  );
  t.is(reports[2]!.detail, 'needs store failed');
  t.is(reports[4]!.detail, 'needs uses-store was skipped');
  t.is(reports[6]!.detail, 'needs optional was skipped');
  t.deepEqual(ran.sort(), ['host', 'optional', 'store', 'uses-host']);
});

test('a hanging check FAILs at its deadline, is told to stop, and the rest still report', async (t) => {
  let aborted = false;
  const started = Date.now();
  const reports = await runChecks(
    [
      {
        name: 'hangs',
        run: (_ctx, signal) =>
          new Promise(() => {
            signal.addEventListener('abort', () => (aborted = true));
          }),
      },
      { name: 'quick', run: async () => ok('fine') },
      { name: 'throws', run: async () => Promise.reject(new Error('boom\nsecond line')) },
    ],
    ctx(),
    { checkTimeoutMs: 200 },
  );
  const elapsed = Date.now() - started;
  t.true(elapsed < 2000, `took ${elapsed} ms`);
  t.true(aborted);
  t.is(reports[0]!.status, 'FAIL');
  t.regex(reports[0]!.detail, /no result within 200 ms/);
  t.is(reports[1]!.status, 'OK');
  t.is(reports[2]!.status, 'FAIL');
  t.is(reports[2]!.detail, 'the check itself failed: boom second line');
});

test('independent checks overlap: the run takes the longest, not the sum', async (t) => {
  const slow = (name: string): Check => ({ name, run: async () => (await after(300), ok(name)) });
  const started = Date.now();
  await runChecks([slow('a'), slow('b'), slow('c'), slow('d')], ctx());
  t.true(Date.now() - started < 1000);
});

test('an unknown dependency is a programming error, caught before anything runs', async (t) => {
  await t.throwsAsync(runChecks([{ name: 'x', needs: ['nope'], run: async () => ok('') }], ctx()), { message: /x needs unknown check nope/ });
});

const REPORTS: CheckReport[] = [
  { name: 'root', status: 'OK', detail: 'running as root', durationMs: 1 },
  { name: 'redis', status: 'FAIL', detail: 'cannot reach Redis', fix: 'start Redis', durationMs: 3 },
  { name: 'clock-skew', status: 'SKIP', detail: 'needs redis failed', durationMs: 0 },
  { name: 'node-cert', status: 'WARN', detail: 'expires in 1h', fix: 'renew it', durationMs: 2 },
];

test('text report: aligned status and name columns, indented fix lines, a closing count', (t) => {
  t.is(
    renderReport(REPORTS),
    [
      'OK    root        running as root',
      'FAIL  redis       cannot reach Redis',
      '                  fix: start Redis',
      'SKIP  clock-skew  needs redis failed',
      'WARN  node-cert   expires in 1h',
      '                  fix: renew it',
      '',
      '4 checks: 1 OK, 1 WARN, 1 FAIL, 1 SKIP',
      '',
    ].join('\n'),
  );
});

test('JSON report and the exit verdict: any FAIL fails, WARN and SKIP do not', (t) => {
  const json = reportJson(REPORTS);
  t.false(json.ok);
  t.is(json.checks.length, 4);
  t.is(json.checks[1]!.fix, 'start Redis');
  t.true(failed(REPORTS));
  t.false(failed(REPORTS.filter((r) => r.status !== 'FAIL')));
  t.true(reportJson(REPORTS.filter((r) => r.status !== 'FAIL')).ok);
});
