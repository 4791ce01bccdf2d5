/**
 * Runs the real Paycore server (the same composition as `paycore start`) on a fresh test
 * database and a loopback port, and gives tests a small HTTP client for it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type Server } from '../../src/server.js';
import { createTestDb, type TestDb } from './db.js';

export interface TestServer {
  server: Server;
  db: TestDb;
  url: string;
  token: string;
  /** JSON request as an operator (admin token unless `token` is given). */
  req(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; headers: Headers }>;
  close(): Promise<void>;
}

/** `env`: settings read from the environment at start (e.g. PAYCORE_JOB_INTERVAL_MS), set only while starting. */
export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const db = await createTestDb();
  const dataDir = mkdtempSync(join(tmpdir(), 'paycore-srv-'));
  const vars = { LOG_LEVEL: process.env['TEST_LOG_LEVEL'] ?? 'silent', ...env };
  const prev = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  let server: Server;
  try {
    server = await startServer({ databaseUrl: db.url, dataDir, port: 0, host: '127.0.0.1' });
  } finally {
    for (const [k, v] of Object.entries(prev)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  const token = server.runtime.config.adminToken.reveal();
  return {
    server,
    db,
    url: server.url,
    token,
    async req(method, path, body, headers = {}) {
      const h: Record<string, string> = { authorization: `Bearer ${token}`, ...headers };
      let payload: string | undefined;
      if (body !== undefined) {
        h['content-type'] ??= 'application/json';
        payload = typeof body === 'string' ? body : JSON.stringify(body);
      }
      const res = await fetch(`${server.url}${path}`, { method, headers: h, ...(payload !== undefined ? { body: payload } : {}) });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // Not JSON (CSV, HTML): keep the text.
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
    async close() {
      await server.close();
      await db.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
