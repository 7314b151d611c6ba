/**
 * The server end of the data-plane benches (bench/hbone-throughput.ts,
 * bench/l4). The first byte picks the mode. BULK_BYTE: a bulk sink that
 * answers the byte count when it sees the 0x00 end mark (so no number depends
 * on half-close, which stunnel turns into a full close). Anything else: an echo.
 */
import { createServer, type Server } from 'node:net';

export const BULK_BYTE = 0x5a;

export function createSinkServer(): Server {
  return createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => undefined);
    socket.once('data', (first: Buffer) => {
      if (first[0] === BULK_BYTE) {
        // Nagle stays on for bulk, as iperf3 does: on loopback TCP_NODELAY
        // alone costs more than half of Node's raw TCP throughput.
        let n = 0;
        const count = (c: Buffer): void => {
          n += c.length;
          if (c[c.length - 1] === 0) socket.end(String(n));
        };
        count(first);
        socket.on('data', count);
      } else {
        socket.setNoDelay(true);
        socket.write(first);
        socket.pipe(socket);
      }
    });
  });
}
