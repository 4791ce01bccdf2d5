// Proves the automatic prepared statements survive schema changes under a running server (a
// migration of a newer version while this one runs): `*` queries are not prepared, and a plan
// whose result type changed fails once, then PostgreSQL plans it afresh. Real PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../../test/support/db.js';
import { createPool, type Pool } from './db.js';

let db: TestDb;
let pool: Pool;

beforeAll(async () => {
  db = await createTestDb();
  // One connection, so every query below meets the statements the earlier ones prepared.
  pool = createPool(db.url, { max: 1 });
  await pool.query('CREATE TABLE plan_probe (id bigint PRIMARY KEY, a integer NOT NULL)');
  await pool.query('INSERT INTO plan_probe VALUES (1, 10), (2, 20)');
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

describe('automatic prepared statements', () => {
  it('a SELECT * keeps working when a column is added', async () => {
    const q = 'SELECT * FROM plan_probe WHERE id = $1';
    expect((await pool.query(q, [1n])).rows).toEqual([{ id: 1n, a: 10 }]);
    await pool.query('ALTER TABLE plan_probe ADD COLUMN b text');
    expect((await pool.query(q, [1n])).rows).toEqual([{ id: 1n, a: 10, b: null }]);
  });

  it('a plan whose result type changed fails at most once, then works again', async () => {
    const q = 'SELECT a FROM plan_probe WHERE id = $1';
    expect((await pool.query(q, [2n])).rows).toEqual([{ a: 20 }]);
    await pool.query('ALTER TABLE plan_probe ALTER COLUMN a TYPE bigint');
    let failures = 0;
    for (let i = 0; i < 3; i++) {
      try {
        expect((await pool.query(q, [2n])).rows).toEqual([{ a: 20n }]);
      } catch (e) {
        expect((e as { code?: string }).code).toBe('0A000');
        failures++;
      }
    }
    expect(failures).toBeLessThanOrEqual(1);
    // Inside a transaction too, through a checked-out client.
    const c = await pool.connect();
    try {
      expect((await c.query(q, [2n])).rows).toEqual([{ a: 20n }]);
    } finally {
      c.release();
    }
  });
});
