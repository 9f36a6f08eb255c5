/**
 * What every benchmark writes into bench/RESULTS.md: the machine it ran on (CPU, cores,
 * RAM, kernel, Docker engine, Node), the date and the load when it started, and its own
 * section between `<!-- bench:<name> -->` and `<!-- /bench:<name> -->`, replaced at its next
 * run and left alone by the others.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';

export const RESULTS_FILE = new URL('./RESULTS.md', import.meta.url).pathname;

/** The load average when the benchmark started (this module is imported first thing). */
const LOAD_AT_START = os.loadavg();

/** The sections in the order the file shows them. */
const ORDER = ['downtime', 'ack', 'dump', 'serve'] as const;
export type BenchName = (typeof ORDER)[number];

const HEADER = `# Benchmark results

Each section is written by its script (\`npm run bench:<name>\`, see [README.md](README.md)) and
replaced at its next run; the others are left as they are. Every figure comes from one run in
which the bot and its baseline took turns on the same machine, so that what else ran on it
hit both alike; the ratio is the figure to compare across machines.
`;

export interface MachineInfo {
  /** Lines of `label  value`, ready to print or to write as a list. */
  lines: Array<[label: string, value: string]>;
  /** When the benchmark started (ISO, UTC, to the second). */
  date: string;
}

/**
 * The machine, the software and the load at the start. `engine`: the version the benchmark's
 * Docker engine reports; without it (a benchmark that uses no engine), the installed dockerd's.
 */
export function describeMachine(opts: { engine?: string; software?: string[] } = {}): MachineInfo {
  const cpus = os.cpus();
  const engine = opts.engine ? `Docker Engine ${opts.engine}` : `Docker Engine ${installedDockerd() ?? 'not installed'} (installed; this benchmark uses none)`;
  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  return {
    date,
    lines: [
      ['machine', `${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${os.type()} ${os.release()} ${os.arch()}`],
      ['software', [`node ${process.version}`, engine, ...(opts.software ?? [])].join(', ')],
      ['date', date],
      ['load', `load average ${loadText(LOAD_AT_START)} (1, 5, 15 min) when the benchmark started`],
    ],
  };
}

/** `dockerd --version` → "20.10.24+dfsg1". */
function installedDockerd(): string | undefined {
  const r = spawnSync('dockerd', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? /version ([^,\s]+)/.exec(r.stdout)?.[1] : undefined;
}

/** The machine lines as plain text (for the terminal). */
export function machineText(m: MachineInfo): string {
  return m.lines.map(([label, value]) => `${label.padEnd(9)} ${value}`).join('\n');
}

function loadText(load: number[]): string {
  return load.map((x) => x.toFixed(2)).join(', ');
}

/**
 * Writes (or replaces) the section `name` of bench/RESULTS.md: a heading, the machine, then
 * `body` (Markdown). The file is re-read just before the write and replaced by a rename, so a
 * reader never sees half of it.
 */
export function writeSection(name: BenchName, section: { title: string; machine: MachineInfo; body: string }, file = RESULTS_FILE): void {
  const open = `<!-- bench:${name} -->`;
  const close = `<!-- /bench:${name} -->`;
  const text = [
    open,
    `## ${section.title}`,
    '',
    ...section.machine.lines.map(([label, value]) => `- ${label}: ${label === 'load' ? `${value}, ${loadText(os.loadavg())} at the end` : value}`),
    '',
    section.body.trimEnd(),
    close,
  ].join('\n');

  let doc = existsSync(file) ? readFileSync(file, 'utf8') : HEADER;
  const start = doc.indexOf(open);
  const end = doc.indexOf(close);
  if (start >= 0 && end > start) {
    doc = doc.slice(0, start) + text + doc.slice(end + close.length);
  } else {
    // Before the first section that comes after this one in ORDER, else at the end.
    const later = ORDER.slice(ORDER.indexOf(name) + 1)
      .map((n) => doc.indexOf(`<!-- bench:${n} -->`))
      .filter((i) => i >= 0);
    const at = later.length > 0 ? Math.min(...later) : doc.length;
    const before = doc.slice(0, at).replace(/\n*$/, '\n\n');
    const after = doc.slice(at);
    doc = before + text + (after ? `\n\n${after.replace(/^\n+/, '')}` : '\n');
  }
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, doc);
  renameSync(tmp, file);
}
