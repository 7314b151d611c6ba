/**
 * For the browser-login tests: a real OpenID provider (the certified
 * `oidc-provider` package, with its development login and consent pages) on
 * 127.0.0.1, a "front door" on 127.0.0.2 that carries each browser connection
 * into an HBONE tunnel to the waypoint (what ambitd's capture does for a real
 * client), and a small browser made of fetch: a cookie jar per host, redirects
 * followed by hand, forms posted as a browser would post them.
 */
import { once } from 'node:events';
import { createServer, type RequestListener } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ExecutionContext } from 'ava';
import Provider, { type Configuration } from 'oidc-provider';

export interface TestIssuer {
  issuer: string;
  provider: Provider;
  /** Grant types the token endpoint granted, in order. */
  grants: string[];
}

export interface IssuerOptions {
  clientId: string;
  clientSecret: string;
  /** The front door's origin: the client's redirect and post-logout URIs are registered under it. */
  origin: string;
  /** Seconds access and ID tokens last. */
  tokenTtlS: number;
}

/** Alice is in admins, anyone else in users: AuthorizationPolicy tests tell them apart by the groups claim. */
export async function startIssuer(t: ExecutionContext, o: IssuerOptions): Promise<TestIssuer> {
  let handler: RequestListener = (_req, res) => res.writeHead(503).end();
  const server = createServer((req, res) => handler(req, res));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((r) => server.close(() => r())).then(() => undefined));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const config: Configuration = {
    clients: [
      {
        client_id: o.clientId,
        client_secret: o.clientSecret,
        redirect_uris: [`${o.origin}/oauth2/callback`],
        post_logout_redirect_uris: [`${o.origin}/`],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    findAccount: (_ctx, id) =>
      Promise.resolve({
        accountId: id,
        claims: () => Promise.resolve({ sub: id, email: `${id}@example.test`, groups: id === 'alice' ? ['admins'] : ['users'] }),
      }),
    claims: { openid: ['sub'], email: ['email'], profile: ['groups'] },
    conformIdTokenClaims: false,
    issueRefreshToken: () => Promise.resolve(true),
    ttl: { AccessToken: o.tokenTtlS, IdToken: o.tokenTtlS, RefreshToken: 3600, Grant: 3600, Session: 3600, Interaction: 600 },
    features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
    pkce: { required: () => true },
    cookies: { keys: ['ambit-test-cookie-key'] },
  };
  const provider = new Provider(issuer, config);
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

export interface Page {
  status: number;
  url: string;
  headers: Headers;
  body: string;
}

/** A browser's cookie handling, as far as these tests need it: by host (cookies ignore ports), Max-Age=0 deletes. */
export class FetchBrowser {
  readonly jar = new Map<string, Map<string, string>>();
  /** Every URL a navigation went through, redirects included. */
  readonly visited: string[] = [];

  cookies(url: string): Map<string, string> {
    const host = new URL(url).hostname;
    let c = this.jar.get(host);
    if (!c) this.jar.set(host, (c = new Map<string, string>()));
    return c;
  }

  async #one(url: string, init: RequestInit): Promise<Response> {
    const jar = this.cookies(url);
    const headers = new Headers(init.headers);
    headers.set('accept', 'text/html,application/xhtml+xml');
    if (jar.size > 0) headers.set('cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      const [pair = '', ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const gone = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || attrs.some((a) => /^\s*expires=thu, 01 jan 1970/i.test(a));
      if (gone) jar.delete(name);
      else jar.set(name, value);
    }
    return res;
  }

  /** Loads `url` following redirects (a 302/303 after a POST becomes a GET, as browsers do). */
  async go(url: string, init: RequestInit = {}): Promise<Page> {
    let current = url;
    let req = init;
    for (let hops = 0; hops < 20; hops++) {
      this.visited.push(current);
      const res = await this.#one(current, req);
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        await res.arrayBuffer();
        current = new URL(location, current).toString();
        req = {};
        continue;
      }
      return { status: res.status, url: current, headers: res.headers, body: await res.text() };
    }
    throw new Error(`more than 20 redirects from ${url}`);
  }

  /** Submits the page's first form (or the one with `id`), its inputs as the page has them, with `fields` filled in. */
  submit(page: Page, fields: Record<string, string> = {}, id?: string): Promise<Page> {
    const forms = [...page.body.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)];
    const form = id ? forms.find((f) => (f[1] ?? '').includes(`id="${id}"`)) : forms[0];
    if (!form) throw new Error(`no form on ${page.url}: ${page.body.slice(0, 300)}`);
    const action = /action="([^"]*)"/.exec(form[1] ?? '')?.[1] ?? page.url;
    const data = new URLSearchParams();
    for (const input of (form[2] ?? '').matchAll(/<input\b([^>]*)>/g)) {
      const name = /name="([^"]*)"/.exec(input[1] ?? '')?.[1];
      if (name) data.set(name, /value="([^"]*)"/.exec(input[1] ?? '')?.[1] ?? '');
    }
    for (const [k, v] of Object.entries(fields)) data.set(k, v);
    return this.go(new URL(action.replace(/&amp;/g, '&'), page.url).toString(), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: data.toString(),
    });
  }
}
