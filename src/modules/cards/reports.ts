/**
 * Card reports: outstanding prepaid balance (沉淀资金) by product and issuer, the escrow (存管) it
 * requires, dormant cards, and value left on expired cards (potential breakage). Balances come
 * from the ledger (exact, also as of a past instant); the card tables say which accounts to add.
 */
import { businessDayRange } from '../../kernel/clock.js';
import { fail, ok } from '../../kernel/errors.js';
import { csvField } from '../ledger/accounting.js';
import * as store from './cards.store.js';
import type { CardsResult, Ctx } from './context.js';

interface ProductAccounts {
  productId: bigint;
  code: string;
  issuerKind: string;
  issuerMerchantId: bigint | null;
  issuerClass: 'A' | 'B' | 'C';
  cards: number;
  principal: bigint[];
  bonus: bigint[];
  purse: bigint[];
}

/** Accounts of sold cards per product (in-stock cards hold nothing), optionally only some states. */
async function accountsByProduct(ctx: Ctx, statuses?: readonly string[]): Promise<ProductAccounts[]> {
  const r = await ctx.pool.query(
    `SELECT p.id, p.code, p.issuer_kind, p.issuer_merchant_id, p.issuer_class, count(c.id)::int AS cards,
            coalesce(array_agg(c.principal_account_id) FILTER (WHERE c.id IS NOT NULL), '{}') AS principal,
            coalesce(array_agg(c.bonus_account_id) FILTER (WHERE c.id IS NOT NULL), '{}') AS bonus,
            coalesce(array_agg(c.purse_account_id) FILTER (WHERE c.id IS NOT NULL), '{}') AS purse
     FROM card_products p LEFT JOIN cards c ON c.product_id = p.id AND c.status <> 'in_stock' ${statuses ? 'AND c.status = ANY($1::text[])' : ''}
     GROUP BY p.id ORDER BY p.id`,
    statuses ? [statuses] : [],
  );
  return r.rows.map((x: Record<string, unknown>) => ({
    productId: x['id'] as bigint, code: x['code'] as string, issuerKind: x['issuer_kind'] as string,
    issuerMerchantId: (x['issuer_merchant_id'] as bigint | null) ?? null, issuerClass: x['issuer_class'] as 'A' | 'B' | 'C',
    cards: x['cards'] as number, principal: x['principal'] as bigint[], bonus: x['bonus'] as bigint[], purse: x['purse'] as bigint[],
  }));
}

export interface OutstandingRow {
  productId: bigint;
  productCode: string;
  issuerKind: string;
  issuerMerchantId: bigint | null;
  issuerClass: 'A' | 'B' | 'C';
  cards: number;
  principalMinor: bigint;
  purseMinor: bigint;
  /** Holders' money: principal + purse. Bonus is promotional value, not prepaid funds. */
  outstandingMinor: bigint;
  bonusMinor: bigint;
}

export async function outstanding(ctx: Ctx, at?: Date): Promise<OutstandingRow[]> {
  const out: OutstandingRow[] = [];
  for (const p of await accountsByProduct(ctx)) {
    const [principal, purse, bonus] = await Promise.all([ctx.ledger.sumBalances(p.principal, at), ctx.ledger.sumBalances(p.purse, at), ctx.ledger.sumBalances(p.bonus, at)]);
    out.push({ productId: p.productId, productCode: p.code, issuerKind: p.issuerKind, issuerMerchantId: p.issuerMerchantId, issuerClass: p.issuerClass, cards: p.cards, principalMinor: principal, purseMinor: purse, outstandingMinor: principal + purse, bonusMinor: bonus });
  }
  return out;
}

/** Default escrow ratios by issuer class, in basis points (20% / 30% / 40%). */
export const DEFAULT_ESCROW_BPS: Readonly<Record<'A' | 'B' | 'C', number>> = { A: 2000, B: 3000, C: 4000 };

export interface EscrowRow extends OutstandingRow {
  ratioBps: number;
  requiredEscrowMinor: bigint;
}

/** The end of a quarter "YYYYQn" in the business time zone, i.e. the start of the next quarter's first day. */
export function quarterEnd(quarter: string, tz: string): Date | undefined {
  const m = /^(\d{4})Q([1-4])$/.exec(quarter);
  if (!m) return undefined;
  const y = Number(m[1]);
  const q = Number(m[2]);
  const next = q === 4 ? `${y + 1}-01-01` : `${y}-${String(q * 3 + 1).padStart(2, '0')}-01`;
  return businessDayRange(next, tz).start;
}

/**
 * Required escrow: the issuer class's share of the outstanding balance at the end of the quarter
 * (上一季度末预收资金余额), rounded up to the fen so the requirement is never understated.
 */
