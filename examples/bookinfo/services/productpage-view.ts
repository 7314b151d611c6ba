/**
 * How productpage shows a page: plain text for a terminal, HTML for a
 * browser. Both say which reviews version answered, the stars (none from v1,
 * black from v2, red from v3) and the details, or why either is missing.
 */
import type { Details, Review, Reviews } from './model.js';

export interface Page {
  user: string | null;
  requestId: string;
  details: Details | null;
  detailsError: string | null;
  reviews: Reviews | null;
  reviewsError: string | null;
}

const TITLE = 'The Comedy of Errors';
export const DETAILS_UNAVAILABLE = 'details unavailable';
export const REVIEWS_UNAVAILABLE = 'reviews unavailable';

function detailsLine(d: Details): string {
  return `${d.author}, ${d.year}; ${d.type}, ${d.pages} pages, ${d.language}; ${d.publisher}; ISBN-10 ${d['ISBN-10']}`;
}

function stars(r: Review): string {
  if (!r.rating) return '';
  if ('error' in r.rating) return r.rating.error;
  return `${'★'.repeat(r.rating.stars)}${'☆'.repeat(5 - r.rating.stars)} (${r.rating.color})`;
}

export function renderText(page: Page): string {
  const lines = [
    `${TITLE}    user: ${page.user ?? '(anonymous)'}    request: ${page.requestId}`,
    `details:  ${page.details ? detailsLine(page.details) : `${DETAILS_UNAVAILABLE} (${page.detailsError})`}`,
  ];
  if (!page.reviews) lines.push(`reviews:  ${REVIEWS_UNAVAILABLE} (${page.reviewsError})`);
  else {
    const rated = page.reviews.reviews.some((r) => r.rating);
    lines.push(`reviews:  answered by reviews ${page.reviews.version}${rated ? '' : ' (no stars)'}`);
    for (const r of page.reviews.reviews) lines.push(`  ${r.reviewer.padEnd(10)} ${stars(r).padEnd(20)} ${r.text}`);
  }
  return `${lines.join('\n')}\n`;
}

const escape = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function renderHtml(page: Page): string {
  const details = page.details ? escape(detailsLine(page.details)) : `<em>${DETAILS_UNAVAILABLE}</em> (${escape(page.detailsError ?? '')})`;
  const reviews = page.reviews
    ? `<p>answered by <b>reviews ${escape(page.reviews.version)}</b></p>` +
      page.reviews.reviews
        .map((r) => {
          const color = r.rating && 'color' in r.rating ? r.rating.color : 'inherit';
          return `<blockquote><p>${escape(r.text)}</p><small>${escape(r.reviewer)}</small> <span style="color:${color}">${escape(stars(r))}</span></blockquote>`;
        })
        .join('\n')
    : `<p><em>${REVIEWS_UNAVAILABLE}</em> (${escape(page.reviewsError ?? '')})</p>`;
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${TITLE}</title></head>
<body>
<h1>${TITLE}</h1>
<p>user: ${escape(page.user ?? '(anonymous)')} &middot; request ${escape(page.requestId)}</p>
<h2>Details</h2><p>${details}</p>
<h2>Reviews</h2>
${reviews}
</body></html>
`;
}
