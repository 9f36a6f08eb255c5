import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { inWindow, parseWindow } from '../../../src/schedule/window.js';
import { changelogUrl } from '../../../src/core/upgrade/state.js';
import { asideName } from '../../../src/core/upgrade/switch.js';

describe('maintenance window', () => {
  const night = parseWindow('22:00-07:00')!;
  it('crosses midnight, in the configured time zone', () => {
    assert.equal(inWindow(night, new Date('2026-11-25T21:30:00Z'), 'UTC'), false);
    assert.equal(inWindow(night, new Date('2026-11-25T22:00:00Z'), 'UTC'), true);
    assert.equal(inWindow(night, new Date('2026-11-26T06:59:00Z'), 'UTC'), true);
    assert.equal(inWindow(night, new Date('2026-11-26T07:00:00Z'), 'UTC'), false);
    assert.equal(inWindow(night, new Date('2026-11-25T21:30:00Z'), 'Europe/Paris'), true, '22:30 in Paris');
  });
  it('00:00-24:00 is always open', () => {
    const always = parseWindow('00:00-24:00')!;
    for (const h of [0, 6, 12, 23]) assert.equal(inWindow(always, new Date(Date.UTC(2026, 10, 25, h, 59)), 'UTC'), true);
  });
  it('a day window', () => {
    const day = parseWindow('09:00-17:30')!;
    assert.equal(inWindow(day, new Date('2026-11-25T17:29:00Z'), 'UTC'), true);
    assert.equal(inWindow(day, new Date('2026-11-25T17:30:00Z'), 'UTC'), false);
  });
});

describe('changelog link', () => {
  it('fills the template', () => {
    assert.equal(changelogUrl('https://docs.mattermost.com/product-overview/mattermost-v{major}-changelog.html', '10.11.4'), 'https://docs.mattermost.com/product-overview/mattermost-v10-changelog.html');
    assert.equal(changelogUrl('https://x.example/{major}.{minor}/{patch}?v={version}', '9.11.2'), 'https://x.example/9.11/2?v=9.11.2');
  });
});

describe('aside database name', () => {
  it('keeps within 63 bytes', () => {
    assert.equal(asideName('mattermost', Date.parse('2026-11-25T16:02:11.123Z')), 'mattermost_failed_20261125_160211');
    assert.equal(asideName('m'.repeat(60), 0).length, 63);
  });
});
