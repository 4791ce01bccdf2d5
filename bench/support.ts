/** Shared plumbing of the benchmarks: a database to run against, and latency percentiles. */
import { mkdtempSync, rmSync } from 'node:fs';
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
