/** Wall-clock times in TZ and the maintenance window, across midnight and the clock changes of Europe/Paris. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { inWindow, nextWindowStart, parseWindow } from '../../../src/schedule/window.js';
import { instantOf, offsetMinutes, wallTime } from '../../../src/schedule/zoned.js';
import { parseAt } from '../../../src/schedule/at.js';

const PARIS = 'Europe/Paris';
const iso = (at: number) => new Date(at).toISOString();

describe('wall-clock times in a zone', () => {
  it('reads the offset in winter and in summer', () => {
    assert.equal(offsetMinutes(Date.parse('2027-01-15T12:00:00Z'), PARIS), 60);
    assert.equal(offsetMinutes(Date.parse('2027-07-15T12:00:00Z'), PARIS), 120);
    assert.deepEqual(wallTime(Date.parse('2027-07-15T21:30:00Z'), PARIS), { year: 2027, month: 7, day: 15, hour: 23, minute: 30, second: 0 });
  });

  it('an ordinary time is one instant', () => {
    assert.deepEqual(instantOf({ year: 2027, month: 3, day: 27, hour: 2, minute: 30 }, PARIS), { at: Date.parse('2027-03-27T01:30:00Z') });
    assert.deepEqual(instantOf({ year: 2027, month: 3, day: 29, hour: 2, minute: 30 }, PARIS), { at: Date.parse('2027-03-29T00:30:00Z') });
  });

  it('02:30 on the spring-forward day does not exist: 03:30, and said', () => {
    // 2027-03-28: at 02:00 CET the clocks go to 03:00 CEST.
    const r = instantOf({ year: 2027, month: 3, day: 28, hour: 2, minute: 30 }, PARIS);
    assert.equal(r.note, 'gap');
    assert.equal(iso(r.at), '2027-03-28T01:30:00.000Z');
    assert.deepEqual(wallTime(r.at, PARIS), { year: 2027, month: 3, day: 28, hour: 3, minute: 30, second: 0 });
  });

  it('02:30 on the fall-back day happens twice: the first one, and said', () => {
    // 2027-10-31: at 03:00 CEST the clocks go back to 02:00 CET.
    const r = instantOf({ year: 2027, month: 10, day: 31, hour: 2, minute: 30 }, PARIS);
    assert.equal(r.note, 'repeated');
    assert.equal(iso(r.at), '2027-10-31T00:30:00.000Z');
  });
});

describe('the maintenance window', () => {
  const night = parseWindow('22:00-07:00')!;
  const two = parseWindow('12:00-13:00,22:00-06:00')!;

  it('crosses midnight', () => {
    assert.equal(inWindow(night, Date.parse('2027-01-15T20:59:00Z'), PARIS), false, '21:59 in Paris');
    assert.equal(inWindow(night, Date.parse('2027-01-15T21:00:00Z'), PARIS), true, '22:00');
    assert.equal(inWindow(night, Date.parse('2027-01-16T05:59:00Z'), PARIS), true, '06:59');
    assert.equal(inWindow(night, Date.parse('2027-01-16T06:00:00Z'), PARIS), false, '07:00');
  });

  it('several ranges', () => {
    assert.equal(inWindow(two, Date.parse('2027-01-15T11:30:00Z'), PARIS), true, '12:30');
    assert.equal(inWindow(two, Date.parse('2027-01-15T12:00:00Z'), PARIS), false, '13:00');
    assert.equal(inWindow(two, Date.parse('2027-01-16T04:59:00Z'), PARIS), true, '05:59');
    assert.equal(inWindow(two, Date.parse('2027-01-16T05:00:00Z'), PARIS), false, '06:00');
  });

  it('the next start: later today, tomorrow, the nearest of several ranges', () => {
    assert.equal(iso(nextWindowStart(night, Date.parse('2027-01-15T18:00:00Z'), PARIS)), '2027-01-15T21:00:00.000Z', '19:00 → 22:00 today');
    assert.equal(iso(nextWindowStart(night, Date.parse('2027-01-15T21:30:00Z'), PARIS)), '2027-01-16T21:00:00.000Z', 'inside: the next one is tomorrow');
    assert.equal(iso(nextWindowStart(two, Date.parse('2027-01-15T09:00:00Z'), PARIS)), '2027-01-15T11:00:00.000Z', '10:00 → 12:00');
    assert.equal(iso(nextWindowStart(two, Date.parse('2027-01-15T12:30:00Z'), PARIS)), '2027-01-15T21:00:00.000Z', '13:30 → 22:00');
  });

  it('a start in the spring gap is taken after the jump; across the change the wall time holds', () => {
    const at230 = parseWindow('02:30-05:00')!;
    assert.equal(iso(nextWindowStart(at230, Date.parse('2027-03-27T12:00:00Z'), PARIS)), '2027-03-28T01:30:00.000Z', '03:30 CEST on the day 02:30 does not exist');
    assert.equal(iso(nextWindowStart(night, Date.parse('2027-03-28T12:00:00Z'), PARIS)), '2027-03-28T20:00:00.000Z', '22:00 CEST is 20:00 UTC');
    assert.equal(iso(nextWindowStart(night, Date.parse('2027-10-31T12:00:00Z'), PARIS)), '2027-10-31T21:00:00.000Z', '22:00 CET is 21:00 UTC');
  });

  it('always open has no next start', () => {
    assert.equal(nextWindowStart(parseWindow('00:00-24:00')!, Date.parse('2027-01-15T12:00:00Z'), PARIS), Number.POSITIVE_INFINITY);
  });
});

describe('at HH:MM and at YYYY-MM-DD HH:MM', () => {
  const now = Date.parse('2027-03-27T19:00:00Z'); // 20:00 in Paris, the day before the clocks go forward

  it('HH:MM is the next time the clock shows it: later today, else tomorrow', () => {
    const tonight = parseAt('23:15', now, PARIS);
    assert.ok(tonight.ok);
    assert.equal(iso(tonight.at), '2027-03-27T22:15:00.000Z');
    const morning = parseAt('07:00', now, PARIS);
    assert.ok(morning.ok);
    assert.equal(iso(morning.at), '2027-03-28T05:00:00.000Z', '07:00 CEST tomorrow');
  });

  it('02:30 tomorrow does not exist in Paris: 03:30, marked as such', () => {
    const r = parseAt('02:30', now, PARIS);
    assert.ok(r.ok);
    assert.equal(r.note, 'gap');
    assert.equal(iso(r.at), '2027-03-28T01:30:00.000Z');
  });

  it('a full date, and what is refused', () => {
    const r = parseAt('2027-04-02 22:30', now, PARIS);
    assert.ok(r.ok);
    assert.equal(iso(r.at), '2027-04-02T20:30:00.000Z');
    assert.deepEqual(parseAt('2027-03-27 19:00', now, PARIS), { ok: false, problem: 'past' });
    assert.deepEqual(parseAt('2027-02-30 10:00', now, PARIS), { ok: false, problem: 'invalid-date' });
    for (const bad of ['25:00', '7h', 'tomorrow', '2027-04-02', '22:60']) assert.deepEqual(parseAt(bad, now, PARIS), { ok: false, problem: 'format' }, bad);
  });
});
