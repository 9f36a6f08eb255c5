import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { confirm } from '../../../src/cli/prompt.js';
import { Capture } from './helpers.js';

async function ask(typed: string | undefined): Promise<{ answer: boolean; shown: string }> {
  const input = new PassThrough();
  const output = new Capture();
  const answer = confirm('Upgrade to 1.1.0?', { input, output });
  if (typed === undefined) input.end();
  else input.end(typed);
  return { answer: await answer, shown: output.text };
}

describe('confirm', () => {
  for (const typed of ['y\n', 'yes\n', 'Y\n', 'YES\n', ' yes \n', 'y']) {
    it(`says yes to ${JSON.stringify(typed)}`, async () => {
      assert.deepEqual(await ask(typed), { answer: true, shown: 'Upgrade to 1.1.0? [y/N] \n' });
    });
  }

  for (const typed of ['n\n', 'no\n', '\n', 'yep\n', 'ok\n', 'sure\n', undefined]) {
    it(`says no to ${typed === undefined ? 'EOF' : JSON.stringify(typed)}`, async () => {
      assert.deepEqual(await ask(typed), { answer: false, shown: 'Upgrade to 1.1.0? [y/N] \n' });
    });
  }

  it('reads only the first line', async () => {
    assert.equal((await ask('n\ny\n')).answer, false);
  });

  it('says no at once when the input has already ended', async () => {
    const input = new PassThrough();
    input.resume();
    input.end();
    await new Promise((resolve) => input.once('end', resolve));
    const output = new Capture();
    assert.equal(await confirm('Restore?', { input, output }), false);
    assert.equal(output.text, 'Restore? [y/N] \n');
  });
});
