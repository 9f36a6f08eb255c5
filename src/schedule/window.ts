/**
 * The maintenance window: hours of the day, in TZ, when an upgrade may start without an
 * override. `22:00-07:00` crosses midnight; several ranges are joined by commas
 * (`12:00-13:00,22:00-06:00`); `00:00-24:00` is always.
 */
import { instantOf, wallTime } from './zoned.js';

export interface WindowRange {
  /** Minutes since midnight, start inclusive. */
  start: number;
  /** Minutes since midnight, end exclusive; lower than start when the range crosses midnight. */
  end: number;
}

export interface MaintenanceWindow {
  ranges: WindowRange[];
  /** As written, normalised: `22:00-07:00,12:00-13:00`. */
  text: string;
}

const DAY = 24 * 60;

function clock(text: string): number | undefined {
  const m = /^([01]?\d|2[0-4]):([0-5]\d)$/.exec(text.trim());
  if (!m) return undefined;
  const minutes = Number(m[1]) * 60 + Number(m[2]);
  return minutes <= DAY ? minutes : undefined;
}

/** `HH:MM-HH:MM[,HH:MM-HH:MM…]`, or undefined when malformed. */
export function parseWindow(text: string): MaintenanceWindow | undefined {
  const parts = text.split(',').map((p) => p.trim());
  const ranges: WindowRange[] = [];
  const shown: string[] = [];
  for (const part of parts) {
    const m = /^([0-9:]+)\s*-\s*([0-9:]+)$/.exec(part);
    if (!m) return undefined;
    const start = clock(m[1]!);
    const end = clock(m[2]!);
    if (start === undefined || end === undefined || start === DAY || start === end) return undefined;
    ranges.push({ start, end });
    shown.push(`${m[1]}-${m[2]}`);
  }
  return ranges.length > 0 ? { ranges, text: shown.join(',') } : undefined;
}

function minuteOfDay(at: number, timeZone: string): number {
  const w = wallTime(at, timeZone);
  return w.hour * 60 + w.minute;
}

function rangeContains(r: WindowRange, minute: number): boolean {
  return r.start < r.end ? minute >= r.start && minute < r.end : minute >= r.start || minute < r.end;
}

/** Whether the wall clock in `timeZone` is inside the window at `at`. */
export function inWindow(w: MaintenanceWindow, at: number | Date, timeZone: string): boolean {
  const minute = minuteOfDay(typeof at === 'number' ? at : at.getTime(), timeZone);
  return w.ranges.some((r) => rangeContains(r, minute));
}

/**
 * The next instant, after `after`, at which a range of the window starts (what *Schedule in the
 * window* offers). A start that falls in a daylight-saving gap is taken just after the jump.
 */
export function nextWindowStart(w: MaintenanceWindow, after: number, timeZone: string): number {
  const today = wallTime(after, timeZone);
  let best = Number.POSITIVE_INFINITY;
  for (let d = 0; d <= 2; d++) {
    const date = new Date(Date.UTC(today.year, today.month - 1, today.day + d));
    for (const r of w.ranges) {
      if (r.start === 0 && r.end === DAY) continue; // always open: no start to wait for
      const at = instantOf({ year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate(), hour: Math.floor(r.start / 60), minute: r.start % 60 }, timeZone).at;
      if (at > after && at < best) best = at;
    }
  }
  return best;
}
