/** The waypoint's verified-token cache: an entry counts only while exp/nbf hold and its key set is unchanged; bounded, LRU. */
import test from 'ava';
import { VerifiedCache } from '../../waypoint/authn/verified-cache.js';

const NOW = 1_800_000_000;

test('a hit needs exp and nbf to hold (with the skew) and the same key generation', (t) => {
  let generation = 1;
  const cache = new VerifiedCache<string>(10, 60);
  cache.set('a', { rule: 'r', payload: { exp: NOW + 10, nbf: NOW - 10 }, generation, currentGeneration: () => generation });
  t.is(cache.get('a', NOW)?.rule, 'r');
  t.is(cache.get('a', NOW + 69)?.rule, 'r', 'within 60 s of skew past exp');
  t.is(cache.get('a', NOW + 71), undefined, 'expired beyond the skew: gone');
  t.is(cache.get('a', NOW), undefined, 'and evicted, not kept for later');
  cache.set('b', { rule: 'r', payload: { nbf: NOW + 100 }, generation, currentGeneration: () => generation });
  t.is(cache.get('b', NOW), undefined, 'not yet valid');
  cache.set('c', { rule: 'r', payload: {}, generation, currentGeneration: () => generation });
  generation = 2;
  t.is(cache.get('c', NOW), undefined, 'the key set changed: verify again');
});

test('bounded: the least recently used entry goes first', (t) => {
  const cache = new VerifiedCache<number>(2, 60);
  const entry = (rule: number) => ({ rule, payload: {}, generation: 0, currentGeneration: () => 0 });
  cache.set('a', entry(1));
  cache.set('b', entry(2));
  t.is(cache.get('a', NOW)?.rule, 1);
  cache.set('c', entry(3));
  t.is(cache.get('b', NOW), undefined, 'b was the least recently used');
  t.is(cache.get('a', NOW)?.rule, 1);
  t.is(cache.get('c', NOW)?.rule, 3);
});
