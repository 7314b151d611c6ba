/**
 * One GET to another Bookinfo service, by its mesh name, with a deadline. A
 * new connection per call (no keep-alive): each call is then routed afresh,
 * so a waypoint attached or a policy applied mid-demo applies to the very next
 * request, as it would for Bookinfo's own Python and Java services.
 */
import { get } from 'node:http';

export type Answer = { ok: true; status: number; body: unknown } | { ok: false; error: string };

export function getJson(url: string, headers: Record<string, string>, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve) => {
    const req = get(url, { headers: { ...headers, accept: 'application/json' }, agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err) => resolve({ ok: false, error: err.message }));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        const status = res.statusCode ?? 0;
        if (status < 200 || status > 299) return resolve({ ok: false, error: `HTTP ${status}${text ? `: ${text.trim().slice(0, 120)}` : ''}` });
        try {
          resolve({ ok: true, status, body: JSON.parse(text) as unknown });
        } catch {
          resolve({ ok: false, error: `HTTP ${status} with a body that is not JSON` });
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => resolve({ ok: false, error: err.message }));
  });
}
