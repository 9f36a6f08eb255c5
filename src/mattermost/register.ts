/**
 * The `/upgrade` slash command in MM_TEAM, created or brought up to date through the API
 * (`POST /api/v4/commands`, `PUT /api/v4/commands/{id}`): URL `BOT_PUBLIC_URL/mattermost/command`,
 * method POST, autocomplete with a hint and a description. Running it again changes nothing
 * when all is as it should be. Its token is what MM_SLASH_TOKENS must hold.
 */
import { ErrorCode, UpgradeBotError } from '../common/errors.js';
import { ChatApiError, type ChatApi, type CommandSpec } from './client.js';

export const TRIGGER = 'upgrade';

export interface Registration {
  action: 'created' | 'updated' | 'unchanged';
  id: string;
  token: string;
  url: string;
  team: string;
}

export function commandSpec(teamId: string, publicUrl: string): CommandSpec {
  return {
    team_id: teamId,
    trigger: TRIGGER,
    method: 'P',
    url: `${publicUrl.replace(/\/+$/, '')}/mattermost/command`,
    auto_complete: true,
    auto_complete_desc: 'Upgrade Mattermost to a version (plan, confirmation, backup, automatic rollback); also rollback, status, backup, reindex, cancel, help',
    auto_complete_hint: '[X.Y.Z | rollback | status | backup | reindex | cancel | help]',
    display_name: 'Upgrade Mattermost',
    description: 'Upgrades this Mattermost safely: verified backup, pull before any downtime, automatic rollback',
    username: '',
    icon_url: '',
  };
}

export async function registerCommand(api: ChatApi, opts: { team: string; publicUrl: string }): Promise<Registration> {
  const refused = (err: unknown, what: string): never => {
    if (err instanceof ChatApiError && (err.status === 403 || err.status === 401)) {
      throw new UpgradeBotError(ErrorCode.PolicyRefused, `Mattermost refused to ${what}: this token lacks the permission to manage slash commands in team ${opts.team} (HTTP ${err.status})`, {
        hint: 'Give the bot account the "Manage Slash Commands" permission in that team (System Console › User Management › Permissions), or run this once with a system admin\'s personal access token in MM_BOT_TOKEN.',
      });
    }
    if (err instanceof ChatApiError && err.serverErrorId === 'api.command.duplicate_trigger.app_error') {
      throw new UpgradeBotError(ErrorCode.PolicyRefused, `a /${TRIGGER} command already exists in team ${opts.team}, created by someone else, and this token cannot edit it`, {
        hint: `Edit it in Integrations › Slash Commands so that it calls ${commandSpec('', opts.publicUrl).url} with POST, or delete it and run this again.`,
      });
    }
    throw err;
  };
  const team = await api.team(opts.team).catch((err: unknown) => {
    if (err instanceof ChatApiError && err.status === 404) throw new UpgradeBotError(ErrorCode.BadInput, `team "${opts.team}" does not exist on this Mattermost (MM_TEAM is the team's name as in its URL)`);
    return refused(err, `show team ${opts.team}`);
  });
  const spec = commandSpec(team.id, opts.publicUrl);
  const existing = (await api.teamCommands(team.id).catch((err: unknown) => refused(err, 'list the team\'s slash commands'))).find((c) => c.trigger === TRIGGER && !c.delete_at);
  if (!existing) {
    const created = await api.addCommand(spec).catch((err: unknown) => refused(err, 'create the command'));
    return { action: 'created', id: created.id, token: created.token, url: spec.url, team: opts.team };
  }
  const differs = (Object.keys(spec) as Array<keyof CommandSpec>).some((k) => k !== 'username' && k !== 'icon_url' && existing[k] !== spec[k]);
  if (!differs) return { action: 'unchanged', id: existing.id, token: existing.token, url: spec.url, team: opts.team };
  const updated = await api.editCommand({ ...existing, ...spec }).catch((err: unknown) => refused(err, 'update the command'));
  return { action: 'updated', id: updated.id, token: updated.token || existing.token, url: spec.url, team: opts.team };
}
