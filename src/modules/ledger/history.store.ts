/** Read-side SQL for the ledger: statements, point-in-time balances, transfer search, invariants. */
import { SqlFilter, type Queryable } from '../../kernel/db.js';
import type { Transfer } from './domain/types.js';
import { rowToTransfer, TRANSFER_COLS } from './ledger.store.js';

type Row = Record<string, unknown>;

export interface StatementEntry {
  transfer: Transfer;
  side: 'debit' | 'credit';
  /** Posted balance of this account (normal direction) after the transfer. */
  balanceAfter: bigint;
}

export interface StatementFilter {
  accountId: bigint;
  afterSeq?: bigint;
  from?: Date;
  to?: Date;
  code?: string;
  limit: number;
}

export async function statement(db: Queryable, f: StatementFilter): Promise<StatementEntry[]> {
  const args: unknown[] = [f.accountId, f.afterSeq ?? -1n, f.limit];
  const extra: string[] = [];
  if (f.from) {
    args.push(f.from);
    extra.push(`created_at >= $${args.length}`);
  }
  if (f.to) {
    args.push(f.to);
    extra.push(`created_at < $${args.length}`);
  }
  if (f.code) {
    args.push(f.code);
    extra.push(`code = $${args.length}`);
  }
  const cond = extra.map((e) => ` AND ${e}`).join('');
  // Two index range scans (one per side) merged by seq, instead of an OR that defeats the indexes.
  const r = await db.query(
    `SELECT * FROM (
       (SELECT ${TRANSFER_COLS}, 'debit' AS side FROM transfers WHERE debit_account_id = $1 AND seq > $2${cond} ORDER BY seq LIMIT $3)
       UNION ALL
       (SELECT ${TRANSFER_COLS}, 'credit' AS side FROM transfers WHERE credit_account_id = $1 AND seq > $2${cond} ORDER BY seq LIMIT $3)
     ) x ORDER BY seq LIMIT $3`,
    args,
  );
  return (r.rows as Row[]).map((row) => {
    const t = rowToTransfer(row);
    const side = row['side'] as 'debit' | 'credit';
    return { transfer: t, side, balanceAfter: side === 'debit' ? t.debitBalanceAfter : t.creditBalanceAfter };
  });
}

/** Posted balance of an account as it stood at `at` (0 before its first transfer). */
export async function balanceAt(db: Queryable, accountId: bigint, at: Date): Promise<{ balance: bigint; asOfTransferId: bigint | null }> {
  const r = await db.query(
    `SELECT id, b FROM (
       (SELECT id, seq, debit_balance_after AS b FROM transfers WHERE debit_account_id = $1 AND created_at <= $2 ORDER BY seq DESC LIMIT 1)
       UNION ALL
       (SELECT id, seq, credit_balance_after AS b FROM transfers WHERE credit_account_id = $1 AND created_at <= $2 ORDER BY seq DESC LIMIT 1)
     ) x ORDER BY seq DESC LIMIT 1`,
    [accountId, at],
  );
  const row = r.rows[0] as Row | undefined;
  return row ? { balance: row['b'] as bigint, asOfTransferId: row['id'] as bigint } : { balance: 0n, asOfTransferId: null };
}

/**
 * The sum of the posted balances (normal direction) of `ids` as they stood just before `at` —
 * each account's running balance after its last transfer before then (0 if it had none).
 */
export async function sumBalancesAt(db: Queryable, ids: readonly bigint[], at: Date): Promise<bigint> {
  if (ids.length === 0) return 0n;
  const r = await db.query<{ total: string }>(
    `SELECT coalesce(sum(b), 0)::text AS total FROM (
       SELECT DISTINCT ON (acct) acct, b FROM (
         SELECT debit_account_id AS acct, seq, debit_balance_after AS b FROM transfers WHERE debit_account_id = ANY($1::bigint[]) AND created_at < $2
         UNION ALL
         SELECT credit_account_id, seq, credit_balance_after FROM transfers WHERE credit_account_id = ANY($1::bigint[]) AND created_at < $2
       ) x ORDER BY acct, seq DESC
     ) y`,
    [ids, at],
  );
  return BigInt(r.rows[0]!.total);
}

