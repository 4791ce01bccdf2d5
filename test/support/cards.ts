/**
 * The cards module over a fresh test database (real PostgreSQL, the real ledger and parties), with
 * a verified holder and helpers to make active merchants, products and sold cards.
 */
import type { Clock } from '../../src/kernel/clock.js';
import { createPool, type Pool } from '../../src/kernel/db.js';
import { MasterKey } from '../../src/kernel/secret.js';
import { Cards, type Card, type CardProduct, type CardsDeps } from '../../src/modules/cards/index.js';
import type { CreateProductInput } from '../../src/modules/cards/products.js';
import type { Ledger } from '../../src/modules/ledger/index.js';
import { Parties, sampleResidentId, sampleUscc } from '../../src/modules/parties/index.js';
import { ledgerFixture, type LedgerFixture } from './ledger.js';

export interface CardsFixture {
  f: LedgerFixture;
  /** The ledger the cards module uses (the real one, or the caller's wrapper around it). */
  ledger: Ledger;
  parties: Parties;
  cards: Cards;
  masterKey: MasterKey;
  lockPool: Pool;
  holderId: bigint;
  /** Another Cards instance over the same database, with some dependencies changed (e.g. `authorize`). */
  cardsWith(deps: Partial<CardsDeps>): Cards;
  activeMerchant(): Promise<bigint>;
  /** A product (platform, multi-purpose); `merchants` accept it. */
  product(inp: Pick<CreateProductInput, 'code' | 'binPrefix' | 'named'> & Partial<CreateProductInput>, merchants: readonly bigint[]): Promise<CardProduct>;
  /** A card of the product sold with `amount` loaded (by bank transfer, to the holder if named). */
  soldCard(p: CardProduct, amount: bigint): Promise<Card>;
  close(): Promise<void>;
}

export async function cardsFixture(opts: { clock: Clock; wrapLedger?: (real: Ledger) => Ledger }): Promise<CardsFixture> {
  const f = await ledgerFixture({ clock: opts.clock });
  const ledger = opts.wrapLedger ? opts.wrapLedger(f.ledger) : f.ledger;
  const masterKey = MasterKey.generate();
  const parties = new Parties({ pool: f.db.pool, clock: opts.clock, nextId: f.nextId, ledger: f.ledger, masterKey });
  const lockPool = createPool(f.db.url, { max: 8 });
  const base: CardsDeps = { pool: f.db.pool, lockPool, clock: opts.clock, nextId: f.nextId, ledger, parties, masterKey, businessTimeZone: 'Asia/Shanghai' };
  const instances: Cards[] = [];
  const cardsWith = (deps: Partial<CardsDeps>): Cards => {
    const c = new Cards({ ...base, ...deps });
    instances.push(c);
    return c;
  };
  const cards = cardsWith({});
  let n = 0;
  let sales = 0;
  const holder = await parties.createCustomer({ kind: 'individual', legalName: '持卡人', idType: 'resident_id', idNumber: sampleResidentId(7), realNameLevel: 2 });
  if (!holder.ok) throw new Error(holder.code);
  return {
    f, ledger, parties, cards, masterKey, lockPool, holderId: holder.value.id, cardsWith,
    async activeMerchant() {
      n++;
      const c = await parties.createCustomer({ kind: 'organization', legalName: `商户 ${n}`, idType: 'uscc', idNumber: sampleUscc(n), realNameLevel: 2 });
      if (!c.ok) throw new Error(c.code);
      const m = await parties.createMerchant({ customerId: c.value.id, displayName: `m${n}`, mcc: '5411', settlementCycle: 'T+1' });
      if (!m.ok) throw new Error(m.code);
      const a = await parties.setMerchantStatus({ id: m.value.id, status: 'active', reason: 'test' });
      if (!a.ok) throw new Error(a.code);
      return m.value.id;
    },
    async product(inp, merchants) {
      const p = await cards.createProduct({
        name: inp.code, issuerKind: 'platform', purpose: 'multi', numberLength: 16, rechargeable: true, ...(inp.named ? {} : { validityMonths: 36 }), ...inp,
      });
      if (!p.ok) throw new Error(`${p.code}: ${p.message}`);
      for (const m of merchants) {
        const a = await cards.addAcceptingMerchant({ productId: p.value.product.id, merchantId: m });
        if (!a.ok) throw new Error(a.code);
      }
      return p.value.product;
    },
    async soldCard(p, amount) {
      const b = await cards.issueBatch({ productId: p.id, count: 1 });
      if (!b.ok) throw new Error(b.code);
      const id = b.value.cards[0]!.id;
      const s = await cards.sell({ cardId: id, idempotencyKey: `fixture-sale-${++sales}`, amountMinor: amount, paymentMethod: 'bank_transfer', buyerKind: 'individual', buyerRealName: true, ...(p.named ? { holderCustomerId: holder.value.id } : {}) });
      if (!s.ok) throw new Error(`${s.code}: ${s.message}`);
      const card = await cards.getCard(id);
      if (!card.ok) throw new Error(card.code);
      return card.value;
    },
    async close() {
      for (const c of instances) c.close();
      await lockPool.end();
      await f.close();
    },
  };
}
