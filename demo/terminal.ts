/**
 * How the demo prints chat in a terminal: Markdown as a person reads it (headings and bold
 * without their marks, tables aligned, buttons in brackets), in a bubble under its author.
 */

const BAR = '│ ';

/** Markdown tables aligned into columns; headings and bold marks dropped; `<br>` as a line break. */
export function readable(markdown: string): string[] {
  const out: string[] = [];
  const lines = markdown.split('\n').map((l) => (l.startsWith('|') ? l.replace(/<br>/g, '; ') : l.replace(/<br>/g, '\n'))).join('\n').split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.startsWith('|')) {
      const rows: string[][] = [];
      for (; i < lines.length && lines[i]!.startsWith('|'); i++) {
        const cells = lines[i]!.slice(1, lines[i]!.endsWith('|') ? -1 : undefined).split('|').map((c) => plain(c.trim()));
        if (cells.every((c) => /^:?-+:?$/.test(c) || c === '')) continue;
        rows.push(cells);
      }
      i--;
      const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => (r[col] ?? '').length)));
      for (const r of rows) out.push(r.map((c, col) => (col === r.length - 1 ? c : c.padEnd(widths[col]!))).join('  ').trimEnd());
      continue;
    }
    out.push(plain(lines[i]!.replace(/^#{1,6} /, '')));
  }
  return out;
}

function plain(text: string): string {
  return text
    .replace(/:warning:/g, '⚠️').replace(/\*\*(.+?)\*\*/g, '$1').replace(/(^|\s)_(.+?)_(?=\s|$|[.,;:)])/g, '$1$2');
}

export function bubble(header: string, markdown: string, buttons: string[] = []): string {
  const body = readable(markdown).map((l) => `  ${BAR}${l}`.trimEnd());
  const row = buttons.length > 0 ? [`  ${BAR}`.trimEnd(), `  ${BAR}${buttons.map((b) => `[ ${b} ]`).join('  ')}`] : [];
  return [`  ┌ ${header}`, ...body, ...row, '  └'].join('\n');
}

/** A line that redraws itself on a terminal (elapsed time and what is going on), plain lines otherwise. */
export class Spinner {
  private readonly frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
  private timer: NodeJS.Timeout | undefined;
  private what = '';
  private frame = 0;
  private readonly started = Date.now();

  constructor(
    private readonly title: string,
    private readonly tty = Boolean(process.stdout.isTTY),
  ) {
    if (this.tty) this.timer = setInterval(() => this.draw(), 100);
    else process.stdout.write(`${title}\n`);
  }

  /** What is going on now. */
  update(what: string): void {
    this.what = what;
    if (!this.tty) process.stdout.write(`    ${this.elapsed()} ${what}\n`);
  }

  done(summary: string): void {
    if (this.timer) clearInterval(this.timer);
    if (this.tty) process.stdout.write(`\r\x1b[2K✔ ${this.title} ${summary}\n`);
    else process.stdout.write(`    ✔ ${summary}\n`);
  }

  fail(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.tty) process.stdout.write('\n');
  }

  private elapsed(): string {
    return `${Math.round((Date.now() - this.started) / 1000)} s`.padStart(5);
  }

  private draw(): void {
    this.frame = (this.frame + 1) % this.frames.length;
    const line = `${this.frames[this.frame]} ${this.title} ${this.elapsed()}${this.what ? ` — ${this.what}` : ''}`;
    const width = process.stdout.columns ?? 100;
    process.stdout.write(`\r\x1b[2K${line.length > width - 1 ? `${line.slice(0, width - 2)}…` : line}`);
  }
}
