/**
 * What the Bookinfo services say to each other, and the checks productpage
 * applies to what it receives (another service's answer is input like any
 * other: parsed once, at the boundary).
 */
export interface Details {
  id: number;
  author: string;
  year: number;
  type: string;
  pages: number;
  publisher: string;
  language: string;
  'ISBN-10': string;
  'ISBN-13': string;
}

export type StarColor = 'black' | 'red';

export interface Review {
  reviewer: string;
  text: string;
  /** Absent from reviews v1, which does not call ratings. */
  rating?: { stars: number; color: StarColor } | { error: string };
}

export interface Reviews {
  id: number;
  /** Which reviews deployment answered: what traffic shifting is about. */
  version: string;
  reviews: Review[];
}

export interface Ratings {
  id: number;
  ratings: Record<string, number>;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function parseDetails(body: unknown): Details {
  if (!isRecord(body) || typeof body.author !== 'string' || typeof body['ISBN-10'] !== 'string') throw new Error('details answered without author and ISBN-10');
  return body as unknown as Details;
}

export function parseReviews(body: unknown): Reviews {
  if (!isRecord(body) || typeof body.version !== 'string' || !Array.isArray(body.reviews)) throw new Error('reviews answered without version and reviews');
  for (const r of body.reviews) {
    if (!isRecord(r) || typeof r.reviewer !== 'string' || typeof r.text !== 'string') throw new Error('reviews answered a review without reviewer and text');
  }
  return body as unknown as Reviews;
}

export function parseRatings(body: unknown): Ratings {
  if (!isRecord(body) || !isRecord(body.ratings) || !Object.values(body.ratings).every((n) => typeof n === 'number'))
    throw new Error('ratings answered without a ratings map');
  return body as unknown as Ratings;
}
