/** Bookinfo's details service: the book's facts. */
import { json, notFound, runService } from './http-service.js';
import type { Details } from './model.js';

const BOOK: Omit<Details, 'id'> = {
  author: 'William Shakespeare',
  year: 1595,
  type: 'paperback',
  pages: 200,
  publisher: 'PublisherA',
  language: 'English',
  'ISBN-10': '1234567890',
  'ISBN-13': '123-1234567890',
};

runService({
  name: 'details',
  handler: () => async (_req, url) => {
    if (url.pathname === '/health') return json(200, { status: 'Details is healthy' });
    const m = /^\/details\/(\d+)$/.exec(url.pathname);
    return m ? json(200, { id: Number(m[1]), ...BOOK } satisfies Details) : notFound(url);
  },
});
