/** RateLimit: the token bucket's arithmetic and what the resource accepts. */
import test from 'ava';
import { take } from '../../waypoint/ratelimit/token-bucket.js';
import { doc, problems } from './support/config-docs.js';
import { parseDocuments } from '../../core/config/index.js';

test('a bucket starts full, refuses when empty, refills at the rate and never beyond its capacity', (t) => {
  const rate = 10 / 1000; // 10 per second
  let state;
  const allowed: boolean[] = [];
  for (let i = 0; i < 5; i++) {
    const r = take(state, 3, rate, 0);
    state = r.state;
    allowed.push(r.take.allowed);
  }
  t.deepEqual(allowed, [true, true, true, false, false]);
  const refused = take(state, 3, rate, 0);
  t.is(refused.take.retryAfterMs, 100, 'one token takes 100 ms at 10/s');
  const later = take(state, 3, rate, 150);
  t.true(later.take.allowed);
  t.is(later.take.remaining, 0);
  const muchLater = take(later.state, 3, rate, 60_000);
  t.is(muchLater.take.remaining, 2, 'capped at the capacity: 3 then one taken');
});

const RL = ['targetRefs: [{kind: Service, name: reviews}]', 'rules:', '- name: per-user', '  requests: 10', '  unit: second'];

test('RateLimit applies as ambit.dev/v1alpha1 and refuses what would not work, at its line', (t) => {
  t.notThrows(() =>
    parseDocuments(
      doc('RateLimit', 'r', [...RL, '  burst: 20', '  key: {header: x-user}', '  match: {methods: [GET], pathPrefix: /api, headers: {x-env: {exact: prod}}}']),
      'test.yaml',
    ),
  );
  const unit = problems(doc('RateLimit', 'r', [...RL.slice(0, 4), '  unit: day']));
  t.regex(unit[0]!.message, /test\.yaml:10: .*rules\[0\]\.unit: must be one of second, minute, hour/);
  const noTarget = problems(doc('RateLimit', 'r', RL.slice(1)));
  t.regex(noTarget[0]!.message, /targetRefs is required/);
  const both = problems(doc('RateLimit', 'r', [...RL, '  key: {header: x-user, sourcePrincipal: true}']));
  t.regex(both[0]!.message, /header or sourcePrincipal, not both/);
  const twice = problems(doc('RateLimit', 'r', [...RL, ...RL.slice(2)]));
  t.regex(twice[0]!.message, /rules\[1\]\.name: rule per-user is named twice/);
  const zero = problems(doc('RateLimit', 'r', [...RL.slice(0, 3), '  requests: 0', '  unit: second']));
  t.regex(zero[0]!.message, /requests: must be at least 1/);
  const lookahead = problems(doc('RateLimit', 'r', [...RL, '  match: {headers: {x-env: {regex: "(?!prod).*"}}}']));
  t.regex(lookahead[0]!.message, /test\.yaml:11: .*rules\[0\]\.match\.headers\.x-env\.regex: .*does not support lookahead/);
});
