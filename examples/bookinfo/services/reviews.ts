/**
 * Bookinfo's reviews service in its three versions (--version, or
 * SERVICE_VERSION): v1 shows no stars and never calls ratings; v2 shows black
 * stars and v3 red ones, both from ratings, forwarding the request's tracing
 * and end-user headers so that rules on ratings see who is asking.
 */
import { getJson } from './upstream.js';
import { json, notFound, runService } from './http-service.js';
import { propagatedHeaders } from './propagation.js';
import { parseRatings, type Review, type Reviews, type StarColor } from './model.js';

const TEXTS: Array<Pick<Review, 'reviewer' | 'text'>> = [
  { reviewer: 'Reviewer1', text: 'An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!' },
  { reviewer: 'Reviewer2', text: 'Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare.' },
];

const COLORS: Record<string, StarColor | undefined> = { v1: undefined, v2: 'black', v3: 'red' };

// Longer than the demo's 7 s injected delay, so that delay shows as time taken, not as an error.
const RATINGS_TIMEOUT_MS = 10_000;

runService({
  name: 'reviews',
  flags: { version: process.env.SERVICE_VERSION ?? 'v1', ratings: 'http://ratings.default.svc.cluster.local:9080' },
  handler: (flags) => {
    const version = flags.version!;
    if (!(version in COLORS)) {
      process.stderr.write(`reviews: --version ${version}: expected v1, v2 or v3\n`);
      process.exit(2);
    }
    const color = COLORS[version];
    return async (req, url, log) => {
      if (url.pathname === '/health') return json(200, { status: 'Reviews is healthy' });
      const m = /^\/reviews\/(\d+)$/.exec(url.pathname);
      if (!m) return notFound(url);
      const id = Number(m[1]);
      let reviews: Review[] = TEXTS.map((t) => ({ ...t }));
      if (color) {
        const answer = await getJson(`${flags.ratings}/ratings/${id}`, propagatedHeaders(req.headers), RATINGS_TIMEOUT_MS);
        let stars: Record<string, number> | undefined;
        try {
          if (!answer.ok) throw new Error(answer.error);
          stars = parseRatings(answer.body).ratings;
        } catch (err) {
          log.warn({ error: (err as Error).message }, 'ratings unavailable');
        }
        reviews = reviews.map((r) => {
          const n = stars?.[r.reviewer];
          return { ...r, rating: n !== undefined ? { stars: n, color } : { error: 'Ratings service is currently unavailable' } };
        });
      }
      return json(200, { id, version, reviews } satisfies Reviews);
    };
  },
});
