/**
 * Card benchmark: online consume authorizations through the cards module API (card lock, status,
 * acceptance and balance checks, intent record, ledger chain, outcome record) with C concurrent
 * submitters over N sold cards for S seconds. Latency is per authorization. Without
 * --database-url a fresh embedded PostgreSQL is started in a temp dir and removed afterwards.
 */
import { performance } from 'node:perf_hooks';
import { benchDatabase, percentile, round } from './support.js';
import { systemClock } from '../src/kernel/clock.js';
import { createPool } from '../src/kernel/db.js';
import { migrate } from '../src/kernel/migrate.js';
import { MasterKey } from '../src/kernel/secret.js';
import { acquireWorkerLease, generatorForLease } from '../src/kernel/worker-lease.js';
import { Cards } from '../src/modules/cards/index.js';
import { Ledger } from '../src/modules/ledger/index.js';
import { Parties, sampleUscc } from '../src/modules/parties/index.js';

export interface CardsBenchOptions {
  databaseUrl?: string;
  cards: number;
  concurrency: number;
  seconds: number;
}



export async function runCardsBench(o: CardsBenchOptions) {
  if (o.cards < 1 || o.concurrency < 1 || o.seconds < 1) throw new Error('need cards >= 1, concurrency >= 1, seconds >= 1');
  const db = await benchDatabase(o.databaseUrl);
  const url = db.url;
  const pool = createPool(url, { max: 20 });
  const lockPool = createPool(url, { max: 16 });
  try {
    await migrate(pool);
    const lease = await acquireWorkerLease(pool, { label: 'bench-cards' });
    const gen = generatorForLease(lease);
    const nextId = (): bigint => gen.next();
    const ledger = new Ledger({ pool, clock: systemClock, nextId });
    const masterKey = MasterKey.generate();
    const parties = new Parties({ pool, clock: systemClock, nextId, ledger, masterKey });
    const cards = new Cards({ pool, lockPool, clock: systemClock, nextId, ledger, parties, masterKey, businessTimeZone: 'Asia/Shanghai' });
    const run = nextId().toString(36);
    const c = await parties.createCustomer({ kind: 'organization', legalName: `bench ${run}`, idType: 'uscc', idNumber: sampleUscc(Number(BigInt(run.length) + (nextId() % 100000n))), realNameLevel: 2 });
    if (!c.ok) throw new Error(c.code);
    const m = await parties.createMerchant({ customerId: c.value.id, displayName: 'bench', mcc: '5411', settlementCycle: 'T+1' });
    if (!m.ok) throw new Error(m.code);
    await parties.setMerchantStatus({ id: m.value.id, status: 'active', reason: 'bench' });
    const prefix = String(7000 + Number(nextId() % 999n));
    const p = await cards.createProduct({ code: `BENCH-${run}`, name: 'bench', issuerKind: 'platform', purpose: 'multi', named: false, binPrefix: prefix, numberLength: 16, rechargeable: true, validityMonths: 36 });
    if (!p.ok) throw new Error(`${p.code}: ${p.message}`);
    await cards.addAcceptingMerchant({ productId: p.value.product.id, merchantId: m.value.id });
    const ids: bigint[] = [];
    for (let left = o.cards; left > 0; left -= 1000) {
      const b = await cards.issueBatch({ productId: p.value.product.id, count: Math.min(1000, left) });
      if (!b.ok) throw new Error(b.code);
      ids.push(...b.value.cards.map((x) => x.id));
    }
    await Promise.all(ids.map((id, i) => cards.sell({ cardId: id, idempotencyKey: `bench-${run}-sell-${i}`, amountMinor: 1000_00n, paymentMethod: 'bank_transfer', buyerKind: 'individual', buyerRealName: true })));
    const latencies: number[] = [];
    let ok = 0;
    let refused = 0;
    let seq = 0;
    const started = performance.now();
    const deadline = started + o.seconds * 1000;
    await Promise.all(Array.from({ length: o.concurrency }, async () => {
      while (performance.now() < deadline) {
        const card = ids[Math.floor(Math.random() * ids.length)]!;
        const t0 = performance.now();
        const r = await cards.consume({ cardId: card, idempotencyKey: `bench-${run}-${seq++}`, amountMinor: BigInt(1 + Math.floor(Math.random() * 100)), merchantId: m.value.id });
        latencies.push(performance.now() - t0);
        if (r.ok) ok++;
        else refused++;
      }
    }));
    const elapsed = (performance.now() - started) / 1000;
    await ledger.close();
    const v = await ledger.verify();
    await lease.release();
    latencies.sort((a, b) => a - b);
    return { bench: 'cards' as const, consumes_per_s: Math.round(ok / elapsed), p50_ms: round(percentile(latencies, 50)), p99_ms: round(percentile(latencies, 99)), cards: o.cards, concurrency: o.concurrency, seconds: round(elapsed), consumes: ok, refused, verified: v.violations.length === 0 };
  } finally {
    await lockPool.end();
    await pool.end();
    await db.close();
  }
}
