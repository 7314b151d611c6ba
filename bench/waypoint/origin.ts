/**
 * The HTTP/1.1 service behind every path of bench/waypoint, run in the
 * server's network namespace: one process listening on each given port,
 * answering every request with the same small body over keep-alive.
 *
 *   node dist/bench/waypoint/origin.js <ip> <port> [<port> ...]
 */
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';

export const ORIGIN_BODY = 'hello from the bench origin\n';

function main([host, ...ports]: string[]): void {
  if (!host || ports.length === 0) throw new Error('usage: origin.js <ip> <port> [<port> ...]');
  const body = Buffer.from(ORIGIN_BODY);
  const headers = { 'content-type': 'text/plain', 'content-length': String(body.length) };
  let listening = 0;
  for (const port of ports) {
    const server = createServer((req, res) => {
      // Drain any request body, then answer: the proxies are what is measured, not this.
      req.resume();
      res.writeHead(200, headers).end(body);
    });
    // Longer than any measurement: a proxy's pooled connection must not be closed under it mid-run.
    server.keepAliveTimeout = 120_000;
    server.listen(Number(port), host, () => {
      if (++listening === ports.length) process.stdout.write('listening\n');
    });
  }
}

// The bench imports ORIGIN_BODY to check what its probes get back; only `node origin.js` serves.
if (process.argv[1] === fileURLToPath(import.meta.url)) main(process.argv.slice(2));
