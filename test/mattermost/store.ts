/**
 * Where the stand-in keeps teams, users, posts…: documents by kind and id, listed in the
 * order they were first written. In memory for a stand-in inside a test process; in
 * PostgreSQL (test/bed/app/pg-store.ts) for the one the bed's app image serves, so that its
 * posts live in the database, survive the container being recreated, and go back with a
 * restore, as Mattermost's do.
 */
export type Kind = 'team' | 'channel' | 'user' | 'post' | 'version' | 'command' | 'hook' | 'ephemeral' | 'call' | 'settings';

export interface StandInStore {
  get<T>(kind: Kind, id: string): Promise<T | undefined>;
  put(kind: Kind, id: string, doc: unknown): Promise<void>;
  list<T>(kind: Kind): Promise<T[]>;
}

export class MemoryStore implements StandInStore {
  private readonly data = new Map<Kind, Map<string, string>>();

  async get<T>(kind: Kind, id: string): Promise<T | undefined> {
    const text = this.data.get(kind)?.get(id);
    return text === undefined ? undefined : (JSON.parse(text) as T);
  }

  async put(kind: Kind, id: string, doc: unknown): Promise<void> {
    let m = this.data.get(kind);
    if (!m) this.data.set(kind, (m = new Map()));
    m.set(id, JSON.stringify(doc));
  }

  async list<T>(kind: Kind): Promise<T[]> {
    return [...(this.data.get(kind)?.values() ?? [])].map((t) => JSON.parse(t) as T);
  }
}

/** Serialises read-modify-write sequences (a hook's use count, a post's update). */
export class Mutex {
  private chain: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }
}
