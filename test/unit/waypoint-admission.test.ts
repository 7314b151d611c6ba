/**
 * The gates before the router (waypoint/admission.ts): RBAC on the request's
 * attributes, and the fault filter's outcome for given dice, with time and
 * the client faked so each row is a value.
 */
import test from 'ava';
import { compilePolicies } from '../../core/authz/index.js';
import { applyFault, authorize, type FaultOutcome } from '../../waypoint/admission.js';
import type { RequestAttributes } from '../../waypoint/route.js';
import type { FaultPolicy } from '../../core/routing/index.js';
import { fqdn, sequence } from './waypoint-helpers.js';

const attributes = (over: Partial<RequestAttributes> = {}): RequestAttributes => ({
  host: 'reviews:9080',
  path: '/reviews/1',
  method: 'GET',
  headers: {},
  caller: { principal: 'spiffe://cluster.local/ns/default/sa/bookinfo-productpage', address: '10.0.0.5' },
  service: fqdn('reviews'),
  port: 9080,
  ...over,
});

test('authorize: a service without policies admits everything, and no policy is named', (t) => {
  t.deepEqual(authorize(undefined, attributes(), '240.240.0.1'), { allowed: true, policy: undefined });
});

test("authorize: the waypoint's ALLOW policy reads method and path, and names itself", (t) => {
  const set = compilePolicies([
    {
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: 'reads', namespace: 'default' },
      spec: { targetRefs: [{ kind: 'Service', group: '', name: 'reviews' }], rules: [{ to: [{ operation: { methods: ['GET'], paths: ['/reviews/*'] } }] }] },
    },
  ]);
  const policies = set.forWorkload({ namespace: 'default', serviceName: 'reviews', atWaypoint: true });
  t.like(authorize(policies, attributes(), '240.240.0.1'), { allowed: true, policy: 'default/reads' });
  t.false(authorize(policies, attributes({ method: 'DELETE' }), '240.240.0.1').allowed);
  t.false(authorize(policies, attributes({ path: '/admin' }), '240.240.0.1').allowed);
});

const fault = (over: Partial<FaultPolicy>): FaultPolicy => ({ delayMs: 0, delayPercent: 0, abortStatus: undefined, abortPercent: 0, ...over });

interface Row {
  name: string;
  fault: FaultPolicy | undefined;
  /** Dice, one for each kind of fault the route has: delay first, then abort. */
  dice: number[];
  /** The client leaves during the delay. */
  leaves?: boolean;
  want: { outcome: FaultOutcome['kind']; status?: number; flag?: string; sleptMs: number[] };
}

const rows: Row[] = [
  { name: 'no fault on the route: passes, no dice, no delay', fault: undefined, dice: [], want: { outcome: 'pass', sleptMs: [] } },
  {
    name: "abort at 100%: Envoy's fault abort (FI)",
    fault: fault({ abortStatus: 503, abortPercent: 100 }),
    dice: [0.99],
    want: { outcome: 'reply', status: 503, flag: 'FI', sleptMs: [] },
  },
  { name: 'abort whose dice miss: passes', fault: fault({ abortStatus: 500, abortPercent: 10 }), dice: [0.1], want: { outcome: 'pass', sleptMs: [] } },
  {
    name: 'delay whose dice hit: served, then passes',
    fault: fault({ delayMs: 2000, delayPercent: 50 }),
    dice: [0.49],
    want: { outcome: 'pass', sleptMs: [2000] },
  },
  { name: 'delay whose dice miss: no wait', fault: fault({ delayMs: 2000, delayPercent: 50 }), dice: [0.5], want: { outcome: 'pass', sleptMs: [] } },
  {
    name: 'delay then abort: the delay is served before the abort answers',
    fault: fault({ delayMs: 100, delayPercent: 100, abortStatus: 429, abortPercent: 100 }),
    dice: [0, 0],
    want: { outcome: 'reply', status: 429, flag: 'FI', sleptMs: [100] },
  },
  {
    name: 'a client that leaves during the delay ends the request there, abort or not',
    fault: fault({ delayMs: 100, delayPercent: 100, abortStatus: 429, abortPercent: 100 }),
    dice: [0, 0],
    leaves: true,
    want: { outcome: 'gone', sleptMs: [100] },
  },
];

const noDice = (): number => {
  throw new Error('rolled dice for a route without a fault');
};

for (const row of rows) {
  test(`fault filter: ${row.name}`, async (t) => {
    const slept: number[] = [];
    let gone = false;
    const dice = row.dice.length === 0 ? noDice : sequence(...row.dice);
    const outcome = await applyFault(row.fault, {
      rng: dice,
      sleep: async (ms) => {
        slept.push(ms);
        gone = row.leaves === true;
      },
      clientGone: () => gone,
    });
    const reply = outcome.kind === 'reply' ? { status: outcome.reply.status, flag: outcome.reply.flag } : {};
    t.deepEqual({ outcome: outcome.kind, ...reply, sleptMs: slept }, row.want);
  });
}
