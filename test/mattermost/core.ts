/** What every part of the stand-in shares: its store, its settings and the helpers over them. */
import { randomBytes } from 'node:crypto';
import { AppError, checkPost, generateActionIds, newId, type Channel, type Ephemeral, type Flavour, type IntegrationCall, type Post, type PostVersion, type Team, type User } from './model.js';
import { Mutex, type StandInStore } from './store.js';

export interface Settings {
  flavour: Flavour;
  /** ServiceSettings.SiteURL: the base of every response_url. */
  siteUrl: string;
  /** ServiceSettings.AllowedUntrustedInternalConnections. */
  allowedUntrusted: string;
  /** ServiceSettings.OutgoingIntegrationRequestsTimeout, in milliseconds here. */
  outgoingTimeoutMs: number;
}

export class Core {
  readonly mutex = new Mutex();

  constructor(
    readonly store: StandInStore,
    private readonly defaults: Settings,
    readonly now: () => number = Date.now,
  ) {}

  /** The defaults (from the environment), with what a test changed through the test routes. */
  async settings(): Promise<Settings> {
    return { ...this.defaults, ...((await this.store.get<Partial<Settings>>('settings', 'settings')) ?? {}) };
  }

  async userByToken(token: string | undefined): Promise<User | undefined> {
    if (!token) return undefined;
    return (await this.store.list<User>('user')).find((u) => u.token === token);
  }

  async user(id: string): Promise<User | undefined> {
    return this.store.get<User>('user', id);
  }

  async team(id: string): Promise<Team | undefined> {
    return this.store.get<Team>('team', id);
  }

  async channel(id: string): Promise<Channel | undefined> {
    return this.store.get<Channel>('channel', id);
  }

  isAdmin(user: User): boolean {
    return user.roles.split(/\s+/).includes('system_admin');
  }

  canManageCommands(user: User, teamId: string): boolean {
    return this.isAdmin(user) || (Boolean(user.manageCommands) && user.teams.includes(teamId));
  }

  /** Creates a post as `user` (app.CreatePost): membership, validity, `from_bot`, action ids. */
  async createPost(user: User, input: { channel_id: string; message: string; root_id?: string; props?: Record<string, unknown>; type?: string }, extraProps: Record<string, unknown> = {}): Promise<Post> {
    const channel = await this.channel(input.channel_id);
    if (!channel || !channel.members.includes(user.id)) {
      throw new AppError(403, 'api.context.permissions.app_error', 'You do not have the appropriate permissions.', 'permission=create_post');
    }
    if (input.root_id && !(await this.store.get<Post>('post', input.root_id))) {
      throw new AppError(400, 'api.post.create_post.root_id.app_error', 'Invalid RootId parameter.');
    }
    const now = this.now();
    const props: Record<string, unknown> = { ...(input.props ?? {}), ...extraProps };
    if (user.is_bot) props.from_bot = 'true';
    generateActionIds(props);
    const post: Post = {
      id: newId(),
      create_at: now,
      update_at: now,
      edit_at: 0,
      delete_at: 0,
      is_pinned: false,
      user_id: user.id,
      channel_id: channel.id,
      root_id: input.root_id ?? '',
      original_id: '',
      message: input.message ?? '',
      type: input.type ?? '',
      props,
      hashtags: '',
      pending_post_id: '',
      reply_count: 0,
      metadata: Array.isArray(props.attachments) ? { embeds: [{ type: 'message_attachment' }] } : {},
    };
    checkPost(post, (await this.settings()).flavour);
    await this.store.put('post', post.id, post);
    await this.recordVersion(post, 'create');
    return post;
  }

  /** UpdatePost: message and props from `update`, edit_at when the message or the attachments change. */
  async updatePost(old: Post, update: { message: string; props: Record<string, unknown> }, by: PostVersion['by']): Promise<Post> {
    const now = this.now();
    const post: Post = { ...old, props: update.props, update_at: now };
    if (old.message !== update.message) {
      post.message = update.message;
      post.edit_at = now;
    }
    if (post.edit_at === old.edit_at && JSON.stringify(old.props.attachments ?? null) !== JSON.stringify(update.props.attachments ?? null)) post.edit_at = now;
    post.metadata = Array.isArray(update.props.attachments) && update.props.attachments.length > 0 ? { embeds: [{ type: 'message_attachment' }] } : old.metadata;
    checkPost(post, (await this.settings()).flavour);
    await this.store.put('post', post.id, post);
    await this.recordVersion(post, by);
    return post;
  }

  async recordVersion(post: Post, by: PostVersion['by']): Promise<void> {
    const v: PostVersion = { id: newId(), post_id: post.id, at: this.now(), by, message: post.message, props: structuredClone(post.props) };
    await this.store.put('version', v.id, v);
  }

  async addEphemeral(e: Omit<Ephemeral, 'id' | 'create_at'>): Promise<void> {
    const doc: Ephemeral = { ...e, id: newId(), create_at: this.now() };
    await this.store.put('ephemeral', doc.id, doc);
  }

  async logCall(call: Omit<IntegrationCall, 'id'>): Promise<void> {
    const id = newId();
    await this.store.put('call', id, { id, ...call });
  }

  /** A trigger id as the server makes them: base64 of `<id>:<user>:<millis>:<signature>`. */
  triggerId(userId: string): { client: string; full: string } {
    const client = newId();
    const full = Buffer.from(`${client}:${userId}:${this.now()}:${randomBytes(48).toString('base64')}`).toString('base64');
    return { client, full };
  }
}
