/**
 * Slash commands as the server runs them: the command CRUD, `/commands/execute` (what a
 * person typing `/upgrade 1.1.0` makes the web app call), the request to the integration
 * with the 5.x or the current field set, the reply read the server's way, and the
 * response_url hooks (30 minutes, 5 uses).
 */
import type { Core } from './core.js';
import { route, type Route } from './http.js';
import { callIntegration, goFormEncode, IntegrationError } from './integrations.js';
import { AppError, errors, isValidId, newId, type Channel, type Command, type CommandHook, type Team, type User } from './model.js';

const HOOK_LIFETIME_MS = 30 * 60_000;
const HOOK_MAX_USES = 5;

interface CommandResponse {
  response_type?: string;
  text?: string;
  username?: string;
  channel_id?: string;
  icon_url?: string;
  type?: string;
  props?: Record<string, unknown> | null;
  goto_location?: string;
  trigger_id?: string;
  skip_slack_parsing?: boolean;
  attachments?: unknown[] | null;
  extra_responses?: CommandResponse[] | null;
}

function fullResponse(r: CommandResponse, triggerId: string): Record<string, unknown> {
  return {
    response_type: r.response_type ?? '',
    text: r.text ?? '',
    username: r.username ?? '',
    channel_id: r.channel_id ?? '',
    icon_url: r.icon_url ?? '',
    type: r.type ?? '',
    props: r.props ?? null,
    goto_location: r.goto_location ?? '',
    trigger_id: triggerId,
    skip_slack_parsing: r.skip_slack_parsing ?? false,
    attachments: r.attachments ?? null,
    extra_responses: r.extra_responses ?? null,
  };
}

/** model.CommandResponseFromHTTPBody: JSON only when the media type is exactly application/json. */
export function parseCommandResponse(contentType: string | undefined, body: string): CommandResponse {
  if ((contentType ?? '').split(';')[0]!.trim() === 'application/json') {
    const parsed: unknown = JSON.parse(body); // an empty or invalid body throws: "failed"
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('json: cannot unmarshal into Go value of type model.CommandResponse');
    return parsed as CommandResponse;
  }
  return { text: body };
}

