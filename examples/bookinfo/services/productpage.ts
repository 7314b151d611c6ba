/**
 * Bookinfo's productpage: the page a user sees. GET / or /productpage?u=<user>
 * calls details and reviews by their mesh names, forwarding the tracing
 * headers and `end-user` (the logged-in user, from ?u= here, where Bookinfo
 * uses a login cookie), and renders which reviews version answered, the stars,
 * and the details or "details unavailable". Text for curl, HTML for browsers
 * (Accept: text/html), JSON for scripts (Accept: application/json).
 */
import type { IncomingMessage } from 'node:http';
import { getJson, type Answer } from './upstream.js';
import { json, notFound, runService, type Reply } from './http-service.js';
import { propagatedHeaders, withEdgeIds } from './propagation.js';
import { parseDetails, parseReviews, type Details, type Reviews } from './model.js';
import { renderHtml, renderText, type Page } from './productpage-view.js';

const DETAILS_TIMEOUT_MS = 3_000;
// Bookinfo's productpage gives reviews 3 s; ours waits 10 s so that the demo's 7 s delay on
// ratings (behind reviews) shows as a slow page rather than as "reviews unavailable".
const REVIEWS_TIMEOUT_MS = 10_000;
const PRODUCT_ID = 0;

runService({
  name: 'productpage',
  flags: { details: 'http://details.default.svc.cluster.local:9080', reviews: 'http://reviews.default.svc.cluster.local:9080' },
  handler: (flags) => async (req, url) => {
    if (url.pathname === '/health') return json(200, { status: 'Productpage is healthy' });
    if (url.pathname !== '/' && url.pathname !== '/productpage') return notFound(url);
    const user = url.searchParams.get('u') ?? header(req, 'end-user');
    const headers = withEdgeIds({ ...propagatedHeaders(req.headers), ...(user ? { 'end-user': user } : {}) });
    const [details, reviews] = await Promise.all([
      getJson(`${flags.details}/details/${PRODUCT_ID}`, headers, DETAILS_TIMEOUT_MS),
      getJson(`${flags.reviews}/reviews/${PRODUCT_ID}`, headers, REVIEWS_TIMEOUT_MS),
    ]);
    const page: Page = {
      user: user ?? null,
      requestId: headers['x-request-id']!,
      ...outcome('details', details, parseDetails),
      ...outcome('reviews', reviews, parseReviews),
    };
    return render(page, header(req, 'accept') ?? '');
  },
});

function outcome<K extends 'details' | 'reviews', T extends Details | Reviews>(
  key: K,
  answer: Answer,
  parse: (body: unknown) => T,
): Record<K, T | null> & Record<`${K}Error`, string | null> {
  let value: T | null = null;
  let error: string | null = null;
  if (!answer.ok) error = answer.error;
  else {
    try {
      value = parse(answer.body);
    } catch (err) {
      error = (err as Error).message;
    }
  }
  return { [key]: value, [`${key}Error`]: error } as Record<K, T | null> & Record<`${K}Error`, string | null>;
}

function render(page: Page, accept: string): Reply {
  // The page is a page even when a backend failed: Bookinfo degrades, it does not fail.
  if (accept.includes('application/json')) return json(200, page);
  if (accept.includes('text/html')) return { status: 200, contentType: 'text/html; charset=utf-8', body: renderHtml(page) };
  return { status: 200, contentType: 'text/plain; charset=utf-8', body: renderText(page) };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
}
