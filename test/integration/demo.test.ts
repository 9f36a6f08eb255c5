/** `npm run demo` on the bed the runner started: exit 0, and the chat a person would read. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { run } from '../bed/proc.js';

const ROOT = new URL('../../', import.meta.url).pathname;

it('the demo shows the plan, every edit of the progress message, the announcement, the rollback and the status, and exits 0', async () => {
  const r = await run(process.execPath, ['--import', 'tsx', 'demo/demo.ts'], { cwd: ROOT, env: process.env, allowFailure: true });
  const out = r.stdout;
  assert.equal(r.code, 0, `${out}\n${r.stderr}`);
  const order = [
    /@pica-admin types in ~upgrades: {2}\/upgrade 1\.1\.0/,
    /Upgrade plan: Mattermost 1\.0\.0 → 1\.1\.0/,
    /\[ Upgrade now \] {2}\[ Rehearse first \] {2}\[ Cancel \]/,
    /@pica-admin clicks "Upgrade now"/,
    /upgrade-bot edits its message in ~upgrades/,
    /✅ Upgrade complete: Mattermost 1\.1\.0 is serving/,
    /upgrade-bot in ~town-square, [\d:]+\n {2}│ Mattermost has been updated to 1\.1\.0 — what's new: https:\/\//,
    /✔ the \d+ messages written before are all there/,
    /↩️ Upgrade failed and was rolled back: Mattermost 1\.1\.0 is serving/,
    /Failed to apply database migrations/,
    /@pica-admin types in ~upgrades: {2}\/upgrade status/,
    /Overall +✅ healthy/,
    /Everything went as shown\./,
  ];
  let at = 0;
  for (const re of order) {
    const m = re.exec(out.slice(at));
    assert.ok(m, `${re} after position ${at} of:\n${out}`);
    at += m.index + m[0].length;
  }
  const edits = out.match(/upgrade-bot edits its message in ~upgrades/g)?.length ?? 0;
  assert.ok(edits >= 4, `the progress edits are shown (${edits})`);
  assert.doesNotMatch(out, /\| *---/, 'tables are aligned, not raw Markdown');
});
