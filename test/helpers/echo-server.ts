/** A TCP echo service on loopback for tests that tunnel to a local workload: every byte back, half-close kept, closed at the test's end. */
import type { ExecutionContext } from 'ava';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';

/** Listens on 127.0.0.1 and returns the port. */
export async function startEchoServer(t: ExecutionContext): Promise<number> {
  const sockets = new Set<Socket>();
  const echo = createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
    s.pipe(s);
  });
  echo.listen(0, '127.0.0.1');
  await once(echo, 'listening');
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    echo.close();
  });
  return (echo.address() as AddressInfo).port;
}
