import test from 'ava';
import { DEFAULT_RETRY_POLICY, retryPolicyFor, shouldRetry, type AttemptOutcome } from '../../core/routing/index.js';

test('no retries block: Istio default, 2 retries on connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes [503]', (t) => {
  const p = retryPolicyFor(undefined)!;
  t.is(p, DEFAULT_RETRY_POLICY);
  t.is(p.attempts, 2);
  t.deepEqual([...p.retryOn].sort(), ['cancelled', 'connect-failure', 'refused-stream', 'retriable-status-codes', 'unavailable']);
  t.deepEqual([...p.retriableStatusCodes], [503]);
  t.is(p.perTryTimeoutMs, undefined);
});

test('attempts 0 or unset disables retries; retryOn replaces conditions and codes', (t) => {
  t.is(retryPolicyFor({ attempts: 0 }), undefined);
  t.is(retryPolicyFor({}), undefined);
  const keep = retryPolicyFor({ attempts: 5 })!;
  t.deepEqual([...keep.retriableStatusCodes], [503]);
  const own = retryPolicyFor({ attempts: 1, retryOn: ['gateway-error', 'reset'] })!;
  t.deepEqual([...own.retryOn], ['gateway-error', 'reset']);
  t.deepEqual([...own.retriableStatusCodes], []);
});

const row = (retryOn: string[], o: AttemptOutcome) => shouldRetry(retryPolicyFor({ attempts: 1, retryOn }), o);

test('shouldRetry follows Envoy retry_on', (t) => {
  const table: [string[], AttemptOutcome, boolean][] = [
    [['5xx'], { status: 500 }, true],
    [['5xx'], { status: 503 }, true],
    [['5xx'], { status: 404 }, false],
    [['5xx'], { error: 'reset' }, true],
    [['5xx'], { error: 'timeout' }, true],
    [['5xx'], { error: 'connect-failure' }, true],
    [['gateway-error'], { status: 500 }, false],
    [['gateway-error'], { status: 502 }, true],
    [['gateway-error'], { status: 504 }, true],
    [['gateway-error'], { error: 'reset' }, true],
    [['connect-failure'], { error: 'connect-failure' }, true],
    [['connect-failure'], { error: 'reset' }, false],
    [['connect-failure'], { status: 503 }, false],
    [['reset'], { error: 'reset' }, true],
    [['reset'], { error: 'timeout' }, true],
    [['reset'], { error: 'refused-stream' }, true],
    [['reset'], { status: 503 }, false],
    [['refused-stream'], { error: 'refused-stream' }, true],
    [['refused-stream'], { error: 'reset' }, false],
    [['retriable-4xx'], { status: 409 }, true],
    [['retriable-4xx'], { status: 429 }, false],
    [['retriable-status-codes', '429'], { status: 429 }, true],
    [['429'], { status: 429 }, true],
    [['retriable-status-codes'], { status: 503 }, false],
    [['unavailable'], { status: 200, grpcStatus: 14 }, true],
    [['cancelled'], { status: 200, grpcStatus: 1 }, true],
    [['unavailable'], { status: 200, grpcStatus: 1 }, false],
    [['5xx'], { status: 200 }, false],
  ];
  for (const [on, outcome, want] of table) t.is(row(on, outcome), want, `${on.join(',')} ${JSON.stringify(outcome)}`);
});

test('the default policy retries 503 and connect failures, not 500 or resets', (t) => {
  t.true(shouldRetry(DEFAULT_RETRY_POLICY, { status: 503 }));
  t.true(shouldRetry(DEFAULT_RETRY_POLICY, { error: 'connect-failure' }));
  t.true(shouldRetry(DEFAULT_RETRY_POLICY, { error: 'refused-stream' }));
  t.false(shouldRetry(DEFAULT_RETRY_POLICY, { status: 500 }));
  t.false(shouldRetry(DEFAULT_RETRY_POLICY, { error: 'reset' }));
  t.false(shouldRetry(undefined, { status: 503 }));
});
