/** core/mesh/hop.ts: where a captured connection goes, one table row per outcome, from plain records. */
import test from 'ava';
import type { Resource } from '../../core/config/resource.js';
import { ALLOCATED_ADDRESSES_ANNOTATION } from '../../core/config/service-entry-addresses.js';
import type { EndpointRecord } from '../../core/store/types.js';
import { waypointEndpoint } from '../../core/store/waypoints.js';
import { resolvedHop, routeOf, type Hop, type Owner, type Route } from '../../core/mesh/hop.js';
import { SocketOwnerError } from '../../daemon/socket-owner.js';
import { formatAuthority } from '../../core/hbone/authority.js';
import type { MeshState } from '../../core/mesh/index.js';
import { endpoint, resource, state } from './support/daemon-fixtures.js';

const TRUST_DOMAIN = 'cluster.local';
const id = (sa: string) => `spiffe://${TRUST_DOMAIN}/ns/default/sa/${sa}`;
const nodeOf = (name: string) => `spiffe://${TRUST_DOMAIN}/ambit/node/${name}`;
const allocated = (byHost: string) => ({ annotations: { [ALLOCATED_ADDRESSES_ANNOTATION]: byHost } });

// Node a is this node (10.0.0.1), node b is 10.0.0.2 with HBONE on 15118 (support/daemon-fixtures.ts).
const productpage = endpoint({ service: 'productpage', node: 'a', address: '10.0.0.1', port: 9080, uid: 2001 });
const reviewsA = endpoint({ service: 'reviews', node: 'a', address: '10.0.0.1', port: 9081, uid: 2002 });
const reviewsB = endpoint({ service: 'reviews', node: 'b', address: '10.0.0.2', port: 9081, serviceAccount: 'bookinfo-reviews' });
const ratings = endpoint({ service: 'ratings', node: 'b', address: '10.0.0.2', port: 9082 });
const orphan = endpoint({ service: 'legacy', node: 'gone', address: '10.0.0.9', port: 7000 });
const detailsHere = endpoint({ service: 'details', node: 'a', address: '10.0.1.5', port: 9080, labels: { app: 'details' } });
const v6 = endpoint({ service: 'v6', node: 'b', address: 'fd00::2', port: 80 });
const ENDPOINTS = [productpage, reviewsA, reviewsB, ratings, orphan, detailsHere, v6];

const waypoint = (node: string, address: string, ready: boolean): EndpointRecord =>
  waypointEndpoint({ namespace: 'default', service: 'ratings', node, address, port: 15009, metricsPort: 15021, state: ready ? 'ready' : 'starting' });

const RESOURCES: Resource[] = [
  resource(
    'ServiceEntry',
    'payments',
    {
      hosts: ['api.pay.example'],
      location: 'MESH_EXTERNAL',
      resolution: 'STATIC',
      ports: [{ number: 443, name: 'https', targetPort: 8443 }],
      endpoints: [{ address: '192.0.2.10' }, { address: '192.0.2.11', ports: { https: 9443 } }],
    },
    allocated('api.pay.example=240.240.1.1'),
  ),
  resource('ServiceEntry', 'db', {
    hosts: ['db.corp'],
    addresses: ['198.51.100.7', '203.0.113.0/24'],
    location: 'MESH_EXTERNAL',
    resolution: 'NONE',
    ports: [{ number: 5432 }],
  }),
  resource(
    'ServiceEntry',
    'httpbin',
    { hosts: ['httpbin.example'], location: 'MESH_EXTERNAL', resolution: 'DNS', ports: [{ number: 80, name: 'http', targetPort: 8080 }] },
    allocated('httpbin.example=240.240.2.2'),
  ),
  resource(
    'ServiceEntry',
    'details',
    {
      hosts: ['details.bookinfo.com'],
      location: 'MESH_INTERNAL',
      resolution: 'STATIC',
      ports: [{ number: 80, name: 'http', targetPort: 9080 }],
      workloadSelector: { labels: { app: 'details' } },
    },
    allocated('details.bookinfo.com=240.240.3.3'),
  ),
  resource('WorkloadEntry', 'details-b', { address: '10.0.0.2', serviceAccount: 'details-legacy', labels: { app: 'details' }, ports: { http: 9090 } }),
  resource('WorkloadEntry', 'details-vm', { address: '192.0.2.50', labels: { app: 'details' } }),
  resource(
    'ServiceEntry',
    'internal',
    { hosts: ['svc.internal'], location: 'MESH_INTERNAL', resolution: 'DNS', ports: [{ number: 80 }, { number: 9081 }] },
    allocated('svc.internal=240.240.4.4'),
  ),
];

