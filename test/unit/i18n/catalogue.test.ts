/**
 * The chat catalogues: the same keys in French and English, and every sentence in its own
 * language (code spans, links and mentions aside, which stay as they are).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { en } from '../../../src/i18n/en.js';
import { bytes, duration } from '../../../src/i18n/index.js';
import { fr } from '../../../src/i18n/fr.js';
import { ENGLISH, FRENCH, prose } from '../../mattermost/world.js';

type Tree = Record<string, unknown>;

function shape(t: unknown, path = ''): string[] {
  if (typeof t === 'function') return [`${path}()`];
  if (t === null || typeof t !== 'object') return [`${path}:${typeof t}`];
  return Object.keys(t as Tree)
    .sort()
    .flatMap((k) => shape((t as Tree)[k], `${path}.${k}`));
}

/** Every sentence of a catalogue, functions called with placeholder values. */
function sentences(t: unknown, path = ''): Array<[string, string]> {
  const arg = 'upgrade';
  const params = new Proxy({}, { get: () => arg });
  if (typeof t === 'function') {
    const outputs = [(t as (...a: unknown[]) => string)(arg, arg, arg, arg), path.startsWith('.engine') ? (t as (p: unknown) => string)(params) : ''];
    if (t.length >= 1) outputs.push((t as (...a: unknown[]) => string)('rollback', 2, false, 'x'));
    return outputs.filter((o) => typeof o === 'string' && o !== '').map((o) => [path, o]);
  }
  if (typeof t === 'string') return [[path, t]];
  if (t === null || typeof t !== 'object') return [];
  return Object.entries(t as Tree).flatMap(([k, v]) => (k === 'locale' || k === 'dateLocale' ? [] : sentences(v, `${path}.${k}`)));
}

const clean = (s: string): string => prose(s).replace(/\b(upgrade|rollback)\b/g, '');

describe('chat catalogues', () => {
  it('have the same keys, of the same kinds, in French and English', () => {
    assert.deepEqual(shape(fr), shape(en));
  });

  it('say everything in French in fr', () => {
    const found = sentences(fr).filter(([, s]) => ENGLISH.test(clean(s)));
    assert.deepEqual(found, []);
  });

  it('say everything in English in en', () => {
    const found = sentences(en).filter(([, s]) => FRENCH.test(clean(s)));
    assert.deepEqual(found, []);
  });

  it('write durations and sizes as each language does', () => {
    assert.deepEqual([duration(en, 187_200_000), duration(fr, 187_200_000), duration(fr, 150_000)], ['2d4h', '2j4h', '2m30s']);
    assert.deepEqual([bytes(en, 12_345_678), bytes(fr, 12_345_678), bytes(fr, 512)], ['12.3 MB', '12,3 Mo', '512 o']);
  });

  it('agree the French participles with the job', () => {
    assert.equal(fr.progress.done('rollback', '1.1.0 → 1.0.0'), 'Retour arrière terminé : 1.1.0 → 1.0.0');
    assert.equal(fr.progress.done('upgrade', '1.0.0 → 1.1.0'), 'Mise à jour terminée : 1.0.0 → 1.1.0');
  });
});
