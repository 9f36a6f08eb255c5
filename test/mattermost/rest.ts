/** Users, teams, channels and posts: the `/api/v4` routes the bot calls through Client4. */
import type { Core } from './core.js';
import { route, type Route } from './http.js';
import { AppError, errors, isValidId, stripIntegrations, type Channel, type Post, type Team, type User } from './model.js';

/** The user JSON the server sends: `roles` always, `is_bot` only when true, no token. */
export function userJson(u: User, self: boolean): Record<string, unknown> {
  return {
    id: u.id,
    create_at: 1700000000000,
    update_at: 1700000000000,
    delete_at: 0,
    username: u.username,
    auth_data: '',
    auth_service: '',
    email: self ? `${u.username}@example.invalid` : '',
    nickname: '',
    first_name: '',
    last_name: '',
    position: '',
    roles: u.roles,
    locale: 'en',
    timezone: { automaticTimezone: '', manualTimezone: '', useAutomaticTimezone: 'true' },
    disable_welcome_email: false,
    ...(u.is_bot ? { is_bot: true } : {}),
  };
}

function teamJson(t: Team): Record<string, unknown> {
  return { id: t.id, create_at: 1700000000000, update_at: 1700000000000, delete_at: 0, display_name: t.display_name, name: t.name, description: '', email: '', type: 'O', company_name: '', allowed_domains: '', invite_id: '', allow_open_invite: false, scheme_id: null, group_constrained: null };
}

function channelJson(c: Channel): Record<string, unknown> {
  return { id: c.id, create_at: 1700000000000, update_at: 1700000000000, delete_at: 0, team_id: c.team_id, type: c.type, display_name: c.display_name, name: c.name, header: '', purpose: '', last_post_at: 0, total_msg_count: 0, extra_update_at: 0, creator_id: '', scheme_id: null, props: null, group_constrained: null };
}

export function restRoutes(core: Core): Route[] {
  const teamByName = async (name: string): Promise<Team> => {
    const team = (await core.store.list<Team>('team')).find((t) => t.name === name);
    if (!team) throw new AppError(404, 'app.team.get_by_name.missing.app_error', 'Unable to find the existing team.');
    return team;
  };
  return [
    route('GET', '/api/v4/users/me', async (c) => [200, userJson(c.user, true)]),
    route('GET', '/api/v4/users/username/{username:[A-Za-z0-9_.\\-]+}', async (c) => {
      const u = (await core.store.list<User>('user')).find((x) => x.username === c.params.username!.toLowerCase());
      if (!u) throw new AppError(404, 'app.user.get_by_username.app_error', 'Unable to find an existing account matching your username for this team. This team may require an invite from the team owner to join.');
      return [200, userJson(u, u.id === c.user.id)];
    }),
    route('GET', '/api/v4/users/{user_id:[A-Za-z0-9]+}', async (c) => {
      if (!isValidId(c.params.user_id)) throw errors.invalidUrlParam('user_id');
      const u = await core.user(c.params.user_id);
      if (!u) throw new AppError(404, 'app.user.missing_account.const', 'Unable to find the user.');
      return [200, userJson(u, u.id === c.user.id)];
    }),
    route('GET', '/api/v4/teams/name/{team_name:[A-Za-z0-9_\\-]+}', async (c) => {
      const team = await teamByName(c.params.team_name!);
      if (!c.user.teams.includes(team.id) && !core.isAdmin(c.user)) throw errors.permissions();
      return [200, teamJson(team)];
    }),
    route('GET', '/api/v4/teams/name/{team_name:[A-Za-z0-9_\\-]+}/channels/name/{channel_name:[A-Za-z0-9_\\-]+}', async (c) => {
      const team = await teamByName(c.params.team_name!);
      const channel = (await core.store.list<Channel>('channel')).find((x) => x.team_id === team.id && x.name === c.params.channel_name);
      if (!channel) throw new AppError(404, 'app.channel.get_by_name.missing.app_error', 'Channel does not exist.');
      const member = channel.members.includes(c.user.id);
      if (channel.type === 'O' ? !member && !c.user.teams.includes(team.id) && !core.isAdmin(c.user) : !member) {
        if (channel.type === 'O') throw errors.permissions();
        throw new AppError(404, 'app.channel.get_by_name.missing.app_error', 'Channel does not exist.');
      }
      return [200, channelJson(channel)];
    }),
    route('POST', '/api/v4/posts', async (c) => {
      const input = await c.json<Partial<Post>>('post');
      if (!input || typeof input !== 'object' || typeof input.channel_id !== 'string') throw errors.invalidBody('post');
      const post = await core.createPost(c.user, {
        channel_id: input.channel_id,
        message: typeof input.message === 'string' ? input.message : '',
        ...(input.root_id ? { root_id: input.root_id } : {}),
        ...(input.props && typeof input.props === 'object' ? { props: input.props } : {}),
        ...(typeof input.type === 'string' ? { type: input.type } : {}),
      });
      return [201, stripIntegrations(post)];
    }),
    route('POST', '/api/v4/posts/ephemeral', async (c) => {
      const body = await c.json<{ user_id?: string; post?: unknown }>('body');
      if (!body?.user_id) throw errors.invalidParam('user_id');
      if (!body.post) throw errors.invalidParam('post');
      // create_post_ephemeral is a system permission: system admins only, by default.
      if (!core.isAdmin(c.user)) throw new AppError(403, 'api.context.permissions.app_error', 'You do not have the appropriate permissions.', 'permission=create_post_ephemeral');
      const p = body.post as { channel_id?: string; message?: string };
      await core.addEphemeral({ user_id: body.user_id, channel_id: p.channel_id ?? '', root_id: '', message: p.message ?? '', props: {}, source: 'slash' });
      return [201, { ...p, user_id: c.user.id, type: 'system_ephemeral' }];
    }),
    route('PUT', '/api/v4/posts/{post_id:[A-Za-z0-9]+}/patch', async (c) => {
      if (!isValidId(c.params.post_id)) throw errors.invalidUrlParam('post_id');
      const patch = await c.json<{ message?: unknown; props?: unknown; is_pinned?: unknown }>('post');
      if (!patch || typeof patch !== 'object') throw errors.invalidBody('post');
      return core.mutex.run(async () => {
        const old = await core.store.get<Post>('post', c.params.post_id!);
        if (!old || old.delete_at !== 0) throw new AppError(403, 'api.context.permissions.app_error', 'You do not have the appropriate permissions.', 'permission=edit_post');
        const channel = await core.channel(old.channel_id);
        const own = old.user_id === c.user.id;
        // edit_post (own posts) comes with channel membership; edit_others_posts is an admin's.
        if (own ? !channel?.members.includes(c.user.id) : !core.isAdmin(c.user)) {
          throw new AppError(403, 'api.context.permissions.app_error', 'You do not have the appropriate permissions.', `permission=${own ? 'edit_post' : 'edit_others_posts'}`);
        }
        const props = patch.props !== undefined && patch.props !== null && typeof patch.props === 'object' ? (patch.props as Record<string, unknown>) : old.props;
        const message = typeof patch.message === 'string' ? patch.message : old.message;
        const post = await core.updatePost(old, { message, props }, 'patch');
        return [200, stripIntegrations(post)];
      });
    }),
  ];
}
