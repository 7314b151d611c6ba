/** The arguments the daemon passes to scripts/iptables/apply.sh. */
import test from 'ava';
import { captureArgs, type CaptureSpec } from '../../daemon/capture.js';

const spec: CaptureSpec = {
  uids: [2001, 2002],
  meshCidrs: ['240.240.0.0/16', '10.0.0.2/32'],
  strictPorts: [9080],
  inboundEndpoints: ['10.0.0.2:9080', '[fd00::2]:9081'],
  inboundPort: 15006,
  dns: true,
  exemptUid: 0,
  outboundPort: 15001,
  dnsPort: 15053,
};

test('every setting becomes a flag', (t) => {
  t.deepEqual(captureArgs(spec), [
    '--uids',
    '2001,2002',
    '--exempt-uid',
    '0',
    '--outbound-port',
    '15001',
    '--dns-port',
    '15053',
    '--mesh-cidrs',
    '240.240.0.0/16,10.0.0.2/32',
    '--strict-ports',
    '9080',
    '--inbound-endpoints',
    '10.0.0.2:9080,[fd00::2]:9081',
    '--inbound-port',
    '15006',
    '--dns',
  ]);
});

test('empty lists are left out and DNS capture can be off', (t) => {
  const args = captureArgs({ ...spec, uids: [], meshCidrs: [], strictPorts: [], inboundEndpoints: [], dns: false });
  t.deepEqual(args, ['--uids', '', '--exempt-uid', '0', '--outbound-port', '15001', '--dns-port', '15053', '--no-dns']);
});

test('the same spec gives the same arguments (the daemon skips re-applying equal rules)', (t) => {
  t.is(captureArgs(spec).join(' '), captureArgs({ ...spec }).join(' '));
});
