/**
 * The *Plan upgrade* button, under a release-watch suggestion or a published build: a click
 * plans `/upgrade X.Y.Z` in that channel (ChatService.action, action `plan`). Signed like
 * every button; valid for 30 days.
 */
import type { Config } from '../config/index.js';
import { newNonce, signContext } from './verify.js';

const BUTTON_TTL_MS = 30 * 24 * 3600_000;

export function planUpgradeAttachment(config: Config, version: string, words: { name: string; text: string }, now: number): Record<string, unknown> {
  return {
    fallback: words.text,
    text: words.text,
    actions: [
      {
        id: 'plan',
        type: 'button',
        name: words.name,
        style: 'primary',
        integration: {
          url: `${config.bot.publicUrl}/mattermost/action`,
          context: signContext(config.bot.secret!, { job: `release:${version}`, action: 'plan', exp: now + BUTTON_TTL_MS, nonce: newNonce() }),
        },
      },
    ],
  };
}
