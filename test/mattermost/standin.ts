/**
 * A stand-in for the Mattermost server's API, following ../shared/MATTERMOST.md and the real
 * server's handlers (see the notes in each file): the `/api/v4` routes the bot calls through
 * @mattermost/client, with Bearer auth and Mattermost-shaped errors; the slash-command and
 * button machinery a person sets off (`/commands/execute`, `/posts/{id}/actions/{id}`),
 * which calls the bot as the server does; the response_url hooks.
 *
 * Tests set it up and read it back through `/api/v4/test/standin/*` (no session, test only).
 * It runs inside a test process (MemoryStore) or inside the bed's app image (PostgreSQL).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { actionRoutes } from './actions.js';
import { commandRoutes } from './commands.js';
import { Core, type Settings } from './core.js';
import { dispatch, route, sendError, type Route } from './http.js';
import { errors, newId, stripIntegrations, type Channel, type Ephemeral, type IntegrationCall, type Post, type PostVersion, type Team, type User } from './model.js';
import { restRoutes } from './rest.js';
import type { StandInStore } from './store.js';

export interface WorldSpec {
  team: { name: string; display_name: string };
  users: Array<{ username: string; token: string; roles?: string; is_bot?: boolean; manageCommands?: boolean }>;
  /** Every user of the world is a member of every channel unless `members` says otherwise. */
  channels: Array<{ name: string; display_name: string; members?: string[] }>;
}

export interface World {
  team: Team;
  users: Record<string, User>;
  channels: Record<string, Channel>;
}

export class MattermostStandIn {
  readonly core: Core;
  private readonly routes: Route[];

  constructor(store: StandInStore, settings: Settings, now: () => number = Date.now) {
    this.core = new Core(store, settings, now);
    this.routes = [...testRoutes(this), ...restRoutes(this.core), ...commandRoutes(this.core), ...actionRoutes(this.core)];
  }

  /** Answers the stand-in's routes; false when the path is not one of its own. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (await dispatch(this.routes, req, res, url, (t) => this.core.userByToken(t))) return true;
    if (url.pathname.startsWith('/api/v4/')) {
      // The catch-all: no session check, no request id.
      sendError(res, errors.notFoundRoute(url.pathname), '');
      return true;
    }
    return false;
  }

  /** Creates (or brings up to date) the team, its users and channels. */
  async seed(spec: WorldSpec): Promise<World> {
    const { store } = this.core;
    return this.core.mutex.run(async () => {
      let team = (await store.list<Team>('team')).find((t) => t.name === spec.team.name);
      if (!team) team = { id: newId(), ...spec.team };
      await store.put('team', team.id, team);
      const users: Record<string, User> = {};
      const existing = await store.list<User>('user');
      for (const u of spec.users) {
        const old = existing.find((x) => x.username === u.username);
        const user: User = {
          id: old?.id ?? newId(),
          username: u.username,
          token: u.token,
          roles: u.roles ?? (u.is_bot ? 'system_user' : 'system_user'),
          ...(u.is_bot ? { is_bot: true } : {}),
          ...(u.manageCommands ? { manageCommands: true } : {}),
          teams: [...new Set([...(old?.teams ?? []), team.id])],
        };
        await store.put('user', user.id, user);
        users[user.username] = user;
      }
      const channels: Record<string, Channel> = {};
      const existingChannels = await store.list<Channel>('channel');
      for (const c of spec.channels) {
        const old = existingChannels.find((x) => x.team_id === team.id && x.name === c.name);
        const members = (c.members ?? Object.keys(users)).map((name) => users[name]?.id).filter((id): id is string => Boolean(id));
        const channel: Channel = { id: old?.id ?? newId(), team_id: team.id, name: c.name, display_name: c.display_name, type: 'O', members };
        await store.put('channel', channel.id, channel);
        channels[channel.name] = channel;
      }
      return { team, users, channels };
    });
  }
}

function testRoutes(s: MattermostStandIn): Route[] {
  const { store } = s.core;
  const open = { session: false };
  return [
    route('POST', '/api/v4/test/standin/seed', async (c) => [200, await s.seed(await c.json<WorldSpec>('world'))], open),
    route(
      'POST',
      '/api/v4/test/standin/settings',
      async (c) => {
        const changes = await c.json<Partial<Settings>>('settings');
        const merged = { ...((await store.get<Partial<Settings>>('settings', 'settings')) ?? {}), ...changes };
        await store.put('settings', 'settings', merged);
        return [200, await s.core.settings()];
      },
      open,
    ),
    route(
      'GET',
      '/api/v4/test/standin/posts',
      async (c) => {
        const channel = c.url.searchParams.get('channel_id');
        const posts = (await store.list<Post>('post')).filter((p) => !channel || p.channel_id === channel);
        return [200, c.url.searchParams.get('raw') === 'true' ? posts : posts.map(stripIntegrations)];
      },
      open,
    ),
    route('GET', '/api/v4/test/standin/versions', async (c) => [200, (await store.list<PostVersion>('version')).filter((v) => !c.url.searchParams.get('post_id') || v.post_id === c.url.searchParams.get('post_id'))], open),
    route('GET', '/api/v4/test/standin/ephemerals', async (c) => [200, (await store.list<Ephemeral>('ephemeral')).filter((e) => !c.url.searchParams.get('user_id') || e.user_id === c.url.searchParams.get('user_id'))], open),
    route('GET', '/api/v4/test/standin/calls', async () => [200, await store.list<IntegrationCall>('call')], open),
  ];
}