/** One line per hop, so a row of the table reads like the log of where the connection went. */
function hopView(hop: Hop): string {
  const at = formatAuthority(hop.address, hop.port);
  switch (hop.kind) {
    case 'hbone':
      return `hbone ${at} via ${hop.peer.host}:${hop.peer.port} expecting ${hop.peerIdentity} as ${hop.identity}`;
    case 'local':
      return `local ${at} as ${hop.identity}`;
    case 'waypoint':
      return `waypoint ${at} for ${hop.authority} as ${hop.identity}`;
    case 'tcp':
      return `tcp ${at}`;
    case 'resolve':
      return `resolve ${at} per ${hop.entry.name}`;
  }
}

interface Forwarded {
  service: string;
  key?: string;
  source?: string;
  hops: string[];
}

function view(route: Route): string | Forwarded {
  switch (route.kind) {
    case 'passthrough':
      return 'passthrough';
    case 'refuse':
      return `refuse ${route.reason}`;
    case 'forward':
      return {
        service: route.service.host,
        ...(route.balanceKey !== undefined ? { key: route.balanceKey } : {}),
        source: route.sourceIdentity,
        hops: route.hops.map(hopView),
      };
  }
}

type To = { vip: string; port: number } | { address: string; port: number };

interface Case {
  name: string;
  to: To;
  /** Default: uid 2001, productpage on this node. */
  owner?: Owner;
  extraEndpoints?: EndpointRecord[];
  extraResources?: Resource[];
  /** A forward route's source defaults to productpage. */
  expect: string | Forwarded;
}

const fqdn = (name: string) => `${name}.default.svc.cluster.local`;

function meshOf(c: { extraEndpoints?: EndpointRecord[]; extraResources?: Resource[] }): MeshState {
  return state([...ENDPOINTS, ...(c.extraEndpoints ?? [])], [...RESOURCES, ...(c.extraResources ?? [])]);
}

function destination(s: MeshState, to: To): { address: string; port: number } {
  if ('address' in to) return to;
  const vip = s.serviceByName(fqdn(to.vip))?.record.vip;
  if (!vip) throw new Error(`no VIP for ${to.vip}`);
  return { address: vip, port: to.port };
}

const ownerUnknown = new SocketOwnerError('ESOCKET_OWNER_UNKNOWN', 'no local socket 10.0.0.1:40000 -> 240.240.0.2:9081');
const unknownOwner: Owner = { error: ownerUnknown };

const reviewsHops = [`local 10.0.0.1:9081 as ${id('reviews')}`, `hbone 10.0.0.2:9081 via 10.0.0.2:15118 expecting ${nodeOf('b')} as ${id('bookinfo-reviews')}`];

