/** Bookinfo's ratings service: stars per reviewer. */
import { json, notFound, runService } from './http-service.js';
import type { Ratings } from './model.js';

runService({
  name: 'ratings',
  handler: () => async (_req, url) => {
    if (url.pathname === '/health') return json(200, { status: 'Ratings is healthy' });
    const m = /^\/ratings\/(\d+)$/.exec(url.pathname);
    return m ? json(200, { id: Number(m[1]), ratings: { Reviewer1: 5, Reviewer2: 4 } } satisfies Ratings) : notFound(url);
  },
});
