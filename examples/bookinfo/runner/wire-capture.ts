/**
 * What crossed a host's wire while something ran: tcpdump on the host's veth
 * writes a pcap, which is then searched for plaintext markers and TLS records,
 * and read back by tcpdump to count packets per port.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Mesh } from '../../../test/helpers/mesh.js';
import { waitForOutput } from '../../../test/helpers/netns.js';

export interface WireFacts {
  bytes: number;
  packets: number;
  /** TCP packets by the lower of their two ports (the server side), e.g. {15008: 120}. */
  packetsByPort: Map<number, number>;
  /** TLS application-data record headers (type 23, version 3.3: also what TLS 1.3 sends). */
  tlsRecords: number;
  /** Each marker and how many times it appears in the capture. */
  markers: Map<string, number>;
}

export async function captureWire<T>(mesh: Mesh, host: string, markers: string[], during: () => Promise<T>): Promise<{ result: T; wire: WireFacts }> {
  const h = mesh.topo.host(host);
  const file = join(mesh.dir, `wire-${host}-${Date.now()}.pcap`);
  const dump = mesh.topo.spawn(host, 'tcpdump', ['--immediate-mode', '-U', '-n', '-i', h.veth, '-w', file, 'tcp']);
  try {
    await waitForOutput(dump, /listening on/, 10_000);
    const result = await during();
    // Let the last segments reach the capture before stopping it.
    await new Promise((r) => setTimeout(r, 300));
    const closed = new Promise((r) => dump.once('close', r));
    dump.kill('SIGINT');
    await closed;
    const pcap = readFileSync(file);
    const listing = await mesh.topo.exec(host, 'tcpdump', ['-nn', '-r', file, 'tcp']);
    return { result, wire: facts(pcap, listing.stdout, markers) };
  } finally {
    if (dump.exitCode === null) dump.kill('SIGKILL');
    rmSync(file, { force: true });
  }
}

function facts(pcap: Buffer, listing: string, markers: string[]): WireFacts {
  const packetsByPort = new Map<number, number>();
  let packets = 0;
  // "IP 10.77.3.2.43210 > 10.77.3.3.15008: Flags [P.], ..."
  for (const m of listing.matchAll(/ IP \d+\.\d+\.\d+\.\d+\.(\d+) > \d+\.\d+\.\d+\.\d+\.(\d+):/g)) {
    packets++;
    const port = Math.min(Number(m[1]), Number(m[2]));
    packetsByPort.set(port, (packetsByPort.get(port) ?? 0) + 1);
  }
  return {
    bytes: pcap.length,
    packets,
    packetsByPort,
    tlsRecords: occurrences(pcap, Buffer.from([0x17, 0x03, 0x03])),
    markers: new Map(markers.map((m) => [m, occurrences(pcap, Buffer.from(m))])),
  };
}

function occurrences(haystack: Buffer, needle: Buffer): number {
  let n = 0;
  for (let i = haystack.indexOf(needle); i !== -1; i = haystack.indexOf(needle, i + needle.length)) n++;
  return n;
}
