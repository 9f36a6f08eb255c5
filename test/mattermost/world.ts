/** The people and channels of the chat tests: a team like Picasoft's, its admin, a member, the bot. */
import type { WorldSpec } from './standin.js';

export const TOKENS = {
  admin: 'adm1n0000t0ken0000000000aa',
  alice: 'al1ce0000t0ken0000000000aa',
  bot: 'b0t00000t0ken00000000000aa',
  allowed: 'all0wed0t0ken00000000000aa',
} as const;

export const WORLD: WorldSpec = {
  team: { name: 'picasoft', display_name: 'Picasoft' },
  users: [
    { username: 'pica-admin', token: TOKENS.admin, roles: 'system_admin system_user' },
    { username: 'alice', token: TOKENS.alice, roles: 'system_user' },
    { username: 'ops-volunteer', token: TOKENS.allowed, roles: 'system_user' },
    { username: 'upgrade-bot', token: TOKENS.bot, roles: 'system_user', is_bot: true, manageCommands: true },
  ],
  channels: [
    { name: 'town-square', display_name: 'Général' },
    { name: 'upgrades', display_name: 'Mises à jour' },
  ],
};

/** Words that give away an English sentence in a French message, and the reverse. */
export const ENGLISH = /\b(the|is|was|and|with|not|now|you|your|failed|running|started|upgrade complete|rolled back|nothing|backup|downtime|step|version is)\b/i;
export const FRENCH = /\b(le|la|les|est|une|des|été|avec|pas|en cours|terminée|sauvegarde|coupure|étape)\b|[àéèêç]/i;

/** A message's prose, without code spans, code blocks and links, which stay as they are in every language. */
export function prose(markdown: string): string {
  return markdown
    .replace(/```[\s\S]*?```/g, ' ')
    .replace(/`[^`]*`/g, ' ')
    .replace(/https?:\/\/\S+/g, ' ')
    .replace(/@[\w.-]+/g, ' ');
}
