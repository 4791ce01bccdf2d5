/** SQL of the channels module: channel accounts, routing rules, and today's volume per account. */
import type { Queryable } from '../../kernel/db.js';
import type { ChannelProvider, PayMethod } from './adapter.js';
import type { ChannelAccountView, MaintenanceWindow, RoutingRule } from './domain/routing.js';

type Row = Record<string, unknown>;

export interface ChannelAccountRow extends ChannelAccountView {
  configSealed: string;
  receivableAccountId: bigint;
  costAccountId: bigint;
  createdAt: Date;
  updatedAt: Date;
}

const COLS = `id, code, provider, mode, merchant_id, config_sealed, methods, currencies, fee_bps, fee_fixed, fee_min, fee_max, per_tx_min, per_tx_max,
  daily_limit, bank_limits, maintenance, priority, status, receivable_account_id, cost_account_id, created_at, updated_at`;

function toAccount(r: Row): ChannelAccountRow {
  const limits = r['bank_limits'] as Record<string, string>;
  const windows = (r['maintenance'] as Record<string, unknown>[]).map((w): MaintenanceWindow =>
    w['kind'] === 'once' ? { kind: 'once', from: new Date(w['from'] as string), to: new Date(w['to'] as string) } : (w as unknown as MaintenanceWindow),
  );
  return {
    id: r['id'] as bigint,
    code: r['code'] as string,
    provider: r['provider'] as ChannelProvider,
    mode: r['mode'] as 'direct' | 'aggregated',
    merchantId: (r['merchant_id'] as bigint | null) ?? null,
    configSealed: r['config_sealed'] as string,
    methods: r['methods'] as PayMethod[],
    currencies: r['currencies'] as string[],
    fee: { bps: r['fee_bps'] as number, fixedMinor: r['fee_fixed'] as bigint, minMinor: r['fee_min'] as bigint, maxMinor: (r['fee_max'] as bigint | null) ?? null },
    perTxMinMinor: r['per_tx_min'] as bigint,
    perTxMaxMinor: (r['per_tx_max'] as bigint | null) ?? null,
    dailyLimitMinor: (r['daily_limit'] as bigint | null) ?? null,
    bankLimits: Object.fromEntries(Object.entries(limits).map(([k, v]) => [k, BigInt(v)])),
    maintenance: windows,
    priority: r['priority'] as number,
    status: r['status'] as 'active' | 'disabled',
    receivableAccountId: r['receivable_account_id'] as bigint,
    costAccountId: r['cost_account_id'] as bigint,
    createdAt: r['created_at'] as Date,
    updatedAt: r['updated_at'] as Date,
  };
}

export async function insertAccount(db: Queryable, a: ChannelAccountRow): Promise<{ account: ChannelAccountRow; inserted: boolean }> {
  const r = await db.query(
    `INSERT INTO channel_accounts (id, code, provider, mode, merchant_id, config_sealed, methods, currencies, fee_bps, fee_fixed, fee_min, fee_max,
       per_tx_min, per_tx_max, daily_limit, bank_limits, maintenance, priority, status, receivable_account_id, cost_account_id, created_at, updated_at)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$22)
     ON CONFLICT (code) DO NOTHING RETURNING ${COLS}`,
    [
      a.id, a.code, a.provider, a.mode, a.merchantId, a.configSealed, a.methods, a.currencies, a.fee.bps, a.fee.fixedMinor, a.fee.minMinor, a.fee.maxMinor,
      a.perTxMinMinor, a.perTxMaxMinor, a.dailyLimitMinor, JSON.stringify(Object.fromEntries(Object.entries(a.bankLimits).map(([k, v]) => [k, v.toString()]))),
      JSON.stringify(a.maintenance), a.priority, a.status, a.receivableAccountId, a.costAccountId, a.createdAt,
    ],
  );
  if (r.rows[0]) return { account: toAccount(r.rows[0] as Row), inserted: true };
  return { account: (await getAccountByCode(db, a.code))!, inserted: false };
}

