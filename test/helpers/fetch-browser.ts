/**
 * A small browser made of fetch, for the OIDC login tests: a cookie jar per
 * host, redirects followed by hand, forms posted as a browser would post them.
 * The integration tests use it in process; the netns e2e runs it as an
 * enrolled user through test/e2e/fixtures/oidc-browser.ts, its jar kept in a file.
 */

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