const cases: Case[] = [
  {
    name: 'a VIP balances over its endpoints: this node’s is the local shortcut, the other node’s a tunnel to that node',
    to: { vip: 'reviews', port: 9081 },
    expect: { service: fqdn('reviews'), key: fqdn('reviews'), hops: reviewsHops },
  },
  {
    name: 'the source is the workload of the uid owning the client socket',
    to: { vip: 'reviews', port: 9081 },
    owner: { uid: 2002 },
    expect: { service: fqdn('reviews'), key: fqdn('reviews'), source: id('reviews'), hops: reviewsHops },
  },
  {
    name: 'a VIP at a port none of its endpoints serves is not routed: passthrough',
    to: { vip: 'reviews', port: 9999 },
    expect: 'passthrough',
  },
  {
    name: 'an endpoint on a node the store does not list is tunnelled to its own address on the default HBONE port',
    to: { vip: 'legacy', port: 7000 },
    expect: { service: fqdn('legacy'), key: fqdn('legacy'), hops: [`hbone 10.0.0.9:7000 via 10.0.0.9:15008 expecting ${nodeOf('gone')} as ${id('legacy')}`] },
  },
  {
    name: 'a ready waypoint takes the VIP’s traffic, asked for the VIP:port and expected to be itself',
    to: { vip: 'ratings', port: 9082 },
    extraEndpoints: [waypoint('b', '10.0.0.2', true)],
    expect: {
      service: fqdn('ratings'),
      key: `${fqdn('ratings')}/waypoint`,
      hops: [`waypoint 10.0.0.2:15009 for 240.240.0.3:9082 as ${id('ratings-waypoint')}`],
    },
  },
  {
    name: 'every ready waypoint of the service is a candidate; a starting one is not',
    to: { vip: 'ratings', port: 9082 },
    extraEndpoints: [waypoint('b', '10.0.0.2', true), waypoint('a', '10.0.0.1', true), waypoint('a', '10.0.1.9', false)],
    expect: {
      service: fqdn('ratings'),
      key: `${fqdn('ratings')}/waypoint`,
      hops: [
        `waypoint 10.0.0.2:15009 for 240.240.0.3:9082 as ${id('ratings-waypoint')}`,
        `waypoint 10.0.0.1:15009 for 240.240.0.3:9082 as ${id('ratings-waypoint')}`,
      ],
    },
  },
  {
    name: 'a starting waypoint leaves the VIP on direct tunnels',
    to: { vip: 'ratings', port: 9082 },
    extraEndpoints: [waypoint('b', '10.0.0.2', false)],
    expect: { service: fqdn('ratings'), key: fqdn('ratings'), hops: [`hbone 10.0.0.2:9082 via 10.0.0.2:15118 expecting ${nodeOf('b')} as ${id('ratings')}`] },
  },
  {
    name: 'a waypoint takes only the ports its service declares',
    to: { vip: 'ratings', port: 9999 },
    extraEndpoints: [waypoint('b', '10.0.0.2', true)],
    expect: 'passthrough',
  },
  {
    name: 'an endpoint dialled by its address goes to that endpoint alone, with no balancing',
    to: { address: '10.0.0.2', port: 9081 },
    expect: { service: fqdn('reviews'), hops: [`hbone 10.0.0.2:9081 via 10.0.0.2:15118 expecting ${nodeOf('b')} as ${id('bookinfo-reviews')}`] },
  },
  {
    name: 'an endpoint of this node dialled by its address is the local shortcut',
    to: { address: '10.0.0.1', port: 9081 },
    expect: { service: fqdn('reviews'), hops: [`local 10.0.0.1:9081 as ${id('reviews')}`] },
  },
  {
    name: 'an IPv6 endpoint is tunnelled with a bracketed authority',
    to: { address: 'fd00::2', port: 80 },
    expect: { service: fqdn('v6'), hops: [`hbone [fd00::2]:80 via 10.0.0.2:15118 expecting ${nodeOf('b')} as ${id('v6')}`] },
  },
  {
    name: 'ServiceEntry STATIC, MESH_EXTERNAL: plain TCP to each endpoint at its named port, else targetPort',
    to: { address: '240.240.1.1', port: 443 },
    expect: { service: 'api.pay.example', key: 'default/payments/api.pay.example:443', hops: ['tcp 192.0.2.10:8443', 'tcp 192.0.2.11:9443'] },
  },
  {
    name: 'a port the ServiceEntry does not declare is not mesh traffic',
    to: { address: '240.240.1.1', port: 80 },
    expect: 'passthrough',
  },
  {
    name: 'ServiceEntry NONE: the address the caller chose, with no balancing',
    to: { address: '198.51.100.7', port: 5432 },
    expect: { service: 'db.corp', hops: ['tcp 198.51.100.7:5432'] },
  },
  {
    name: 'ServiceEntry NONE: any address inside its CIDR',
    to: { address: '203.0.113.40', port: 5432 },
    expect: { service: 'db.corp', hops: ['tcp 203.0.113.40:5432'] },
  },
  {
    name: 'ServiceEntry NONE, MESH_INTERNAL, at a node’s address: a mesh workload with the default service account',
    to: { address: '10.0.0.2', port: 8000 },
    extraResources: [
      resource('ServiceEntry', 'vm', {
        hosts: ['vm.internal'],
        addresses: ['10.0.0.2'],
        location: 'MESH_INTERNAL',
        resolution: 'NONE',
        ports: [{ number: 8000 }],
      }),
    ],
    expect: { service: 'vm.internal', hops: [`hbone 10.0.0.2:8000 via 10.0.0.2:15118 expecting ${nodeOf('b')} as ${id('default')}`] },
  },
  {
    name: 'ServiceEntry DNS without endpoints: its host, resolved at connect time, at the target port',
    to: { address: '240.240.2.2', port: 80 },
    expect: { service: 'httpbin.example', key: 'default/httpbin/httpbin.example:80', hops: ['resolve httpbin.example:8080 per httpbin'] },
  },
  {
    name: 'workloadSelector, MESH_INTERNAL: a WorkloadEntry on a node over HBONE, one off the mesh as TCP, an enrolled workload here locally',
    to: { address: '240.240.3.3', port: 80 },
    expect: {
      service: 'details.bookinfo.com',
      key: 'default/details/details.bookinfo.com:80',
      hops: [
        `hbone 10.0.0.2:9090 via 10.0.0.2:15118 expecting ${nodeOf('b')} as ${id('details-legacy')}`,
        'tcp 192.0.2.50:9080',
        `local 10.0.1.5:9080 as ${id('details')}`,
      ],
    },
  },
  {
    name: 'a destination outside the mesh passes through',
    to: { address: '192.0.2.99', port: 443 },
    expect: 'passthrough',
  },
  {
    name: 'a destination outside the mesh passes through even when the kernel cannot name the client',
    to: { address: '192.0.2.99', port: 443 },
    owner: unknownOwner,
    expect: 'passthrough',
  },
  {
    name: 'a mesh destination whose client the kernel cannot name is refused',
    to: { vip: 'reviews', port: 9081 },
    owner: unknownOwner,
    expect: 'refuse owner-unknown',
  },
  {
    name: 'a uid of no workload on this node passes through',
    to: { vip: 'reviews', port: 9081 },
    owner: { uid: 4242 },
    expect: 'passthrough',
  },
];

