// The risk service on a real database: another process's list change that commits after a newer
// one is still picked up (sequence numbers are taken before commit); a poll that read the database
// before a local change committed does not undo it; decisions, graph edges and money flows that the
// database could not take are written by a later flush.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../kernel/clock.js';
import { createTestDb, type TestDb } from '../../../test/support/db.js';
import { Risk } from './index.js';

let db: TestDb;

beforeAll(async () => {
  db = await createTestDb();
});

/** Engines started by a test, closed after it. */
const engines: Risk[] = [];

/** A risk engine on the test database; ids from `idBase` on (each engine its own range). */
async function started(idBase: bigint, pollMs: number): Promise<Risk> {
  let n = 1n;
  const r = new Risk({ pool: db.pool, clock: systemClock, nextId: () => idBase + n++, pollMs });
  await r.start();
  engines.push(r);
  return r;
}

afterEach(async () => {
  for (const r of engines.splice(0)) await r.close();
});

afterAll(async () => {
  await db?.drop();
});

describe('risk lists across processes', () => {
  it('picks up a change that committed after a newer one was already read', async () => {
    const b = await started(7_000_000n, 10);
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
  });
});

const doc = (name: string, action: 'reject' | 'accept') => ({ name, rules: [{ id: 'ALL', priority: 1, action, when: 'amount >= 0', reason: name }] });

describe('risk service state', () => {
  it('a poll that read the versions before a local activation committed does not put the old one back', async () => {
    const a = await started(8_000_000n, 10);
    const v1 = await a.uploadRuleSet({ document: doc('one', 'accept') });
    const v2 = await a.uploadRuleSet({ document: doc('two', 'reject') });
    if (!v1.ok || !v2.ok) throw new Error('upload failed');
    await a.activate({ version: v1.value.version });
    // Hold the poll up at its last read (the breakers) after it has read version 1 as live...
    const blocker = await db.pool.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE risk_merchant_breakers IN ACCESS EXCLUSIVE MODE');
      // Another process trips a breaker; the poll reads it once the lock is gone.
      await blocker.query(`INSERT INTO risk_merchant_breakers (merchant, state, mode, score, reason, tripped_at) VALUES ('m-elsewhere', 'tripped', 'refuse', null, 'by hand elsewhere', now())`);
      const poll = a.refresh(true);
      await new Promise((r) => setTimeout(r, 200));
      // ...while this process activates version 2.
      expect((await a.activate({ version: v2.value.version })).ok).toBe(true);
      await blocker.query('COMMIT');
      await poll;
    } finally {
      blocker.release();
    }
    expect(a.versions().active).toBe(v2.value.version);
    // What the poll read from elsewhere is applied all the same.
    expect((a as unknown as { breakers: Map<string, unknown> }).breakers.has('m-elsewhere')).toBe(true);
    expect((await a.decide({ id: 'race-1', kind: 'payment', at: Date.now(), amount: 1n })).action).toBe('reject');
    // The next poll reads the database as it is now.
    await a.refresh(true);
    expect(a.versions().active).toBe(v2.value.version);
  });

  it('a local list change is not applied again over a later change elsewhere that the poll read', async () => {
    const a = await started(12_000_000n, 60_000);
    const blocker = await db.pool.connect();
    try {
      // Hold the poll up at its first read...
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE risk_rule_sets IN ACCESS EXCLUSIVE MODE');
      const poll = a.refresh(true);
      await new Promise((r) => setTimeout(r, 100));
      // ...while this process black-lists an IP, and another process removes the entry after it.
      const put = await a.putListEntries({ entries: [{ list: 'black', entity: 'ip', value: '7.7.7.7', source: 'test' }] });
      if (!put.ok) throw new Error(put.message);
      await db.pool.query(`UPDATE risk_list_entries SET removed_at = now(), seq = nextval('risk_list_seq'), changed_at = clock_timestamp() WHERE id = $1`, [put.value[0]!.id]);
      await blocker.query('COMMIT');
      await poll;
    } finally {
      blocker.release();
    }
    // The poll read the removal, which is later than the local change: it stands.
    expect(a.lists.lookup('ip', '7.7.7.7', Date.now()).black).toBe(false);
  });

  it('writes the decision log, graph edges and money flows later when the database refused them', async () => {
    const a = await started(9_000_000n, 60_000);
    await db.pool.query('ALTER TABLE risk_decisions RENAME TO risk_decisions_away');
    await db.pool.query('ALTER TABLE risk_graph_edges RENAME TO risk_graph_edges_away');
    try {
      await a.decide({ id: 'lost-1', kind: 'payment', at: Date.now(), amount: 5n, user: 'flush-u1', device: 'flush-d1', payee: 'flush-u2' });
      await a.flush();
    } finally {
      await db.pool.query('ALTER TABLE risk_decisions_away RENAME TO risk_decisions');
      await db.pool.query('ALTER TABLE risk_graph_edges_away RENAME TO risk_graph_edges');
    }
    // A failed flush waits a second before the next (the timer's); force it here.
    await a.flush(true);
    const d = await db.pool.query(`SELECT count(*)::int AS n FROM risk_decisions WHERE event_id = 'lost-1'`);
    expect(d.rows[0].n).toBe(1);
    const e = await db.pool.query(`SELECT count(*)::int AS n FROM risk_graph_edges WHERE user_id = 'flush-u1' AND value = 'flush-d1'`);
    expect(e.rows[0].n).toBe(1);
    const f = await db.pool.query(`SELECT count(*)::int AS n FROM risk_money_flows WHERE payer = 'flush-u1' AND payee = 'flush-u2'`);
    expect(f.rows[0].n).toBe(1);
  });
});