export async function getAccount(db: Queryable, id: bigint): Promise<ChannelAccountRow | undefined> {
  const r = await db.query(`SELECT ${COLS} FROM channel_accounts WHERE id = $1`, [id]);
  return r.rows[0] ? toAccount(r.rows[0] as Row) : undefined;
}

export async function getAccountByCode(db: Queryable, code: string): Promise<ChannelAccountRow | undefined> {
  const r = await db.query(`SELECT ${COLS} FROM channel_accounts WHERE code = $1`, [code]);
  return r.rows[0] ? toAccount(r.rows[0] as Row) : undefined;
}

export async function listAccounts(db: Queryable): Promise<ChannelAccountRow[]> {
  const r = await db.query(`SELECT ${COLS} FROM channel_accounts ORDER BY id LIMIT 1000`);
  return r.rows.map((x) => toAccount(x as Row));
}

export async function setStatus(db: Queryable, id: bigint, status: 'active' | 'disabled', now: Date): Promise<ChannelAccountRow | undefined> {
  const r = await db.query(`UPDATE channel_accounts SET status = $2, updated_at = $3 WHERE id = $1 RETURNING ${COLS}`, [id, status, now]);
  return r.rows[0] ? toAccount(r.rows[0] as Row) : undefined;
}

export async function setMaintenance(db: Queryable, id: bigint, windows: MaintenanceWindow[], now: Date): Promise<ChannelAccountRow | undefined> {
  const r = await db.query(`UPDATE channel_accounts SET maintenance = $2, updated_at = $3 WHERE id = $1 RETURNING ${COLS}`, [id, JSON.stringify(windows), now]);
  return r.rows[0] ? toAccount(r.rows[0] as Row) : undefined;
}

// ---- routing rules ----------------------------------------------------------------------------

function jsonBig(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
}

function toRule(r: Row): RoutingRule {
  const m = r['match'] as Record<string, unknown>;
  const a = r['action'] as Record<string, unknown>;
  const ids = (v: unknown): bigint[] | undefined => (Array.isArray(v) ? v.map((x) => BigInt(x as string)) : undefined);
  const big = (v: unknown): bigint | undefined => (v === undefined || v === null ? undefined : BigInt(v as string));
  const match: RoutingRule['match'] = {};
  if (ids(m['merchantIds'])) match.merchantIds = ids(m['merchantIds'])!;
  if (Array.isArray(m['methods'])) match.methods = m['methods'] as PayMethod[];
  if (big(m['minAmountMinor']) !== undefined) match.minAmountMinor = big(m['minAmountMinor'])!;
  if (big(m['maxAmountMinor']) !== undefined) match.maxAmountMinor = big(m['maxAmountMinor'])!;
  const action: RoutingRule['action'] = {};
  if (ids(a['prefer'])) action.prefer = ids(a['prefer'])!;
  if (ids(a['exclude'])) action.exclude = ids(a['exclude'])!;
  if (typeof a['strategy'] === 'string') action.strategy = a['strategy'] as 'cost' | 'success_rate' | 'priority';
  return { id: r['id'] as string, priority: r['priority'] as number, match, action };
}

export async function listRules(db: Queryable): Promise<RoutingRule[]> {
  const r = await db.query('SELECT id, priority, match, action FROM routing_rules WHERE enabled ORDER BY priority, id');
  return r.rows.map((x) => toRule(x as Row));
}

export async function upsertRule(db: Queryable, rule: RoutingRule, now: Date): Promise<void> {
  await db.query(
    `INSERT INTO routing_rules (id, priority, match, action, enabled, updated_at) VALUES ($1, $2, $3, $4, true, $5)
     ON CONFLICT (id) DO UPDATE SET priority = EXCLUDED.priority, match = EXCLUDED.match, action = EXCLUDED.action, enabled = true, updated_at = EXCLUDED.updated_at`,
    [rule.id, rule.priority, jsonBig(rule.match), jsonBig(rule.action), now],
  );
}

export async function deleteRule(db: Queryable, id: string): Promise<boolean> {
  const r = await db.query('DELETE FROM routing_rules WHERE id = $1', [id]);
  return (r.rowCount ?? 0) > 0;
}