for (const c of cases) {
  test(`routeOf: ${c.name}`, (t) => {
    const s = meshOf(c);
    const route = routeOf(s, TRUST_DOMAIN, { destination: destination(s, c.to), owner: c.owner ?? { uid: 2001 } });
    t.deepEqual(view(route), typeof c.expect === 'string' ? c.expect : { source: id('productpage'), ...c.expect });
  });
}

test('routeOf: a refusal carries the owner lookup’s own error, which names the missing socket', (t) => {
  const s = meshOf({});
  const route = routeOf(s, TRUST_DOMAIN, { destination: destination(s, { vip: 'reviews', port: 9081 }), owner: unknownOwner });
  t.is(route.kind === 'refuse' ? route.cause : undefined, ownerUnknown);
});

interface ResolvedCase {
  name: string;
  /** The ServiceEntry address dialled; its route's first hop must be a resolve hop. */
  to: { address: string; port: number };
  ip: string;
  expect: string;
}

const resolvedCases: ResolvedCase[] = [
  { name: 'MESH_EXTERNAL stays plain TCP even at a node’s address', to: { address: '240.240.2.2', port: 80 }, ip: '10.0.0.2', expect: 'tcp 10.0.0.2:8080' },
  {
    name: 'MESH_INTERNAL at another node’s address is a tunnel to that node',
    to: { address: '240.240.4.4', port: 80 },
    ip: '10.0.0.2',
    expect: `hbone 10.0.0.2:80 via 10.0.0.2:15118 expecting ${nodeOf('b')} as ${id('default')}`,
  },
  {
    name: 'MESH_INTERNAL at this node’s address is the local shortcut',
    to: { address: '240.240.4.4', port: 80 },
    ip: '10.0.0.1',
    expect: `local 10.0.0.1:80 as ${id('default')}`,
  },
  {
    name: 'MESH_INTERNAL at an enrolled endpoint keeps that endpoint’s identity',
    to: { address: '240.240.4.4', port: 9081 },
    ip: '10.0.0.2',
    expect: `hbone 10.0.0.2:9081 via 10.0.0.2:15118 expecting ${nodeOf('b')} as ${id('bookinfo-reviews')}`,
  },
  { name: 'MESH_INTERNAL off the mesh is plain TCP', to: { address: '240.240.4.4', port: 80 }, ip: '192.0.2.1', expect: 'tcp 192.0.2.1:80' },
];

for (const c of resolvedCases) {
  test(`resolvedHop: ${c.name}`, (t) => {
    const s = meshOf({});
    const route = routeOf(s, TRUST_DOMAIN, { destination: c.to, owner: { uid: 2001 } });
    const hop = route.kind === 'forward' ? route.hops[0] : undefined;
    if (hop?.kind !== 'resolve')
      return t.fail(`${formatAuthority(c.to.address, c.to.port)} should route to a host to resolve, not ${JSON.stringify(view(route))}`);
    t.is(hopView(resolvedHop(s, TRUST_DOMAIN, hop, c.ip)), c.expect);
  });
}
