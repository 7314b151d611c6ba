/** The VIPs `ambit apply` allocates for ServiceEntry hosts, and how they are recorded on the entry. */
import test from 'ava';
import { allocatedAddresses, ALLOCATED_ADDRESSES_ANNOTATION, hostsNeedingVip, withAllocatedAddresses } from '../../core/config/service-entry-addresses.js';
import { allocateServiceEntryVips } from '../../cli/service-entry-vips.js';
import { resource } from './support/daemon-fixtures.js';

test('hosts needing a VIP: not with addresses, not wildcards, not resolution NONE', (t) => {
  t.deepEqual(hostsNeedingVip(resource('ServiceEntry', 'a', { hosts: ['A.example', '*.b.example'], resolution: 'DNS' })), ['a.example']);
  t.deepEqual(hostsNeedingVip(resource('ServiceEntry', 'a', { hosts: ['a.example'], addresses: ['10.1.1.1'], resolution: 'DNS' })), []);
  t.deepEqual(hostsNeedingVip(resource('ServiceEntry', 'a', { hosts: ['a.example'], resolution: 'NONE' })), []);
  t.deepEqual(hostsNeedingVip(resource('ServiceEntry', 'a', { hosts: ['a.example'] })), [], 'resolution defaults to NONE, as in Istio');
});

test('the annotation round-trips, replaces a stale one and keeps other annotations', (t) => {
  const se = resource('ServiceEntry', 'a', { hosts: ['a.example'] }, { annotations: { keep: 'me', [ALLOCATED_ADDRESSES_ANNOTATION]: 'old=1.1.1.1' } });
  const out = withAllocatedAddresses(
    se,
    new Map([
      ['b.example', '240.240.0.2'],
      ['a.example', '240.240.0.1'],
    ]),
  );
  t.is(out.metadata.annotations?.[ALLOCATED_ADDRESSES_ANNOTATION], 'a.example=240.240.0.1,b.example=240.240.0.2');
  t.is(out.metadata.annotations?.keep, 'me');
  t.deepEqual(
    [...allocatedAddresses(out)],
    [
      ['a.example', '240.240.0.1'],
      ['b.example', '240.240.0.2'],
    ],
  );
  t.is(se.metadata.annotations?.[ALLOCATED_ADDRESSES_ANNOTATION], 'old=1.1.1.1', 'the input is not modified');
  t.is(withAllocatedAddresses(resource('ServiceEntry', 'a', { hosts: ['a'] }), new Map()).metadata.annotations, undefined);
});

test('apply allocates per host, owned by namespace/host, and leaves other kinds alone', async (t) => {
  const calls: string[] = [];
  const store = { allocateVip: async (ns: string, name: string) => (calls.push(`${ns}/${name}`), `240.240.0.${calls.length}`) };
  const vs = resource('VirtualService', 'v', { hosts: ['x'] });
  const [se, same] = await allocateServiceEntryVips(store, [
    resource('ServiceEntry', 'a', { hosts: ['a.example', 'b.example'], resolution: 'DNS' }, { namespace: 'shop' }),
    vs,
  ]);
  t.deepEqual(calls, ['shop/a.example', 'shop/b.example']);
  t.is(se!.metadata.annotations?.[ALLOCATED_ADDRESSES_ANNOTATION], 'a.example=240.240.0.1,b.example=240.240.0.2');
  t.is(same, vs);
});
