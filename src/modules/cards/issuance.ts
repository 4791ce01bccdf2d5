/**
 * Batch issue of cards into stock (制卡入库): card numbers (product prefix + keyed permutation of
 * the serial + Luhn), sealed under the master key and findable only by keyed hash, and three
 * ledger accounts per card — principal (预付卡余额), promotional bonus and the offline e-cash purse,
 * all liabilities that can never be overdrawn.
 */
import { fail, ok } from '../../kernel/errors.js';
import { Secret } from '../../kernel/secret.js';
import * as store from './cards.store.js';
import type { CardsResult, Ctx } from './context.js';
import { cardNumberFor, cardNumberHash, maskCardNumber, parseCardNumber } from './domain/card-number.js';
import type { Card, CardProduct } from './types.js';

export const MAX_BATCH = 1000;

async function cardAccount(ctx: Ctx, cardId: bigint, kind: 'principal' | 'bonus' | 'purse', p: CardProduct): Promise<CardsResult<bigint>> {
  const subject = kind === 'principal' ? '225102' : kind === 'bonus' ? '225105' : '225106';
  const r = await ctx.ledger.createAccount({
    ref: `card:${cardId}:${kind}`,
    type: 'liability',
    currency: p.currency,
    subjectCode: subject,
    name: `card ${cardId} ${kind}`,
    debitsMustNotExceedCredits: true,
    metadata: { card_id: cardId.toString(), product: p.code },
  });
  return r.ok ? ok(r.value.account.id) : fail(r.code, r.message);
}

export async function issueBatch(ctx: Ctx, inp: { productId: bigint; count: number }): Promise<CardsResult<{ batchId: bigint; cards: Card[] }>> {
  if (!Number.isInteger(inp.count) || inp.count < 1 || inp.count > MAX_BATCH) return fail('batch_too_large', `count must be 1-${MAX_BATCH}`);
  const p = await store.getProduct(ctx.pool, inp.productId);
  if (!p) return fail('product_not_found', `card product ${inp.productId} does not exist`);
  if (p.status !== 'active') return fail('product_suspended', 'the product is suspended');
  const first = await store.reserveSerials(ctx.pool, p.id, inp.count);
  const batchId = ctx.nextId();
  const now = ctx.clock.now();
  const rows: store.NewCard[] = [];
  for (let i = 0; i < inp.count; i++) {
    const serial = first + BigInt(i);
    const number = cardNumberFor({ prefix: p.binPrefix, length: p.numberLength, serial, key: ctx.numberKey });
    if (!number.ok) return fail(number.code, number.message);
    const id = ctx.nextId();
    const accounts: bigint[] = [];
    for (const kind of ['principal', 'bonus', 'purse'] as const) {
      const a = await cardAccount(ctx, id, kind, p);
      if (!a.ok) return a;
      accounts.push(a.value);
    }
    rows.push({
      id, productId: p.id, serial,
      numberSealed: ctx.masterKey.seal(number.value.reveal(), `card:${id}:number`),
      numberHash: cardNumberHash(number.value, ctx.lookupKey),
      last4: number.value.reveal().slice(-4),
      named: p.named,
      principalAccountId: accounts[0]!, bonusAccountId: accounts[1]!, purseAccountId: accounts[2]!,
      batchId, policyVersion: p.policyVersion, now,
    });
  }
  await store.insertCards(ctx.pool, rows);
  return ok({ batchId, cards: await store.listCards(ctx.pool, { batchId, limit: MAX_BATCH }) });
}

/** The full numbers of a batch, for the card manufacturer. Callers must restrict and audit this. */
export async function batchNumbers(ctx: Ctx, batchId: bigint): Promise<{ cardId: bigint; number: Secret }[]> {
  const rows = await store.sealedNumbersOfBatch(ctx.pool, batchId);
  return rows.map((r) => ({ cardId: r.id, number: new Secret(ctx.masterKey.open(r.sealed, `card:${r.id}:number`).toString('utf8')) }));
}

/** Finds a card by its full number (as typed or read from the card); never logs the number. */
export async function findCardByNumber(ctx: Ctx, raw: string): Promise<CardsResult<Card>> {
  const n = parseCardNumber(raw);
  if (!n.ok) return fail('card_not_found', 'no such card');
  const id = await store.cardIdByHash(ctx.pool, cardNumberHash(n.value, ctx.lookupKey));
  const card = id === undefined ? undefined : await store.getCard(ctx.pool, id);
  return card ? ok(card) : fail('card_not_found', 'no such card');
}

export async function getCard(ctx: Ctx, id: bigint): Promise<CardsResult<Card>> {
  const c = await store.getCard(ctx.pool, id);
  return c ? ok(c) : fail('card_not_found', `card ${id} does not exist`);
}

export function maskedNumber(card: Pick<Card, 'last4'>): string {
  return maskCardNumber(new Secret(`000000000${card.last4}`));
}