export async function escrow(ctx: Ctx, inp: { quarter: string; ratios?: Partial<Record<'A' | 'B' | 'C', number>> }): Promise<CardsResult<{ quarterEnd: Date; rows: EscrowRow[] }>> {
  const end = quarterEnd(inp.quarter, ctx.businessTimeZone);
  if (!end) return fail('invalid_request', 'quarter must look like 2026Q3');
  if (end.getTime() > ctx.clock.nowMs()) return fail('invalid_request', 'that quarter has not ended yet');
  const ratios = { ...DEFAULT_ESCROW_BPS, ...inp.ratios };
  for (const v of Object.values(ratios)) if (!Number.isInteger(v) || v < 0 || v > 10_000) return fail('invalid_request', 'ratios are basis points 0-10000');
  const rows = (await outstanding(ctx, end)).map((r) => {
    const bps = BigInt(ratios[r.issuerClass]);
    return { ...r, ratioBps: Number(bps), requiredEscrowMinor: (r.outstandingMinor * bps + 9999n) / 10_000n };
  });
  return ok({ quarterEnd: end, rows });
}

export interface DormantRow {
  productId: bigint;
  productCode: string;
  dormantCards: number;
  valueMinor: bigint;
}

/** Active cards with no transaction for `days` days (sale counts), and the value they hold. */
export async function dormant(ctx: Ctx, days: number): Promise<CardsResult<DormantRow[]>> {
  if (!Number.isInteger(days) || days < 1 || days > 3650) return fail('invalid_request', 'days must be 1-3650');
  const since = new Date(ctx.clock.nowMs() - days * 86_400_000);
  const r = await ctx.pool.query(
    `SELECT p.id, p.code, count(c.id)::int AS n, coalesce(array_agg(c.principal_account_id) FILTER (WHERE c.id IS NOT NULL), '{}') AS principal,
            coalesce(array_agg(c.bonus_account_id) FILTER (WHERE c.id IS NOT NULL), '{}') AS bonus
     FROM card_products p LEFT JOIN cards c ON c.product_id = p.id AND c.status = 'active'
       AND NOT EXISTS (SELECT 1 FROM card_transactions t WHERE t.card_id = c.id AND t.created_at >= $1)
     GROUP BY p.id ORDER BY p.id`,
    [since],
  );
  const rows: DormantRow[] = [];
  for (const x of r.rows as Record<string, unknown>[]) {
    const value = (await ctx.ledger.sumBalances(x['principal'] as bigint[])) + (await ctx.ledger.sumBalances(x['bonus'] as bigint[]));
    rows.push({ productId: x['id'] as bigint, productCode: x['code'] as string, dormantCards: x['n'] as number, valueMinor: value });
  }
  return ok(rows);
}

export interface BreakageRow {
  productId: bigint;
  productCode: string;
  expiredCards: number;
  /** Value left on expired cards: principal the holder may still reclaim (re-activation or replacement) and bonus. */
  principalMinor: bigint;
  bonusMinor: bigint;
  /** Breakage already recognised as income: promotional bonus forfeited when it expired. */
  recognisedMinor: bigint;
}

/**
 * Breakage by product: the exposure — value on expired cards, which is not income while the
 * holder may still re-activate or replace the card (the rules keep that right open) — and what was
 * recognised as income, the promotional bonus forfeited at its own expiry.
 */
export async function breakage(ctx: Ctx): Promise<BreakageRow[]> {
  const rows: BreakageRow[] = [];
  const recognised = await store.breakageRecognisedByProduct(ctx.pool);
  for (const p of await accountsByProduct(ctx, ['expired'])) {
    rows.push({
      productId: p.productId, productCode: p.code, expiredCards: p.cards, principalMinor: await ctx.ledger.sumBalances(p.principal),
      bonusMinor: await ctx.ledger.sumBalances(p.bonus), recognisedMinor: recognised.get(p.productId) ?? 0n,
    });
  }
  return rows;
}

/** CSV with a header from the first row's keys (snake_case), amounts as integer minor units. */
export function reportCsv(rows: readonly Record<string, unknown>[]): string {
  if (rows.length === 0) return '';
  const keys = Object.keys(rows[0]!);
  const head = keys.map((k) => k.replace(/Minor$/, '').replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));
  const cell = (v: unknown): string => (v === null || v === undefined ? '' : v instanceof Date ? v.toISOString() : csvField(v as string | bigint | number | boolean));
  return [head.join(','), ...rows.map((r) => keys.map((k) => cell(r[k])).join(','))].join('\r\n') + '\r\n';
}

/** Business dates are in the business time zone; exported for the CLI's default quarter. */
export function lastQuarter(now: Date, tz: string): string {
  const d = new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit' }).format(now);
  const [y, m] = d.split('-').map(Number) as [number, number];
  const q = Math.floor((m - 1) / 3) + 1;
  return q === 1 ? `${y - 1}Q4` : `${y}Q${q - 1}`;
}
