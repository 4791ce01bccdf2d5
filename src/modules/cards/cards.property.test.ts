// Proves with random operation sequences on real cards (fast-check, real PostgreSQL and ledger) that no sequence of sales, recharges, consumes, voids, refunds, freezes, loss reports and replacements makes a balance negative, passes the balance limit, or moves money on a terminated card — and that the ledger stays balanced.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../kernel/clock.js';
import { createPool, type Pool } from '../../kernel/db.js';
import { MasterKey } from '../../kernel/secret.js';
import { ledgerFixture, type LedgerFixture } from '../../../test/support/ledger.js';
import { Parties, sampleResidentId, sampleUscc } from '../parties/index.js';
import { Cards, type CardProduct } from './index.js';

type Op =
  | { t: 'recharge'; card: number; amount: number }
  | { t: 'consume'; card: number; amount: number }
  | { t: 'void'; tx: number }
  | { t: 'refund'; tx: number; amount: number }
  | { t: 'event'; card: number; event: 'freeze' | 'unfreeze' | 'report_loss' | 'confirm_loss' | 'cancel_loss_report' }
  | { t: 'replace'; card: number };

const card = fc.nat(5);
const amount = fc.integer({ min: 1, max: 300_00 });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ t: fc.constant('recharge' as const), card, amount: fc.integer({ min: 1, max: 3000_00 }) }),
  fc.record({ t: fc.constant('consume' as const), card, amount }),
  fc.record({ t: fc.constant('void' as const), tx: fc.nat(20) }),
  fc.record({ t: fc.constant('refund' as const), tx: fc.nat(20), amount }),
  fc.record({ t: fc.constant('event' as const), card, event: fc.constantFrom('freeze', 'unfreeze', 'report_loss', 'confirm_loss', 'cancel_loss_report') }),
  fc.record({ t: fc.constant('replace' as const), card }),
);

const clock = new ManualClock(Date.UTC(2026, 10, 22, 3, 0, 0));
let f: LedgerFixture;
let lockPool: Pool;
let cards: Cards;
let merchantId: bigint;
let holderId: bigint;
let product: CardProduct;
let k = 0;

beforeAll(async () => {
  f = await ledgerFixture({ clock });
  lockPool = createPool(f.db.url, { max: 4 });
  const masterKey = MasterKey.generate();
  const parties = new Parties({ pool: f.db.pool, clock, nextId: f.nextId, ledger: f.ledger, masterKey });
  cards = new Cards({ pool: f.db.pool, lockPool, clock, nextId: f.nextId, ledger: f.ledger, parties, masterKey, businessTimeZone: 'Asia/Shanghai' });
  const c = await parties.createCustomer({ kind: 'organization', legalName: '商户', idType: 'uscc', idNumber: sampleUscc(91), realNameLevel: 2 });
  const h = await parties.createCustomer({ kind: 'individual', legalName: '持卡人', idType: 'resident_id', idNumber: sampleResidentId(92), realNameLevel: 2 });
  if (!c.ok || !h.ok) throw new Error('setup');
  holderId = h.value.id;
  const m = await parties.createMerchant({ customerId: c.value.id, displayName: 'm', mcc: '5411', settlementCycle: 'T+1' });
  if (!m.ok) throw new Error(m.code);
  await parties.setMerchantStatus({ id: m.value.id, status: 'active', reason: 't' });
  merchantId = m.value.id;
  const p = await cards.createProduct({ code: 'PROP', name: 'prop', issuerKind: 'platform', purpose: 'multi', named: true, binPrefix: '6100', numberLength: 16, rechargeable: true, bonusRules: [{ minRechargeMinor: 500_00n, bonusMinor: 50_00n }] });
  if (!p.ok) throw new Error(p.code);
  product = p.value.product;
  await cards.addAcceptingMerchant({ productId: product.id, merchantId });
});
afterAll(async () => {
  await lockPool?.end();
  await f.close();
});

describe('cards under random operations', () => {
  it('never overdraws, never passes the limit, never moves money on a terminated card', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 5, maxLength: 25 }), async (ops) => {
        const batch = await cards.issueBatch({ productId: product.id, count: 3 });
        if (!batch.ok) throw new Error(batch.code);
        const ids = batch.value.cards.map((c) => c.id);
        for (const id of ids) {
          const s = await cards.sell({ cardId: id, idempotencyKey: `p${++k}`, amountMinor: 1000_00n, paymentMethod: 'bank_transfer', buyerKind: 'individual', buyerRealName: true, holderCustomerId: holderId });
          if (!s.ok) throw new Error(s.code);
        }
        const consumes: bigint[] = [];
        for (const o of ops) {
          const id = 'card' in o ? ids[o.card % ids.length]! : 0n;
          const before = 'card' in o ? await cards.balance(id) : undefined;
          const terminated = before?.ok && ['replaced', 'closed'].includes(before.value.card.status);
          let r: { ok: boolean; value?: unknown } = { ok: false };
          switch (o.t) {
            case 'recharge':
              r = await cards.recharge({ cardId: id, idempotencyKey: `p${++k}`, amountMinor: BigInt(o.amount), paymentMethod: 'bank_transfer' });
              break;
            case 'consume':
              r = await cards.consume({ cardId: id, idempotencyKey: `p${++k}`, amountMinor: BigInt(o.amount), merchantId });
              if (r.ok) consumes.push((r.value as { id: bigint }).id);
              break;
            case 'void': {
              const tx = consumes[o.tx % Math.max(consumes.length, 1)];
              if (tx !== undefined) {
                const t = await cards.getTransaction(tx);
                if (t.ok) r = await cards.voidConsume({ cardId: t.value.cardId, idempotencyKey: `p${++k}`, transactionId: tx });
              }
              break;
            }
            case 'refund': {
              const tx = consumes[o.tx % Math.max(consumes.length, 1)];
              if (tx !== undefined) r = await cards.refund({ idempotencyKey: `p${++k}`, transactionId: tx, amountMinor: BigInt(o.amount) });
              break;
            }
            case 'event':
              r = await cards.changeState({ cardId: id, event: o.event, reason: 'property' });
              break;
            case 'replace': {
              const rep = await cards.replace({ cardId: id, idempotencyKey: `p${++k}`, paymentMethod: 'cash', reason: 'property' });
              // The replaced card stays in the pool, so later operations keep trying it.
              if (rep.ok) ids.push(rep.value.newCard.id);
              r = rep;
              break;
            }
          }
          // A terminated card neither pays nor is paid into (refunds follow it to its replacement).
          if (terminated && (o.t === 'recharge' || o.t === 'consume')) expect(r.ok).toBe(false);
          if (terminated) {
            const after = await cards.balance(id);
            expect(after.ok && [after.value.principalMinor, after.value.bonusMinor]).toEqual([0n, 0n]);
          }
        }
        for (const id of ids) {
          const b = await cards.balance(id);
          if (!b.ok) throw new Error(b.code);
          expect(b.value.principalMinor >= 0n && b.value.bonusMinor >= 0n).toBe(true);
          expect(b.value.principalMinor <= 5000_00n).toBe(true);
        }
        // Every consume's refunds and voids stay within what was paid.
        for (const tx of consumes) {
          const t = await cards.getTransaction(tx);
          if (t.ok) expect(t.value.refundedAmount <= t.value.amount && !(t.value.voided && t.value.refundedAmount > 0n)).toBe(true);
        }
        expect((await f.ledger.verify()).violations).toEqual([]);
      }),
      { numRuns: 25 },
    );
  }, 240_000);
});
