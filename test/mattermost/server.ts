/**
 * The stand-in on its own HTTP server, in the test process (MemoryStore): 127.0.0.1 only,
 * `/api/v4/system/ping` and `/api/v4/config/client?format=old` as a 5.35 or a current server
 * answers them, `X-Version-Id` on every response. stop() and start() again on the same port,
 * with the same data, stand for a server that goes down and comes back.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sendJson } from './http.js';
import type { Flavour } from './model.js';
import { MattermostStandIn } from './standin.js';
import { MemoryStore } from './store.js';

export interface StandInServer {
  url: string;
  port: number;
  standIn: MattermostStandIn;
  /** Stops answering (connections refused), keeping every post. */
  stop(): Promise<void>;
  /** Answers again, on the same port. */
  start(): Promise<void>;
}

export async function startStandIn(opts: { flavour?: Flavour; version?: string; allowedUntrusted?: string; outgoingTimeoutMs?: number; port?: number } = {}): Promise<StandInServer> {
  const flavour = opts.flavour ?? '5';
  const version = opts.version ?? (flavour === '5' ? '5.35.4' : '10.11.4');
  let port = opts.port ?? 0;
  const settings = { flavour, siteUrl: '', allowedUntrusted: opts.allowedUntrusted ?? '127.0.0.1', outgoingTimeoutMs: opts.outgoingTimeoutMs ?? 30_000 };
  const standIn = new MattermostStandIn(new MemoryStore(), settings);
  let server: Server | undefined;
  const listen = async (): Promise<void> => {
    const s = createServer((req, res) => {
      res.setHeader('X-Version-Id', `${version}.${version}.0123456789abcdef0123456789abcdef.false`);
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (req.method === 'GET' && url.pathname === '/api/v4/system/ping') return sendJson(res, 200, { status: 'OK', ActiveSearchBackend: 'database' });
      if (req.method === 'GET' && url.pathname === '/api/v4/config/client') return sendJson(res, 200, { Version: version, BuildNumber: version, BuildHash: 'standin', BuildEnterpriseReady: 'false' });
      void standIn.handle(req, res).then((handled) => {
        if (!handled) sendJson(res, 404, 'Not Found', 'text/plain');
      });
    });
    s.keepAliveTimeout = 1_000;
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve());
    });
    port = (s.address() as AddressInfo).port;
    settings.siteUrl = `http://127.0.0.1:${port}`;
    server = s;
  };
  await listen();
  return {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    standIn,
    stop: async () => {
      const s = server;
      server = undefined;
      if (!s) return;
      await new Promise<void>((resolve) => {
        s.close(() => resolve());
        s.closeAllConnections();
      });
    },
    start: async () => {
      if (!server) await listen();
    },
  };
}
