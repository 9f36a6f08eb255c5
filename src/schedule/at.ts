/**
 * `at HH:MM` and `at YYYY-MM-DD HH:MM`, in TZ: the instant a schedule names. `HH:MM` is the next
 * time the clock shows it (today, else tomorrow). A time the clocks skip or repeat that day is
 * resolved and said, never silently shifted; a time in the past is refused.
 */
import { instantOf, wallTime, type WallTime } from './zoned.js';

export type AtResult =
  | { ok: true; at: number; note?: 'gap' | 'repeated'; wall: WallTime }
  | { ok: false; problem: 'format' | 'invalid-date' | 'past' };

const HH_MM = /^([01]?\d|2[0-3]):([0-5]\d)$/;
const DATE_HH_MM = /^(\d{4})-(\d{2})-(\d{2})[ T]([01]?\d|2[0-3]):([0-5]\d)$/;

export function parseAt(text: string, now: number, timeZone: string): AtResult {
  const t = text.trim().replace(/\s+/g, ' ');
  let wall: WallTime;
  let relative = false;
  const short = HH_MM.exec(t);
  const full = DATE_HH_MM.exec(t);
  if (short) {
    const today = wallTime(now, timeZone);
    wall = { year: today.year, month: today.month, day: today.day, hour: Number(short[1]), minute: Number(short[2]) };
    relative = true;
  } else if (full) {
    wall = { year: Number(full[1]), month: Number(full[2]), day: Number(full[3]), hour: Number(full[4]), minute: Number(full[5]) };
    const check = new Date(Date.UTC(wall.year, wall.month - 1, wall.day));
    if (check.getUTCFullYear() !== wall.year || check.getUTCMonth() !== wall.month - 1 || check.getUTCDate() !== wall.day) return { ok: false, problem: 'invalid-date' };
  } else {
    return { ok: false, problem: 'format' };
  }
  let r = instantOf(wall, timeZone);
  if (relative && r.at <= now) {
    const tomorrow = new Date(Date.UTC(wall.year, wall.month - 1, wall.day + 1));
    wall = { ...wall, year: tomorrow.getUTCFullYear(), month: tomorrow.getUTCMonth() + 1, day: tomorrow.getUTCDate() };
    r = instantOf(wall, timeZone);
  }
  if (r.at <= now) return { ok: false, problem: 'past' };
  return { ok: true, at: r.at, wall, ...(r.note ? { note: r.note } : {}) };
}
