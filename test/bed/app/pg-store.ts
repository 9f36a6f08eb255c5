/**
 * The Mattermost API stand-in's store in the bed's app image: its documents live in the
 * deployment's PostgreSQL, like Mattermost's own posts, so they survive the app container
 * being recreated during an upgrade and go back with a restore of the database.
 */
import type pg from 'pg';
import type { Kind, StandInStore } from '../../mattermost/store.js';

export class PgStore implements StandInStore {
  private ready: Promise<unknown> | undefined;

  constructor(private readonly pool: pg.Pool) {}

  private init(): Promise<unknown> {
    this.ready ??= this.pool.query('CREATE TABLE IF NOT EXISTS standin_docs (kind text NOT NULL, id text NOT NULL, seq bigserial, doc jsonb NOT NULL, PRIMARY KEY (kind, id))');
    return this.ready;
  }

  async get<T>(kind: Kind, id: string): Promise<T | undefined> {
    await this.init();
    const r = await this.pool.query<{ doc: T }>('SELECT doc FROM standin_docs WHERE kind = $1 AND id = $2', [kind, id]);
    return r.rows[0]?.doc;
  }

  async put(kind: Kind, id: string, doc: unknown): Promise<void> {
    await this.init();
    await this.pool.query('INSERT INTO standin_docs (kind, id, doc) VALUES ($1, $2, $3) ON CONFLICT (kind, id) DO UPDATE SET doc = EXCLUDED.doc', [kind, id, JSON.stringify(doc)]);
  }

  async list<T>(kind: Kind): Promise<T[]> {
    await this.init();
    const r = await this.pool.query<{ doc: T }>('SELECT doc FROM standin_docs WHERE kind = $1 ORDER BY seq', [kind]);
    return r.rows.map((row) => row.doc);
  }
}
