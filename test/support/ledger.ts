/** Builds a real Ledger over a fresh test database (real PostgreSQL, leased worker id). */
import { systemClock, type Clock } from '../../src/kernel/clock.js';
import { acquireWorkerLease, generatorForLease } from '../../src/kernel/worker-lease.js';
import { Ledger, type CreateAccountInput } from '../../src/modules/ledger/index.js';
import { createTestDb, type TestDb } from './db.js';

export interface LedgerFixture {
  db: TestDb;
  ledger: Ledger;
  nextId: () => bigint;
  account(inp: Partial<CreateAccountInput> & { type?: CreateAccountInput['type'] }): Promise<bigint>;
  close(): Promise<void>;
}

const SUBJECT_FOR = { asset: '101101', liability: '225103', equity: '4001', income: '600101', expense: '640101' } as const;

export async function ledgerFixture(opts: { clock?: Clock; poolMax?: number; windowMs?: number } = {}): Promise<LedgerFixture> {
  const db = await createTestDb({ poolMax: opts.poolMax ?? 10 });
  const lease = await acquireWorkerLease(db.pool, { label: 'test' });
  const gen = generatorForLease(lease);
  const nextId = (): bigint => gen.next();
  const ledger = new Ledger({ pool: db.pool, clock: opts.clock ?? systemClock, nextId, batch: { windowMs: opts.windowMs ?? 1 } });
  return {
    db,
    ledger,
    nextId,
    async account(inp) {
      const type = inp.type ?? 'liability';
      const r = await ledger.createAccount({ currency: 'CNY', subjectCode: SUBJECT_FOR[type], ...inp, type });
      if (!r.ok) throw new Error(`${r.code}: ${r.message}`);
      return r.value.account.id;
    },
    async close() {
      await ledger.close();
      await lease.release();
      await db.drop();
    },
  };
}
