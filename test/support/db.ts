/**
 * Per-file databases cloned from the migrated template, so files run in parallel without
 * sharing rows. Real PostgreSQL, never a mock.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { createPool, type Pool } from '../../src/kernel/db.js';

export interface TestDb {
  url: string;
  pool: Pool;
  drop(): Promise<void>;
}

export async function createTestDb(opts: { poolMax?: number } = {}): Promise<TestDb> {
  const templateUrl = inject('pgTemplateUrl');
  const template = new URL(templateUrl);
  const templateName = template.pathname.slice(1);
  const name = `t_${randomBytes(6).toString('hex')}`;
  const adminUrl = new URL(templateUrl);
  adminUrl.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: adminUrl.toString() });
  await admin.connect();
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${templateName}"`);
        break;
      } catch (e) {
        // Two clones of one template at the same instant can collide; try again shortly.
        if (attempt > 20) throw e;
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
      }
    }
  } finally {
    await admin.end();
  }
  const url = new URL(templateUrl);
  url.pathname = `/${name}`;
  const pool = createPool(url.toString(), { max: opts.poolMax ?? 10 });
  return {
    url: url.toString(),
    pool,
    drop: async () => {
      await pool.end();
      const a = new pg.Client({ connectionString: adminUrl.toString() });
      await a.connect();
      try {
        await a.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await a.end();
      }
    },
  };
}