/** The sum of the current posted balances (normal direction) of `ids`. */
export async function sumBalances(db: Queryable, ids: readonly bigint[]): Promise<bigint> {
  if (ids.length === 0) return 0n;
  const r = await db.query<{ total: string }>(
    `SELECT coalesce(sum(CASE WHEN type IN ('asset', 'expense') THEN debits_posted - credits_posted ELSE credits_posted - debits_posted END), 0)::text AS total
     FROM accounts WHERE id = ANY($1::bigint[])`,
    [ids],
  );
  return BigInt(r.rows[0]!.total);
}

export interface TransferFilter {
  accountId?: bigint;
  code?: string;
  kind?: string;
  from?: Date;
  to?: Date;
  metadata?: Record<string, unknown>;
  pendingId?: bigint;
  afterSeq?: bigint;
  limit: number;
}

export async function findTransfers(db: Queryable, f: TransferFilter): Promise<Transfer[]> {
  const q = new SqlFilter();
  if (f.accountId !== undefined) q.add('(debit_account_id = ? OR credit_account_id = ?)', f.accountId);
  if (f.code !== undefined) q.add('code = ?', f.code);
  if (f.kind !== undefined) q.add('kind = ?', f.kind);
  if (f.from !== undefined) q.add('created_at >= ?', f.from);
  if (f.to !== undefined) q.add('created_at < ?', f.to);
  if (f.metadata !== undefined) q.add('metadata @> ?::jsonb', JSON.stringify(f.metadata));
  if (f.pendingId !== undefined) q.add('pending_id = ?', f.pendingId);
  if (f.afterSeq !== undefined) q.add('seq > ?', f.afterSeq);
  const r = await db.query(`SELECT ${TRANSFER_COLS} FROM transfers ${q.where()} ORDER BY seq LIMIT ${q.param(f.limit)}`, q.args);
  return (r.rows as Row[]).map(rowToTransfer);
}

export async function expiredPendingIds(db: Queryable, now: Date, limit: number): Promise<bigint[]> {
  const r = await db.query(
    `SELECT id FROM transfers WHERE pending_status = 'pending' AND timeout_at <= $1 ORDER BY timeout_at LIMIT $2`,
    [now, limit],
  );
  return (r.rows as Row[]).map((x) => x['id'] as bigint);
}

export interface Violation {
  check: string;
  detail: string;
}

/**
 * Every ledger invariant, as SQL. Each query returns the rows that break it; an empty result
 * for all of them means the ledger is sound.
 */
