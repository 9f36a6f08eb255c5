/** Markdown as Mattermost renders it. */

/** A two-column table of facts, without a header row; a `|` inside a value is escaped so the row holds. */
export function factsTable(rows: Array<[string, string]>): string[] {
  return ['| | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v.replace(/\|/g, '\\|')} |`)];
}
