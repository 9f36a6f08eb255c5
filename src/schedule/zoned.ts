/**
 * Wall-clock times in a time zone (TZ), without a date library: what the clock on the wall
 * says at an instant, and the instant a wall-clock time names, including the days the clocks
 * change (a time in the spring gap does not exist; one in the autumn overlap happens twice).
 */

export interface WallTime {
  year: number;
  month: number; // 1-12
  day: number;
  hour: number;
  minute: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
    formatters.set(timeZone, f);
  }
  return f;
}

/** What a clock in `timeZone` shows at `at` (ms since the epoch). */
export function wallTime(at: number, timeZone: string): WallTime & { second: number } {
  const parts = Object.fromEntries(formatter(timeZone).formatToParts(new Date(at)).map((p) => [p.type, p.value]));
  return { year: Number(parts.year), month: Number(parts.month), day: Number(parts.day), hour: Number(parts.hour), minute: Number(parts.minute), second: Number(parts.second) };
}

/** The zone's offset from UTC at `at`, in minutes (Europe/Paris: 60 in winter, 120 in summer). */
export function offsetMinutes(at: number, timeZone: string): number {
  const w = wallTime(at, timeZone);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return Math.round((asUtc - Math.floor(at / 1000) * 1000) / 60_000);
}

export interface ZonedInstant {
  at: number;
  /**
   * `gap`: the time does not exist that day (clocks jumped over it): `at` is the first minute
   * after the jump; `repeated`: it happens twice (clocks went back): `at` is the first time.
   */
  note?: 'gap' | 'repeated';
}

/** The instant at which a clock in `timeZone` shows `w`. */
export function instantOf(w: WallTime, timeZone: string): ZonedInstant {
  const naive = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute);
  // The offsets in force a day around it; a wall time matches with at most two of them.
  const offsets = [...new Set([offsetMinutes(naive - 86_400_000, timeZone), offsetMinutes(naive, timeZone), offsetMinutes(naive + 86_400_000, timeZone)])];
  const matches = offsets
    .map((o) => naive - o * 60_000)
    .filter((at) => {
      const seen = wallTime(at, timeZone);
      return seen.year === w.year && seen.month === w.month && seen.day === w.day && seen.hour === w.hour && seen.minute === w.minute;
    })
    .sort((a, b) => a - b);
  if (matches.length === 1) return { at: matches[0]! };
  if (matches.length > 1) return { at: matches[0]!, note: 'repeated' };
  // In the gap (clocks went forward over it): read with the offset from before the jump, as
  // Temporal's "compatible" does: 02:30 on a day Paris jumps from 02:00 to 03:00 is 03:30.
  return { at: naive - Math.min(...offsets) * 60_000, note: 'gap' };
}

/** `2027-01-15 22:30`: the wall-clock time at `at`, as `at YYYY-MM-DD HH:MM` takes it back. */
export function wallText(at: number, timeZone: string): string {
  const w = wallTime(at, timeZone);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${w.year}-${pad(w.month)}-${pad(w.day)} ${pad(w.hour)}:${pad(w.minute)}`;
}
