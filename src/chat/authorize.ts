/**
 * Who may run and confirm: the usernames of UPGRADE_ALLOWED_USERS, or, when that is empty,
 * users whose roles include `system_admin`. Both are read from Mattermost by user id (the id
 * in a request is the server's word; a username is looked up, never taken from the body).
 * Answers are cached for a minute so a busy channel does not query the server each time.
 */
import type { ChatApi, ChatUser } from '../mattermost/client.js';

/**
 * A Mattermost id (model.IsValidId: 26 letters or digits). Anything else is never looked up:
 * the id goes into the API path as it is, so `me` would be the bot's own account (a system
 * admin when its token is one) and `<id>?x`, `../users/<id>` someone else's — and every such
 * spelling would stay in the cache. The request-fuzzing test found it.
 */
const USER_ID = /^[A-Za-z0-9]{26}$/;

export class Authorizer {
  private readonly cache = new Map<string, { user: ChatUser; at: number }>();

  constructor(
    private readonly api: ChatApi,
    private readonly allowedUsers: readonly string[],
    private readonly ttlMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  async check(userId: string): Promise<{ allowed: boolean; username: string }> {
    if (!USER_ID.test(userId)) throw new Error('not a Mattermost user id');
    const user = await this.user(userId);
    const allowed = this.allowedUsers.length > 0 ? this.allowedUsers.some((u) => u.toLowerCase() === user.username.toLowerCase()) : user.roles.split(/\s+/).includes('system_admin');
    return { allowed, username: user.username };
  }

  private async user(id: string): Promise<ChatUser> {
    const hit = this.cache.get(id);
    if (hit && this.now() - hit.at < this.ttlMs) return hit.user;
    const user = await this.api.user(id);
    this.cache.set(id, { user, at: this.now() });
    return user;
  }
}

/** `check`, or undefined (logged) when Mattermost could not say who the user is: the caller refuses with `cannotCheckUser`. */
export async function identify(
  authorizer: Pick<Authorizer, 'check'>,
  log: { warn(message: string, meta?: object): void },
  userId: string,
  doing: 'typed a command' | 'clicked',
): Promise<{ allowed: boolean; username: string } | undefined> {
  try {
    return await authorizer.check(userId);
  } catch (err) {
    // The id is the sender's text, up to 64 kB: logged shortened.
    log.warn(`chat: could not look up the user who ${doing}`, { userId: userId.slice(0, 64), error: (err as Error).message });
    return undefined;
  }
}
