// The risk service on a real database: another process's list change that commits after a newer
// one is still picked up (sequence numbers are taken before commit).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../kernel/clock.js';
import { createTestDb, type TestDb } from '../../../test/support/db.js';
import { Risk } from './index.js';

let db: TestDb;

beforeAll(async () => {
  db = await createTestDb();
});

afterAll(async () => {
  await db?.drop();
});

describe('risk lists across processes', () => {
  it('picks up a change that committed after a newer one was already read', async () => {
    let n = 1n;
    const b = new Risk({ pool: db.pool, clock: systemClock, nextId: () => 7_000_000n + n++, pollMs: 10 });
    await b.start();
    try {
      const slow = await db.pool.connect();
      try {
        // Process A's slow transaction takes its sequence number first...
        await slow.query('BEGIN');
        await slow.query(`INSERT INTO risk_list_entries (id, list, entity, value, source, created_at) VALUES (1, 'black', 'ip', '1.1.1.1', 'a', now())`);
        // ...a faster writer takes a later one and commits, and B reads it.
        await db.pool.query(`INSERT INTO risk_list_entries (id, list, entity, value, source, created_at) VALUES (2, 'black', 'ip', '2.2.2.2', 'a', now())`);
        await b.refresh(true);
        expect(b.lists.lookup('ip', '2.2.2.2', Date.now()).black).toBe(true);
        expect(b.lists.lookup('ip', '1.1.1.1', Date.now()).black).toBe(false);
        await slow.query('COMMIT');
      } finally {
        slow.release();
      }
      await b.refresh(true);
      expect(b.lists.lookup('ip', '1.1.1.1', Date.now()).black).toBe(true);
      // A removal elsewhere is followed too.
      await db.pool.query(`UPDATE risk_list_entries SET removed_at = now(), seq = nextval('risk_list_seq'), changed_at = clock_timestamp() WHERE id = 2`);
      await b.refresh(true);
      expect(b.lists.lookup('ip', '2.2.2.2', Date.now()).black).toBe(false);
    } finally {
      await b.close();
    }
  });
});
