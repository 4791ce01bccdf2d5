/** Shared plumbing of the benchmarks: a database to run against, and latency percentiles. */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedDb } from '../src/kernel/embedded-db.js';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

/** The given database, or a fresh embedded PostgreSQL (default settings) in a temp dir removed afterwards. */
export async function benchDatabase(databaseUrl: string | undefined): Promise<{ url: string; close(): Promise<void> }> {
  if (databaseUrl) return { url: databaseUrl, close: async () => undefined };
  const dir = mkdtempSync(join(tmpdir(), 'paycore-bench-'));
  const db = await startEmbeddedDb({ dataDir: dir, port: await freePort() });
  return {
    url: db.url,
    close: async () => {
      await db.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;

/**
 * A lean HTTP/1.1 client for load generation: node:http over a keep-alive agent. On this class of
 * machine the global `fetch` (undici) costs several times more CPU per request than the servers
 * it drives, so a benchmark using it mostly measures its own client.
 */
export function httpClient(base: string, maxSockets = 256) {
  const u = new URL(base);
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  const request = (method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; body: any }> =>
    new Promise((resolve, reject) => {
      const h: Record<string, string | number> = { ...headers };
      if (body !== undefined) h['content-length'] = Buffer.byteLength(body);
      const req = http.request({ host: u.hostname, port: u.port, path, method, agent, headers: h }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = null;
          try { parsed = text === '' ? null : JSON.parse(text); } catch { parsed = text; }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  return { request, close: () => agent.destroy() };
}
