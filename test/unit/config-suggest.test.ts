/** "did you mean": typos are suggested, other words are not. */
import test from 'ava';
import { didYouMean, editDistance, suggestions } from '../../core/config/suggest.js';

test('edit distance counts insertions, deletions, substitutions and an adjacent swap as one each', (t) => {
  t.is(editDistance('', ''), 0);
  t.is(editDistance('abc', ''), 3);
  t.is(editDistance('enrol', 'enroll'), 1);
  t.is(editDistance('virtualservise', 'virtualservice'), 1);
  t.is(editDistance('nodse', 'nodes'), 1, 'a swap');
  t.is(editDistance('kitten', 'sitting'), 3);
});

test('suggestions are typos of the input, closest first, case-insensitive; the input itself and far words are not', (t) => {
  t.deepEqual(suggestions('VirtualServise', ['virtualservice', 'destinationrule', 'virtualservices']), ['virtualservice', 'virtualservices']);
  t.deepEqual(suggestions('vm-1', ['vm-1']), []);
  t.deepEqual(suggestions('xyz', ['vs', 'dr', 'se']), [], 'a short input gets only one edit');
  t.deepEqual(suggestions('gateway', ['virtualservice', 'serviceentry']), []);
});

test('didYouMean names the closest (both when two tie), or says nothing', (t) => {
  t.is(didYouMean('virtualservise', ['virtualservice', 'virtualservices']), ' (did you mean virtualservice?)');
  t.is(didYouMean('vm-3', ['vm-1', 'vm-2', 'db-1']), ' (did you mean vm-1 or vm-2?)');
  t.is(didYouMean('gateway', ['virtualservice']), '');
});
