/** Parsers for the value formats configuration uses. Each returns undefined on malformed input. */

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `90`, `90s`, `10m`, `1h30m`, `24h`, `2d`, `500ms`; a bare number is in `bareUnit`. */
export function parseDuration(text: string, bareUnit: 's' | 'ms' = 's'): number | undefined {
  const t = text.trim();
  if (/^\d+$/.test(t)) return Number(t) * UNIT_MS[bareUnit]!;
  if (!/^(\d+(ms|s|m|h|d))+$/.test(t)) return undefined;
  let total = 0;
  for (const m of t.matchAll(/(\d+)(ms|s|m|h|d)/g)) total += Number(m[1]) * UNIT_MS[m[2]!]!;
  return total;
}

/** The two most significant units, for a person: `45s`, `2m30s`, `1h`, `3h20m`, `2d4h`. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  const units: Array<[string, number]> = [['d', 86_400], ['h', 3_600], ['m', 60], ['s', 1]];
  let rest = Math.round(ms / 1_000);
  const parts: string[] = [];
  for (const [unit, size] of units) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0 || parts.length > 0) parts.push(n > 0 ? `${n}${unit}` : '');
    if (parts.length === 2) break;
  }
  return parts.join('');
}

/** Decimal units, as `docker pull` shows them: `512 B`, `12.3 kB`, `120.5 MB`, `1.2 GB`. */
export function formatBytes(n: number): string {
  const units = ['kB', 'MB', 'GB', 'TB'];
  if (n < 1000) return `${Math.round(n)} B`;
  let value = n;
  let unit = 'B';
  for (const next of units) {
    if (value < 1000) break;
    value /= 1000;
    unit = next;
  }
  return `${value.toFixed(1)} ${unit}`;
}

export function parseBool(text: string): boolean | undefined {
  const t = text.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(t)) return true;
  if (['false', '0', 'no', 'off'].includes(t)) return false;
  return undefined;
}

export function parseList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
