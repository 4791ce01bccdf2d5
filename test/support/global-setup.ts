/**
 * Starts one real PostgreSQL (the embedded one) for the whole test run, migrates a template
 * database, and hands its URL to the test files; each file clones its own database from it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { createPool } from '../../src/kernel/db.js';
import { startEmbeddedDb, type EmbeddedDb } from '../../src/kernel/embedded-db.js';
import { migrate } from '../../src/kernel/migrate.js';
import { freePort } from './net.js';

let db: EmbeddedDb | undefined;
let dir: string | undefined;

declare module 'vitest' {
  export interface ProvidedContext {
    pgTemplateUrl: string;
  }
}

export async function setup(project: TestProject): Promise<void> {
  let url = process.env['PAYCORE_TEST_DATABASE_URL'];
  if (!url) {
    dir = mkdtempSync(join(tmpdir(), 'paycore-test-'));
    db = await startEmbeddedDb({ dataDir: dir, port: await freePort(), database: 'paycore_template' });
    url = db.url;
  }
  const pool = createPool(url, { max: 1 });
  try {
    await migrate(pool);
  } finally {
    await pool.end();
  }
  project.provide('pgTemplateUrl', url);
}

export async function teardown(): Promise<void> {
  await db?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}