function validateCommand(c: Partial<Command>): void {
  const bad = (field: string): AppError => new AppError(400, `model.command.is_valid.${field}.app_error`, `Invalid ${field.replace(/_/g, ' ')}.`);
  const trigger = c.trigger ?? '';
  if (trigger.length < 1 || trigger.length > 128 || trigger.startsWith('/') || /\s/.test(trigger)) throw bad('trigger');
  if (!/^https?:\/\//.test(c.url ?? '') || (c.url ?? '').length > 1024) throw bad('url');
  if (c.method !== 'P' && c.method !== 'G') throw bad('method');
  if ((c.display_name ?? '').length > 64) throw bad('display_name');
  if ((c.description ?? '').length > 128) throw bad('description');
}

export function commandRoutes(core: Core): Route[] {
  const teamCommands = async (teamId: string): Promise<Command[]> => (await core.store.list<Command>('command')).filter((c) => c.team_id === teamId && c.delete_at === 0);

  /** HandleCommandResponse: the reply and its extra_responses become posts or ephemerals. */
  const handleResponse = async (user: User, channel: Channel, rootId: string, r: CommandResponse, source: 'slash' | 'response_url'): Promise<void> => {
    let failed = false;
    for (const one of [r, ...(r.extra_responses ?? [])]) {
      try {
        let channelId = channel.id;
        if (one.channel_id) {
          const other = await core.channel(one.channel_id);
          if (!other?.members.includes(user.id)) throw new AppError(403, 'api.command.command_post.forbidden.app_error', 'Specified user is not a member of specified channel.');
          channelId = other.id;
        }
        const props: Record<string, unknown> = { ...(one.props ?? {}) };
        if (one.attachments) props.attachments = one.attachments;
        if (one.response_type === 'in_channel') {
          if ((one.type ?? '').startsWith('system_')) throw errors.invalidParam('post.type');
          await core.createPost(user, { channel_id: channelId, message: one.text ?? '', ...(rootId ? { root_id: rootId } : {}), props }, { from_webhook: 'true' });
        } else if ((one.response_type ?? '') === '' || one.response_type === 'ephemeral') {
          if ((one.text ?? '') !== '' || one.attachments) await core.addEphemeral({ user_id: user.id, channel_id: channelId, root_id: rootId, message: one.text ?? '', props, source });
        }
      } catch {
        failed = true;
      }
    }
    if (failed) throw new AppError(500, 'api.command.execute_command.create_post_failed.app_error', "Command 'upgrade' failed to post response. Please contact your System Administrator.");
  };

  return [
    route('GET', '/api/v4/commands', async (c) => {
      const teamId = c.url.searchParams.get('team_id') ?? '';
      if (!c.user.teams.includes(teamId) && !core.isAdmin(c.user)) throw errors.permissions();
      const custom = c.url.searchParams.get('custom_only') === 'true';
      if (custom && !core.canManageCommands(c.user, teamId)) throw errors.permissions();
      const list = await teamCommands(teamId);
      return [200, custom ? list : list.map((x) => ({ ...x, token: '', url: '' }))];
    }),
    route('POST', '/api/v4/commands', async (c) => {
      const input = await c.json<Partial<Command>>('command');
      if (!input || typeof input !== 'object') throw errors.invalidBody('command');
      if (!input.team_id || !core.canManageCommands(c.user, input.team_id)) throw errors.permissions();
      return core.mutex.run(async () => {
        const trigger = (input.trigger ?? '').toLowerCase();
        if ((await teamCommands(input.team_id!)).some((x) => x.trigger === trigger)) {
          throw new AppError(400, 'api.command.duplicate_trigger.app_error', 'This trigger word is already in use. Please choose another word.');
        }
        validateCommand(input);
        const now = core.now();
        const cmd: Command = {
          id: newId(),
          token: newId(),
          create_at: now,
          update_at: now,
          delete_at: 0,
          creator_id: c.user.id,
          team_id: input.team_id!,
          trigger,
          method: input.method!,
          username: input.username ?? '',
          icon_url: input.icon_url ?? '',
          auto_complete: Boolean(input.auto_complete),
          auto_complete_desc: input.auto_complete_desc ?? '',
          auto_complete_hint: input.auto_complete_hint ?? '',
          display_name: input.display_name ?? '',
          description: input.description ?? '',
          url: input.url!,
          plugin_id: '',
        };
        await core.store.put('command', cmd.id, cmd);
        return [201, cmd];
      });
    }),
    route('PUT', '/api/v4/commands/{command_id:[A-Za-z0-9]+}', async (c) => {
      const input = await c.json<Partial<Command>>('command');
      const old = await core.store.get<Command>('command', c.params.command_id!);
      if (!old || old.delete_at !== 0 || !core.canManageCommands(c.user, old.team_id)) throw new AppError(404, 'store.sql_command.save.get.app_error', 'We could not get the command.');
      if (input.id !== old.id) throw errors.invalidParam('command_id');
      validateCommand({ ...old, ...input });
      const cmd: Command = { ...old, ...input, id: old.id, token: old.token, team_id: old.team_id, creator_id: old.creator_id, trigger: (input.trigger ?? old.trigger).toLowerCase(), update_at: core.now() };
      await core.store.put('command', cmd.id, cmd);
      return [200, cmd];
    }),
    route('PUT', '/api/v4/commands/{command_id:[A-Za-z0-9]+}/regen_token', async (c) => {
      const old = await core.store.get<Command>('command', c.params.command_id!);
      if (!old || !core.canManageCommands(c.user, old.team_id)) throw new AppError(404, 'store.sql_command.save.get.app_error', 'We could not get the command.');
      const cmd = { ...old, token: newId(), update_at: core.now() };
      await core.store.put('command', cmd.id, cmd);
      return [200, { token: cmd.token }];
    }),
    route('POST', '/api/v4/commands/execute', async (c) => {
      const args = await c.json<{ channel_id?: string; command?: string; root_id?: string }>('command_args');
      const text = typeof args?.command === 'string' ? args.command : '';
      if (text.length <= 1 || !text.startsWith('/') || !isValidId(args.channel_id)) throw new AppError(400, 'api.command.execute_command.start.app_error', 'No command trigger found.');
      const channel = await core.channel(args.channel_id);
      if (!channel || !channel.members.includes(c.user.id)) throw errors.permissions();
      const settings = await core.settings();
      const space = text.search(/\s/);
      const trigger = (space === -1 ? text : text.slice(0, space)).toLowerCase().slice(1);
      const message = space === -1 ? '' : text.slice(space + 1);
      const cmd = (await teamCommands(channel.team_id)).find((x) => x.trigger === trigger);
      if (!cmd) {
        throw new AppError(404, 'api.command.execute_command.not_found.app_error', `Command with a trigger of '${trigger}' not found. To send a message beginning with "/", try adding an empty space at the beginning of the message.`);
      }
      const team = (await core.team(channel.team_id)) as Team;
      const rootId = settings.flavour === 'current' ? (args.root_id ?? '') : '';
      const hook: CommandHook = { id: newId(), command_id: cmd.id, user_id: c.user.id, channel_id: channel.id, root_id: rootId, create_at: core.now(), uses: 0 };
      await core.store.put('hook', hook.id, hook);
      const trigger_ = core.triggerId(c.user.id);
      const fields: Record<string, string> = {
        token: cmd.token,
        team_id: cmd.team_id,
        team_domain: team.name,
        channel_id: channel.id,
        channel_name: channel.name,
        user_id: c.user.id,
        user_name: c.user.username,
        command: `/${trigger}`,
        text: message,
        trigger_id: trigger_.full,
        response_url: `${settings.siteUrl.replace(/\/+$/, '')}/hooks/commands/${hook.id}`,
      };
      if (settings.flavour === 'current') {
        fields.root_id = rootId;
        const users = (await core.store.list<User>('user')).filter((u) => u.teams.includes(team.id) && new RegExp(`(^|\\s)@${u.username}\\b`).test(message));
        if (users.length > 0) {
          fields.user_mentions = users.map((u) => u.username).join(',');
          fields.user_mentions_ids = users.map((u) => u.id).join(',');
        }
      }
      const encoded = goFormEncode(fields);
      const get = cmd.method === 'G';
      const target = get ? `${cmd.url}${cmd.url.includes('?') ? '&' : '?'}${encoded}` : cmd.url;
      const headers: Array<[string, string]> = [['Accept', 'application/json'], ['Authorization', `Token ${cmd.token}`]];
      if (!get) headers.push(['Content-Type', 'application/x-www-form-urlencoded']);
      const started = core.now();
      const failed = new AppError(500, 'api.command.execute_command.failed.app_error', `Command with a trigger of '${trigger}' failed.`);
      let response: CommandResponse;
      try {
        const r = await callIntegration({ method: get ? 'GET' : 'POST', url: target, headers, ...(get ? {} : { body: encoded }), timeoutMs: settings.outgoingTimeoutMs, allowedUntrusted: settings.allowedUntrusted });
        await core.logCall({ at: started, kind: 'slash', url: target, method: get ? 'GET' : 'POST', requestHeaders: r.requestHeaders, requestBody: r.requestBody, status: r.status, responseHeaders: r.headers, responseBody: r.body, ms: core.now() - started });
        if (r.status !== 200) throw new AppError(500, 'api.command.execute_command.failed_resp.app_error', `Command with a trigger of '${trigger}' returned response ${r.statusText}.`);
        try {
          response = parseCommandResponse(r.headers['content-type'], r.body);
        } catch {
          throw failed;
        }
      } catch (err) {
        if (err instanceof AppError) throw err;
        const e = err as IntegrationError;
        await core.logCall({ at: started, kind: 'slash', url: target, method: get ? 'GET' : 'POST', requestHeaders: e.requestHeaders ?? {}, requestBody: e.requestBody ?? '', error: e.message, ms: core.now() - started });
        throw failed;
      }
      await handleResponse(c.user, channel, rootId, response, 'slash');
      return [200, fullResponse(response, trigger_.client)];
    }),
    route(
      'POST',
      '/hooks/commands/{hook_id:[A-Za-z0-9]+}',
      async (c) => {
        let response: CommandResponse;
        try {
          response = parseCommandResponse(c.req.headers['content-type'], await c.body());
        } catch {
          throw errors.invalidBody('command_response');
        }
        const hook = await core.mutex.run(async () => {
          const h = await core.store.get<CommandHook>('hook', c.params.hook_id!);
          if (!h || h.create_at + HOOK_LIFETIME_MS < core.now()) throw new AppError(400, 'app.command_webhook.handle_command_webhook.parse', 'Unable to parse incoming data.');
          if (h.uses >= HOOK_MAX_USES) throw new AppError(400, 'app.command_webhook.try_use.invalid', 'Invalid webhook.');
          const used = { ...h, uses: h.uses + 1 };
          await core.store.put('hook', h.id, used);
          return used;
        });
        const user = (await core.user(hook.user_id))!;
        const channel = (await core.channel(hook.channel_id))!;
        await handleResponse(user, channel, hook.root_id, response, 'response_url');
        return [200, 'ok', 'text/plain'];
      },
      { session: false },
    ),
  ];
}
