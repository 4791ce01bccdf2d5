/**
 * Offline electronic cash (脱机): loading value onto the card's purse (圈存) while online, and
 * applying the offline debits terminals upload later — each exactly once per card and ATC, only
 * with a MAC made by that card's key, and posted to the ledger (purse → merchant payable). The
 * purse value lives on the chip, so a loss report does not stop it; a cloned card or leaked key
 * shows up as a conflicting ATC or as uploads beyond the value ever loaded, which the ledger's
 * no-overdraft limit on the purse account refuses.
 */
import { withTx } from '../../kernel/db.js';
import { fail, ok } from '../../kernel/errors.js';
import { postedBalance } from '../ledger/index.js';
import * as store from './cards.store.js';
import { cachedAcceptance, requestHash, serialPerCard, type CardsResult, type Ctx } from './context.js';
import { deriveCardKey, reconcileUpload, type SignedOfflineDebit } from './domain/ecash.js';
import { isTerminated, type CardState } from './domain/lifecycle.js';
import { execute } from './execute.js';
import { hooks } from './operations.js';
import type { CardTransaction } from './types.js';

/** The purse limit of PBOC-style electronic cash (1,000 CNY), also the single-transaction ceiling. */
export const PURSE_LIMIT_MINOR = 1000_00n;

/** The key personalised into the card's chip; only the card and the issuer have it. */
export function purseKey(ctx: Ctx, cardId: bigint): Buffer {
  return deriveCardKey(ctx.ecashKey, cardId.toString());
}

export async function purseLoad(ctx: Ctx, inp: { cardId: bigint; idempotencyKey: string; amountMinor: bigint }): Promise<CardsResult<CardTransaction>> {
  return execute(ctx, hooks, {
    cardId: inp.cardId, key: inp.idempotencyKey, hash: requestHash({ op: 'purse_load', ...inp }), currency: 'CNY',
    plan: async (_c, card) => {
      if (inp.amountMinor <= 0n) return fail('invalid_amount', 'a load must be positive');
      if (card.status !== 'active') return fail(isTerminated(card.status as CardState) ? 'card_terminated' : 'card_not_active', `the card is ${card.status}`);
      if (card.validUntil && card.validUntil.getTime() <= ctx.clock.nowMs()) return fail('card_expired', 'the card has expired');
      const purse = await ctx.ledger.getAccount(card.purseAccountId);
      if (!purse.ok) throw new Error('purse account missing');
      if (postedBalance(purse.value) + purse.value.creditsPending + inp.amountMinor > PURSE_LIMIT_MINOR) {
        return fail('purse_balance_limit_exceeded', `the purse holds at most ${PURSE_LIMIT_MINOR} fen`);
      }
      return ok({
        kind: 'purse_load', amount: inp.amountMinor, principalAmount: inp.amountMinor, policyVersion: card.policyVersion,
        legs: [{ leg: 'load', debitAccountId: card.principalAccountId, creditAccountId: card.purseAccountId, amount: inp.amountMinor, code: 'card_purse_load' }],
      });
    },
  });
}

export interface UploadedRecordResult {
  cardId: string;
  atc: number;
  status: 'applied' | 'duplicate' | 'rejected';
  code?: string;
  message?: string;
}

export interface UploadReport {
  results: UploadedRecordResult[];
  gaps: { cardId: string; fromAtc: number; toAtc: number }[];
  appliedMinor: bigint;
}

