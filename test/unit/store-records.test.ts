/** Records read back from Redis go through schemas: the store is not trusted. */
import test from 'ava';
import { StoreError } from '../../core/errors.js';
import { decodeChange, decodeResource } from '../../core/store/codec.js';
import { checkRecord, decodeRecord, endpointRecord, nodeRecord } from '../../core/store/records.js';
import { nodeStatusSchema } from '../../core/status/index.js';

const ep = {
  service: 'reviews',
  namespace: 'default',
  node: 'b',
  address: '10.0.0.2',
  port: 9080,
  uid: 1001,
  serviceAccount: 'reviews',
  labels: { version: 'v1' },
};

test('a valid endpoint record decodes to the same value', (t) => {
  t.deepEqual(decodeRecord(endpointRecord(), JSON.stringify(ep), 'endpoint x'), ep);
});

test('a corrupt or forged record is ESTORE_CORRUPT naming the key and the field', (t) => {
  const bad = (raw: string) => t.throws(() => decodeRecord(endpointRecord(), raw, 'endpoint default/reviews/b/10.0.0.2:9080'), { instanceOf: StoreError });
  t.regex(bad('{not json')?.message ?? '', /endpoint default\/reviews\/b\/10.0.0.2:9080: the stored record is not JSON/);
  const port = bad(JSON.stringify({ ...ep, port: 70000 }));
  t.is(port?.code, 'ESTORE_CORRUPT');
  t.regex(port?.message ?? '', /port/);
  t.regex(bad(JSON.stringify({ ...ep, uid: '0' }))?.message ?? '', /uid/);
  t.regex(bad(JSON.stringify({ ...ep, admin: true }))?.message ?? '', /admin/, 'unknown fields are refused, not carried along');
  const { serviceAccount: _sa, ...noAccount } = ep;
  t.regex(bad(JSON.stringify(noAccount))?.message ?? '', /serviceAccount: is required/);
});

test('node records: a port out of range is refused', (t) => {
  const r = checkRecord(nodeRecord(), { name: 'a', address: '10.0.0.1', hbonePort: 0 });
  t.false(r.ok);
});

test('a stored resource must keep its envelope; a change-log entry is checked like a snapshot read', (t) => {
  t.throws(() => decodeResource(JSON.stringify({ apiVersion: 'v1', kind: 'A/B', metadata: { name: 'x', namespace: 'default' }, spec: {} }), undefined, 'k'), {
    code: 'ESTORE_CORRUPT',
  });
  t.throws(() => decodeResource('[]', undefined, 'k'), { code: 'ESTORE_CORRUPT' });
  t.throws(() => decodeChange(9, ['t', 'endpoint-put', 'k', 'x', 'd', JSON.stringify({ ...ep, port: 'x' })]), { code: 'ESTORE_CORRUPT' });
  const put = decodeChange(9, ['t', 'endpoint-put', 'k', 'x', 'd', JSON.stringify(ep)]);
  t.deepEqual(put, { type: 'endpoint-put', revision: 9, endpoint: ep });
});

test('a node status report: fields a newer daemon adds are dropped, a wrong type is refused', (t) => {
  const report = {
    tunnels: {
      node: 'a',
      at: 1,
      ejected: [],
      waypoints: [],
      future: { x: 1 },
      outbound: [
        {
          source: 'spiffe://cluster.local/ns/default/sa/p',
          peer: '10.0.0.2:15008',
          streamsActive: 1,
          streamsTotal: 2,
          bytesSent: 3,
          bytesReceived: 4,
          openedAt: 5,
          draining: false,
          extra: 1,
        },
      ],
    },
  };
  const ok = checkRecord(nodeStatusSchema(), report);
  t.true(ok.ok);
  if (ok.ok) {
    t.false('future' in ok.value.tunnels);
    t.false('extra' in (ok.value.tunnels.outbound[0] ?? {}));
  }
  const bad = checkRecord(nodeStatusSchema(), { tunnels: { ...report.tunnels, outbound: [{ ...report.tunnels.outbound[0], bytesSent: 'lots' }] } });
  t.false(bad.ok);
});