const INVARIANTS: { check: string; sql: string }[] = [
  {
    check: 'debits_equal_credits_per_currency',
    sql: `SELECT currency, sum(debits_posted) AS dp, sum(credits_posted) AS cp, sum(debits_pending) AS dpe, sum(credits_pending) AS cpe
          FROM accounts GROUP BY currency
          HAVING sum(debits_posted) <> sum(credits_posted) OR sum(debits_pending) <> sum(credits_pending)`,
  },
  {
    check: 'balances_equal_sum_of_postings',
    sql: `WITH mv AS (
            SELECT debit_account_id AS acct,
                   sum(amount) FILTER (WHERE kind IN ('posted', 'post_pending')) AS dpo, 0::numeric AS cpo,
                   sum(amount) FILTER (WHERE kind = 'pending' AND pending_status = 'pending') AS dpe, 0::numeric AS cpe
            FROM transfers GROUP BY debit_account_id
            UNION ALL
            SELECT credit_account_id, 0, sum(amount) FILTER (WHERE kind IN ('posted', 'post_pending')), 0,
                   sum(amount) FILTER (WHERE kind = 'pending' AND pending_status = 'pending')
            FROM transfers GROUP BY credit_account_id
          ), agg AS (
            SELECT acct, coalesce(sum(dpo), 0) AS dpo, coalesce(sum(cpo), 0) AS cpo, coalesce(sum(dpe), 0) AS dpe, coalesce(sum(cpe), 0) AS cpe
            FROM mv GROUP BY acct
          )
          SELECT a.id, a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending,
                 coalesce(g.dpo, 0) AS sum_dpo, coalesce(g.cpo, 0) AS sum_cpo, coalesce(g.dpe, 0) AS sum_dpe, coalesce(g.cpe, 0) AS sum_cpe
          FROM accounts a LEFT JOIN agg g ON g.acct = a.id
          WHERE a.debits_posted <> coalesce(g.dpo, 0) OR a.credits_posted <> coalesce(g.cpo, 0)
             OR a.debits_pending <> coalesce(g.dpe, 0) OR a.credits_pending <> coalesce(g.cpe, 0)`,
  },
  {
    check: 'balance_limits_respected',
    sql: `SELECT id FROM accounts
          WHERE (debits_must_not_exceed_credits AND debits_pending + debits_posted > credits_posted + credit_limit)
             OR (credits_must_not_exceed_debits AND credits_pending + credits_posted > debits_posted + credit_limit)`,
  },
  {
    check: 'transfer_accounts_exist',
    sql: `SELECT t.id FROM transfers t
          WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = t.debit_account_id)
             OR NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = t.credit_account_id)
             OR (t.pending_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM transfers p WHERE p.id = t.pending_id))
             OR (t.reverses_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM transfers o WHERE o.id = t.reverses_id))`,
  },
  {
    check: 'transfer_currency_matches_accounts',
    sql: `SELECT t.id FROM transfers t JOIN accounts d ON d.id = t.debit_account_id JOIN accounts c ON c.id = t.credit_account_id
          WHERE t.currency <> d.currency OR t.currency <> c.currency`,
  },
  {
    check: 'pending_resolved_exactly_once',
    sql: `SELECT p.id, p.pending_status, count(r.id) AS resolutions
          FROM transfers p LEFT JOIN transfers r ON r.pending_id = p.id
          WHERE p.kind = 'pending'
          GROUP BY p.id, p.pending_status, p.posted_amount, p.amount
          HAVING (p.pending_status = 'pending' AND count(r.id) <> 0)
              OR (p.pending_status <> 'pending' AND count(r.id) <> 1)
              OR (p.pending_status = 'posted' AND p.posted_amount <> max(r.amount))
              OR coalesce(max(r.amount), 0) > p.amount`,
  },
  {
    check: 'resolution_matches_pending',
    sql: `SELECT r.id FROM transfers r JOIN transfers p ON p.id = r.pending_id
          WHERE r.debit_account_id <> p.debit_account_id OR r.credit_account_id <> p.credit_account_id
             OR r.currency <> p.currency OR p.kind <> 'pending'
             OR (r.kind = 'post_pending') <> (p.pending_status = 'posted')`,
  },
  {
    check: 'reversals_bounded',
    sql: `SELECT o.id, o.reversed_amount, coalesce(sum(r.amount), 0) AS reversed
          FROM transfers o LEFT JOIN transfers r ON r.reverses_id = o.id
          WHERE o.reversed_amount > 0 OR r.id IS NOT NULL
          GROUP BY o.id, o.reversed_amount, o.amount
          HAVING o.reversed_amount <> coalesce(sum(r.amount), 0) OR o.reversed_amount > o.amount`,
  },
  {
    check: 'latest_balance_after_matches_account',
    sql: `WITH last AS (
            SELECT DISTINCT ON (acct) acct, b FROM (
              SELECT debit_account_id AS acct, seq, debit_balance_after AS b FROM transfers
              UNION ALL SELECT credit_account_id, seq, credit_balance_after FROM transfers
            ) x ORDER BY acct, seq DESC
          )
          SELECT a.id FROM accounts a JOIN last l ON l.acct = a.id
          WHERE l.b <> CASE WHEN a.type IN ('asset', 'expense') THEN a.debits_posted - a.credits_posted ELSE a.credits_posted - a.debits_posted END`,
  },
];

export async function checkInvariants(db: Queryable): Promise<{ violations: Violation[]; checks: string[] }> {
  const violations: Violation[] = [];
  for (const inv of INVARIANTS) {
    const r = await db.query(`${inv.sql} LIMIT 100`);
    for (const row of r.rows as Row[]) {
      violations.push({ check: inv.check, detail: JSON.stringify(row, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) });
    }
  }
  return { violations, checks: INVARIANTS.map((i) => i.check) };
}