/** Applies a terminal's batch of offline debits. Safe to upload again: applied ones come back as duplicates. */
export async function uploadOffline(ctx: Ctx, inp: { merchantId: bigint; terminalId: string; records: readonly SignedOfflineDebit[] }): Promise<CardsResult<UploadReport>> {
  if (inp.records.length === 0 || inp.records.length > 1000) return fail('invalid_request', 'a batch holds 1-1000 records');
  const payee = await ctx.parties.merchantPayee({ merchantId: inp.merchantId });
  if (!payee.ok) return fail('merchant_not_found', `merchant ${inp.merchantId} does not exist`);
  const report: UploadReport = { results: [], gaps: [], appliedMinor: 0n };
  const byCard = new Map<string, SignedOfflineDebit[]>();
  for (const r of inp.records) {
    const list = byCard.get(r.cardId) ?? [];
    list.push(r);
    byCard.set(r.cardId, list);
  }
  for (const [cardKeyId, records] of byCard) {
    const reject = (r: SignedOfflineDebit, code: string, message: string) => report.results.push({ cardId: cardKeyId, atc: r.atc, status: 'rejected', code, message });
    if (!/^[0-9]{1,19}$/.test(cardKeyId)) {
      for (const r of records) reject(r, 'card_not_found', 'no such card');
      continue;
    }
    const cardId = BigInt(cardKeyId);
    await serialPerCard(ctx, cardId, () => withTx(ctx.lockPool, async (c) => {
      const card = await store.getCard(c, cardId, true);
      if (!card) {
        for (const r of records) reject(r, 'card_not_found', 'no such card');
        return;
      }
      const atcs = records.map((r) => r.atc).filter((a) => Number.isInteger(a));
      const appliedRows = await c.query<{ atc: number; mac: string }>('SELECT atc, mac FROM card_offline_debits WHERE card_id = $1 AND atc = ANY($2::int[])', [cardId, atcs]);
      const last = await c.query<{ m: number | null }>('SELECT max(atc) AS m FROM card_offline_debits WHERE card_id = $1', [cardId]);
      const rec = reconcileUpload({
        cardId: cardKeyId, cardKey: purseKey(ctx, cardId), lastAppliedAtc: last.rows[0]?.m ?? 0,
        applied: new Map(appliedRows.rows.map((x) => [x.atc, x.mac])), records,
      });
      for (const d of rec.duplicates) report.results.push({ cardId: cardKeyId, atc: d.record.atc, status: 'duplicate', message: d.reason });
      for (const x of rec.rejected) reject(x.record, x.code, x.message);
      for (const g of rec.gaps) report.gaps.push({ cardId: cardKeyId, ...g });
      // The same merchant checks as an online payment: active, and accepting this card's product.
      const merchantOk = payee.value.merchant.status === 'active' && (await cachedAcceptance(ctx, card.productId, inp.merchantId));
      for (const r of rec.fresh) {
        if (!merchantOk) {
          reject(r, payee.value.merchant.status === 'active' ? 'merchant_not_accepted' : 'merchant_not_active', 'this merchant may not take this card');
          continue;
        }
        if (r.merchantId !== inp.merchantId.toString()) {
          reject(r, 'offline_record_wrong_merchant', 'the record names another merchant than the uploader');
          continue;
        }
        // The ledger key makes the posting exactly-once even if we crash before recording it.
        const t = await ctx.ledger.transfer({
          idempotencyKey: `offline:${cardId}:${r.atc}`, debitAccountId: card.purseAccountId, creditAccountId: payee.value.settlementLedgerAccountId,
          amount: r.amountMinor, currency: 'CNY', code: 'card_offline_debit', metadata: { card_id: cardKeyId, atc: r.atc, terminal_id: r.terminalId },
        });
        if (!t.ok) {
          reject(r, t.code === 'insufficient_funds' ? 'purse_overdrawn' : t.code, t.code === 'insufficient_funds' ? 'more was spent offline than was ever loaded onto this purse' : t.message);
          continue;
        }
        await c.query(
          `INSERT INTO card_offline_debits (card_id, atc, mac, amount, balance_after, merchant_id, terminal_id, occurred_at, uploaded_at, transfer_id)
           VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) ON CONFLICT (card_id, atc) DO NOTHING`,
          [cardId, r.atc, r.mac, r.amountMinor, r.balanceAfterMinor, inp.merchantId, r.terminalId, r.occurredAt, ctx.clock.now(), t.value.transfer.id],
        );
        report.results.push({ cardId: cardKeyId, atc: r.atc, status: 'applied' });
        report.appliedMinor += r.amountMinor;
      }
    }));
  }
  return ok(report);
}