describe('data the database refuses', () => {
  it('a value PostgreSQL cannot store (a NUL character) is dropped from the log and the graph; the rest is written', async () => {
    const a = await started(11_000_000n, 60_000);
    await a.decide({ id: 'nul-1', kind: 'payment', at: Date.now(), amount: 1n, user: 'nul-user', device: 'bad\u0000device' });
    await a.decide({ id: 'nul-2', kind: 'payment', at: Date.now(), amount: 1n, user: 'nul-user', device: 'good-device' });
    await a.flush();
    const d = await db.pool.query(`SELECT event_id FROM risk_decisions WHERE event_id IN ('nul-1', 'nul-2') ORDER BY event_id`);
    expect(d.rows.map((r) => r.event_id)).toEqual(['nul-2']);
    const e = await db.pool.query(`SELECT value FROM risk_graph_edges WHERE user_id = 'nul-user' AND entity = 'device'`);
    expect(e.rows.map((r) => r.value)).toEqual(['good-device']);
    // Nothing is left to jam later flushes.
    await a.decide({ id: 'nul-3', kind: 'payment', at: Date.now(), amount: 1n, user: 'nul-user' });
    await a.flush();
    expect((await db.pool.query(`SELECT 1 FROM risk_decisions WHERE event_id = 'nul-3'`)).rowCount).toBe(1);
  });
});

describe('backtests', () => {
  it('replay a period page by page, in order, through a version', async () => {
    const a = await started(10_000_000n, 60_000);
    const count = await a.uploadRuleSet({ document: { name: 'count', velocity: [{ name: 'card_n', kind: 'count', key: 'card', window: '1h' }], rules: [{ id: 'THIRD', priority: 1, action: 'review', when: 'card_n >= 3', reason: 'third use' }] } });
    if (!count.ok) throw new Error(count.message);
    await a.activate({ version: count.value.version });
    // From now on (the other tests' decisions in this database are earlier).
    await new Promise((r) => setTimeout(r, 5));
    const from = new Date();
    for (let i = 0; i < 25; i++) await a.decide({ id: `bt-${i}`, kind: 'payment', at: Date.now(), amount: 1n, card: `bt-card-${i % 5}` });
    const to = new Date(Date.now() + 1_000);
    // Pages of 4: every event once, in order, so the windows rebuild exactly as they were.
    const r = await a.backtest({ version: count.value.version, from, to, pageSize: 4 });
    if (!r.ok) throw new Error(r.message);
    expect(r.value).toMatchObject({ events: 25, same: 25, changed: 0 });
    expect(r.value.rules['THIRD']).toBe(15);
    const capped = await a.backtest({ version: count.value.version, from, to, pageSize: 4, limit: 10 });
    expect(capped.ok && capped.value.events).toBe(10);
  });
});
