/**
 * For the browser-login tests: a real OpenID provider (the certified
 * `oidc-provider` package, with its development login and consent pages) on
 * 127.0.0.1, a "front door" on 127.0.0.2 that carries each browser connection
 * into an HBONE tunnel to the waypoint (what ambitd's capture does for a real
 * client). The browser is fetch-browser.ts.
 */
import { once } from 'node:events';
import { createServer, type RequestListener } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ExecutionContext } from 'ava';
import Provider from 'oidc-provider';
import { testIssuerConfig, type IssuerOptions } from './oidc-issuer-config.js';

export interface TestIssuer {
  issuer: string;
  provider: Provider;
  /** Grant types the token endpoint granted, in order. */
  grants: string[];
}

/** The provider of testIssuerConfig on a loopback port of its own, in this process. */
export async function startIssuer(t: ExecutionContext, o: IssuerOptions): Promise<TestIssuer> {
  let handler: RequestListener = (_req, res) => res.writeHead(503).end();
  const server = createServer((req, res) => handler(req, res));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((r) => server.close(() => r())).then(() => undefined));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, testIssuerConfig(o));
  const grants: string[] = [];
  provider.on('grant.success', (ctx) => grants.push(String((ctx.oidc.params as { grant_type?: string } | undefined)?.grant_type)));
  const callback = provider.callback();
  handler = (req, res) => void callback(req, res);
  return { issuer, provider, grants };
}

/** A loopback listener on `host` whose every connection is piped into a fresh tunnel from `dial`. */
export async function startFrontDoor(t: ExecutionContext, host: string, dial: () => Promise<Duplex>): Promise<string> {
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.pause();
    dial().then(
      (tunnel) => {
        tunnel.on('error', () => socket.destroy());
        socket.pipe(tunnel).pipe(socket);
        socket.resume();
      },
      () => socket.destroy(),
    );
  });
  server.listen(0, host);
  await once(server, 'listening');
  t.teardown(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return `http://${host}:${(server.address() as AddressInfo).port}`;
}
