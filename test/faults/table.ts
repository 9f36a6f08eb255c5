/**
 * The fault suite's table: each case adds a row (helpers/faults.ts recordCase) to the file
 * named by FAULTS_REPORT; test/run.ts prints the table at the end, and `npm run test:faults`
 * also writes it into README.md between its markers.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { CaseRow } from './helpers/faults.js';

const BEGIN = '<!-- faults:table -->';
const END = '<!-- /faults:table -->';

export function faultTable(jsonl: string, when: Date): string | undefined {
  const rows = jsonl.split('\n').filter(Boolean).map((l) => JSON.parse(l) as CaseRow);
  if (rows.length === 0) return undefined;
  const cell = (s: string): string => s.replace(/\|/g, '\\|');
  return [
    `${rows.length} cases, run ${when.toISOString().slice(0, 16).replace('T', ' ')} UTC by \`npm run test:faults\`:`,
    '',
    '| fault | case | outcome | serving after | rows (count, checksum) |',
    '|---|---|---|---|---|',
    ...rows.map((r) => `| ${cell(r.group)} | ${cell(r.fault)} | ${cell(r.outcome)} | ${cell(r.serving)} | ${cell(r.rows)} |`),
  ].join('\n');
}

/** Replaces what is between the markers in `readme`; false when the markers are missing. */
export function writeIntoReadme(readme: string, table: string): boolean {
  if (!existsSync(readme)) return false;
  const text = readFileSync(readme, 'utf8');
  const a = text.indexOf(BEGIN);
  const b = text.indexOf(END);
  if (a < 0 || b < a) return false;
  writeFileSync(readme, `${text.slice(0, a + BEGIN.length)}\n${table}\n${text.slice(b)}`);
  return true;
}
