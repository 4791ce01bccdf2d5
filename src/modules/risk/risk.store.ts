/** SQL of the risk module. */
import type { Queryable } from '../../kernel/db.js';
import type { Entity, ListKind } from './domain/ruleset.js';

type Row = Record<string, unknown>;

export type RuleSetStatus = 'draft' | 'active' | 'shadow' | 'retired';

export interface RuleSetRow {
  version: number;
  name: string;
  document: unknown;
  status: RuleSetStatus;
  createdBy: string;
  createdAt: Date;
  activatedAt: Date | null;
}

const toRuleSet = (r: Row): RuleSetRow => ({
  version: r['version'] as number, name: r['name'] as string, document: r['document'], status: r['status'] as RuleSetStatus,
  createdBy: r['created_by'] as string, createdAt: r['created_at'] as Date, activatedAt: (r['activated_at'] as Date | null) ?? null,
});

export async function insertRuleSet(db: Queryable, x: { name: string; document: unknown; createdBy: string; now: Date }): Promise<RuleSetRow> {
  await db.query('LOCK TABLE risk_rule_sets IN SHARE ROW EXCLUSIVE MODE');
  const r = await db.query(
    `INSERT INTO risk_rule_sets (version, name, document, status, created_by, created_at)
     SELECT coalesce(max(version), 0) + 1, $1, $2, 'draft', $3, $4 FROM risk_rule_sets RETURNING *`,
    [x.name, JSON.stringify(x.document), x.createdBy, x.now],
  );
  return toRuleSet(r.rows[0] as Row);
}

export async function getRuleSet(db: Queryable, version: number, lock = false): Promise<RuleSetRow | undefined> {
  const r = await db.query(`SELECT * FROM risk_rule_sets WHERE version = $1${lock ? ' FOR UPDATE' : ''}`, [version]);
  return r.rows[0] ? toRuleSet(r.rows[0] as Row) : undefined;
}

export async function listRuleSets(db: Queryable, limit: number): Promise<RuleSetRow[]> {
  const r = await db.query(`SELECT version, name, 'null'::jsonb AS document, status, created_by, created_at, activated_at FROM risk_rule_sets ORDER BY version DESC LIMIT $1`, [limit]);
  return r.rows.map((x) => toRuleSet(x as Row));
}

/** The live and shadow versions (their numbers only: documents are loaded when they change). */
export async function liveVersions(db: Queryable): Promise<{ active: number | null; shadow: number | null }> {
  const r = await db.query(`SELECT version, status FROM risk_rule_sets WHERE status IN ('active', 'shadow')`, []);
  const out = { active: null as number | null, shadow: null as number | null };
  for (const x of r.rows as Row[]) out[x['status'] as 'active' | 'shadow'] = x['version'] as number;
  return out;
}

export async function setStatus(db: Queryable, version: number, status: RuleSetStatus, now: Date): Promise<void> {
  await db.query(`UPDATE risk_rule_sets SET status = $2, activated_at = CASE WHEN $2 = 'active' THEN $3 ELSE activated_at END WHERE version = $1`, [version, status, now]);
}

export async function retireStatus(db: Queryable, status: 'active' | 'shadow', except: number): Promise<void> {
  await db.query(`UPDATE risk_rule_sets SET status = 'retired' WHERE status = $1 AND version <> $2`, [status, except]);
}

// ---- lists ------------------------------------------------------------------------------------

export interface ListEntryRow {
  id: bigint;
  list: ListKind;
  entity: Entity;
  value: string;
  expiresAt: Date | null;
  source: string;
  reason: string;
  createdBy: string;
  createdAt: Date;
  removedAt: Date | null;
  seq: bigint;
}

const toEntry = (r: Row): ListEntryRow => ({
  id: r['id'] as bigint, list: r['list'] as ListKind, entity: r['entity'] as Entity, value: r['value'] as string, expiresAt: (r['expires_at'] as Date | null) ?? null,
  source: r['source'] as string, reason: r['reason'] as string, createdBy: r['created_by'] as string, createdAt: r['created_at'] as Date, removedAt: (r['removed_at'] as Date | null) ?? null, seq: r['seq'] as bigint,
});

/** Adds entries; an entry already live for the same list, entity and value is updated (expiry, source, reason). */
export async function upsertListEntries(db: Queryable, xs: readonly { id: bigint; list: ListKind; entity: Entity; value: string; expiresAt: Date | null; source: string; reason: string; createdBy: string }[], now: Date): Promise<ListEntryRow[]> {
  if (xs.length === 0) return [];
  const col = <T>(f: (x: (typeof xs)[number]) => T): T[] => xs.map(f);
  const r = await db.query(
    `INSERT INTO risk_list_entries (id, list, entity, value, expires_at, source, reason, created_by, created_at)
     SELECT * , $9::timestamptz FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::text[], $8::text[])
     ON CONFLICT (entity, value, list) WHERE removed_at IS NULL
     DO UPDATE SET expires_at = EXCLUDED.expires_at, source = EXCLUDED.source, reason = EXCLUDED.reason, seq = nextval('risk_list_seq'), changed_at = clock_timestamp()
     RETURNING *`,
    [col((x) => x.id), col((x) => x.list), col((x) => x.entity), col((x) => x.value), col((x) => x.expiresAt), col((x) => x.source), col((x) => x.reason), col((x) => x.createdBy), now],
  );
  return r.rows.map((x) => toEntry(x as Row));
}

export async function removeListEntry(db: Queryable, id: bigint, now: Date): Promise<ListEntryRow | undefined> {
  const r = await db.query(`UPDATE risk_list_entries SET removed_at = $2, seq = nextval('risk_list_seq'), changed_at = clock_timestamp() WHERE id = $1 AND removed_at IS NULL RETURNING *`, [id, now]);
  return r.rows[0] ? toEntry(r.rows[0] as Row) : undefined;
}

export async function listEntries(db: Queryable, f: { list?: ListKind; entity?: Entity; value?: string; afterId?: bigint; limit: number }): Promise<ListEntryRow[]> {
  const r = await db.query(
    `SELECT * FROM risk_list_entries WHERE removed_at IS NULL AND ($1::text IS NULL OR list = $1) AND ($2::text IS NULL OR entity = $2) AND ($3::text IS NULL OR value = $3) AND id > $4 ORDER BY id LIMIT $5`,
    [f.list ?? null, f.entity ?? null, f.value ?? null, f.afterId ?? -1n, f.limit],
  );
  return r.rows.map((x) => toEntry(x as Row));
}

/**
 * How far back changes are read again on every poll. A sequence number is taken when a change is
 * written, not when it commits: a change that commits after a later-numbered one was already read
 * would be skipped by `seq > last` alone. Re-reading the last seconds' changes (applying a change
 * twice is harmless) catches it.
 */
export const OVERLAP = "interval '10 seconds'";

/** Changes (additions, updates, removals) after `seq` — or, `recent`, those of the last seconds up to `seq` — in order. */
export async function listChangesSince(db: Queryable, seq: bigint, limit: number, recent = false): Promise<ListEntryRow[]> {
  const r = await db.query(recent ? `SELECT * FROM risk_list_entries WHERE seq <= $1 AND changed_at > clock_timestamp() - ${OVERLAP} ORDER BY seq LIMIT $2` : `SELECT * FROM risk_list_entries WHERE seq > $1 ORDER BY seq LIMIT $2`, [seq, limit]);
  return r.rows.map((x) => toEntry(x as Row));
}

// ---- decisions --------------------------------------------------------------------------------

export interface DecisionRow {
  id: bigint;
  eventId: string;
  eventKind: string;
  event: Record<string, unknown>;
  at: Date;
  version: number;
  shadow: boolean;
  action: string;
  rule: string | null;
  matched: unknown;
  features: unknown;
  scores: unknown;
  errors: unknown;
  latencyUs: number;
}

const toDecision = (r: Row): DecisionRow => ({
  id: r['id'] as bigint, eventId: r['event_id'] as string, eventKind: r['event_kind'] as string, event: r['event'] as Record<string, unknown>, at: r['at'] as Date,
  version: r['version'] as number, shadow: r['shadow'] as boolean, action: r['action'] as string, rule: (r['rule'] as string | null) ?? null,
  matched: r['matched'], features: r['features'], scores: r['scores'], errors: r['errors'], latencyUs: r['latency_us'] as number,
});

export async function insertDecisions(db: Queryable, xs: readonly DecisionRow[]): Promise<void> {
  if (xs.length === 0) return;
  const col = <T>(f: (x: DecisionRow) => T): T[] => xs.map(f);
  const j = (v: unknown) => JSON.stringify(v);
  // The log is written behind the decisions (see Risk): it waits for no WAL flush of its own.
  await db.query(
    `WITH s AS (SELECT set_config('synchronous_commit', 'off', true))
     INSERT INTO risk_decisions (id, event_id, event_kind, event, at, version, shadow, action, rule, matched, features, scores, errors, latency_us)
     SELECT t.* FROM s, unnest($1::bigint[], $2::text[], $3::text[], $4::jsonb[], $5::timestamptz[], $6::int[], $7::bool[], $8::text[], $9::text[], $10::jsonb[], $11::jsonb[], $12::jsonb[], $13::jsonb[], $14::int[]) AS t
     ON CONFLICT (id) DO NOTHING`,
    [col((x) => x.id), col((x) => x.eventId), col((x) => x.eventKind), col((x) => j(x.event)), col((x) => x.at), col((x) => x.version), col((x) => x.shadow), col((x) => x.action), col((x) => x.rule),
      col((x) => j(x.matched)), col((x) => j(x.features)), col((x) => j(x.scores)), col((x) => j(x.errors)), col((x) => x.latencyUs)],
  );
}

export async function listDecisions(db: Queryable, f: { eventId?: string; action?: string; version?: number; shadow?: boolean; afterId?: bigint; limit: number }): Promise<DecisionRow[]> {
  const r = await db.query(
    `SELECT * FROM risk_decisions WHERE ($1::text IS NULL OR event_id = $1) AND ($2::text IS NULL OR action = $2) AND ($3::int IS NULL OR version = $3)
       AND ($4::bool IS NULL OR shadow = $4) AND ($5::bigint IS NULL OR id < $5) ORDER BY id DESC LIMIT $6`,
    [f.eventId ?? null, f.action ?? null, f.version ?? null, f.shadow ?? null, f.afterId ?? null, f.limit],
  );
  return r.rows.map((x) => toDecision(x as Row));
}

/** The live decisions' events of a period, in time order (what a backtest replays). */
/** A page of the live decisions of [from, to), in order, after the (at, id) of the previous page's last. */
export async function eventsForReplay(db: Queryable, from: Date, to: Date, limit: number, after: { at: Date; id: bigint } | null = null): Promise<DecisionRow[]> {
  const r = after
    ? await db.query(`SELECT * FROM risk_decisions WHERE shadow = false AND (at, id) > ($1, $4) AND at < $2 ORDER BY at, id LIMIT $3`, [after.at, to, limit, after.id])
    : await db.query(`SELECT * FROM risk_decisions WHERE shadow = false AND at >= $1 AND at < $2 ORDER BY at, id LIMIT $3`, [from, to, limit]);
  return r.rows.map((x) => toDecision(x as Row));
}

// ---- cases ------------------------------------------------------------------------------------

export type CaseStatus = 'open' | 'approved' | 'rejected';

export interface CaseRow {
  id: bigint;
  eventId: string;
  subjectKind: string;
  subjectId: string;
  merchant: string | null;
  version: number;
  rule: string | null;
  reason: string;
  event: Record<string, unknown>;
  status: CaseStatus;
  note: string;
  decidedBy: string | null;
  decidedAt: Date | null;
  createdAt: Date;
}

const toCase = (r: Row): CaseRow => ({
  id: r['id'] as bigint, eventId: r['event_id'] as string, subjectKind: r['subject_kind'] as string, subjectId: r['subject_id'] as string, merchant: (r['merchant'] as string | null) ?? null,
  version: r['version'] as number, rule: (r['rule'] as string | null) ?? null, reason: r['reason'] as string, event: r['event'] as Record<string, unknown>, status: r['status'] as CaseStatus,
  note: r['note'] as string, decidedBy: (r['decided_by'] as string | null) ?? null, decidedAt: (r['decided_at'] as Date | null) ?? null, createdAt: r['created_at'] as Date,
});

/** Opens a case for an event (once: a repeat returns the existing case). */
export async function openCase(db: Queryable, x: Omit<CaseRow, 'status' | 'note' | 'decidedBy' | 'decidedAt'>): Promise<CaseRow> {
  const r = await db.query(
    `INSERT INTO risk_cases (id, event_id, subject_kind, subject_id, merchant, version, rule, reason, event, status, created_at)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,'open',$10) ON CONFLICT (event_id) DO NOTHING RETURNING *`,
    [x.id, x.eventId, x.subjectKind, x.subjectId, x.merchant, x.version, x.rule, x.reason, JSON.stringify(x.event), x.createdAt],
  );
  if (r.rows[0]) return toCase(r.rows[0] as Row);
  return toCase((await db.query(`SELECT * FROM risk_cases WHERE event_id = $1`, [x.eventId])).rows[0] as Row);
}

export async function getCase(db: Queryable, id: bigint, lock = false): Promise<CaseRow | undefined> {
  const r = await db.query(`SELECT * FROM risk_cases WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]);
  return r.rows[0] ? toCase(r.rows[0] as Row) : undefined;
}

export async function listCases(db: Queryable, f: { status?: CaseStatus; afterId?: bigint; limit: number }): Promise<CaseRow[]> {
  const r = await db.query(`SELECT * FROM risk_cases WHERE ($1::text IS NULL OR status = $1) AND id > $2 ORDER BY id LIMIT $3`, [f.status ?? null, f.afterId ?? -1n, f.limit]);
  return r.rows.map((x) => toCase(x as Row));
}

export async function closeCase(db: Queryable, id: bigint, status: 'approved' | 'rejected', by: string, note: string, now: Date): Promise<CaseRow | undefined> {
  const r = await db.query(`UPDATE risk_cases SET status = $2, decided_by = $3, note = $4, decided_at = $5 WHERE id = $1 AND status = 'open' RETURNING *`, [id, status, by, note, now]);
  return r.rows[0] ? toCase(r.rows[0] as Row) : undefined;
}

// ---- merchant breakers and the audit trail -----------------------------------------------------

export interface BreakerRow {
  merchant: string;
  state: 'tripped' | 'released';
  mode: 'hold' | 'refuse';
  score: number | null;
  reason: string;
  trippedAt: Date;
  releasedAt: Date | null;
  releasedBy: string | null;
}

const toBreaker = (r: Row): BreakerRow => ({
  merchant: r['merchant'] as string, state: r['state'] as BreakerRow['state'], mode: r['mode'] as BreakerRow['mode'], score: (r['score'] as number | null) ?? null, reason: r['reason'] as string,
  trippedAt: r['tripped_at'] as Date, releasedAt: (r['released_at'] as Date | null) ?? null, releasedBy: (r['released_by'] as string | null) ?? null,
});

/** Trips a merchant's breaker unless it is tripped already; answers the row when this call tripped it. */
/**
 * Trips a merchant's breaker unless it is tripped already — or, with `releasedBefore` (automatic
 * trips), unless it was released after that time (its re-arm period); answers the row when this
 * call tripped it.
 */
export async function tripBreaker(db: Queryable, x: { merchant: string; mode: 'hold' | 'refuse'; score: number | null; reason: string; now: Date; releasedBefore: Date | null }): Promise<BreakerRow | undefined> {
  const r = await db.query(
    `INSERT INTO risk_merchant_breakers (merchant, state, mode, score, reason, tripped_at) VALUES ($1, 'tripped', $2, $3, $4, $5)
     ON CONFLICT (merchant) DO UPDATE SET state = 'tripped', mode = EXCLUDED.mode, score = EXCLUDED.score, reason = EXCLUDED.reason, tripped_at = EXCLUDED.tripped_at, released_at = NULL, released_by = NULL
       WHERE risk_merchant_breakers.state = 'released' AND ($6::timestamptz IS NULL OR risk_merchant_breakers.released_at IS NULL OR risk_merchant_breakers.released_at <= $6::timestamptz)
     RETURNING *`,
    [x.merchant, x.mode, x.score, x.reason, x.now, x.releasedBefore],
  );
  return r.rows[0] ? toBreaker(r.rows[0] as Row) : undefined;
}

export async function releaseBreaker(db: Queryable, merchant: string, by: string, now: Date): Promise<BreakerRow | undefined> {
  const r = await db.query(`UPDATE risk_merchant_breakers SET state = 'released', released_at = $2, released_by = $3 WHERE merchant = $1 AND state = 'tripped' RETURNING *`, [merchant, now, by]);
  return r.rows[0] ? toBreaker(r.rows[0] as Row) : undefined;
}

/** Tripped breakers, and those released since `releasedSince` (still in their re-arm period). */
export async function currentBreakers(db: Queryable, releasedSince: Date): Promise<BreakerRow[]> {
  const r = await db.query(`SELECT * FROM risk_merchant_breakers WHERE state = 'tripped' OR released_at > $1`, [releasedSince]);
  return r.rows.map((x) => toBreaker(x as Row));
}

export async function listBreakers(db: Queryable): Promise<BreakerRow[]> {
  const r = await db.query(`SELECT * FROM risk_merchant_breakers ORDER BY tripped_at DESC LIMIT 500`, []);
  return r.rows.map((x) => toBreaker(x as Row));
}

export async function audit(db: Queryable, x: { id: bigint; kind: string; subject: string; details: Record<string, unknown>; actor: string; now: Date }): Promise<void> {
  await db.query(`INSERT INTO risk_audit (id, kind, subject, details, actor, created_at) VALUES ($1,$2,$3,$4,$5,$6)`, [x.id, x.kind, x.subject, JSON.stringify(x.details), x.actor, x.now]);
}

export async function auditOf(db: Queryable, subject: string): Promise<{ kind: string; details: unknown; actor: string; createdAt: Date }[]> {
  const r = await db.query(`SELECT kind, details, actor, created_at FROM risk_audit WHERE subject = $1 ORDER BY created_at, id`, [subject]);
  return r.rows.map((x: Row) => ({ kind: x['kind'] as string, details: x['details'], actor: x['actor'] as string, createdAt: x['created_at'] as Date }));
}

// ---- the related-account graph ------------------------------------------------------------------

export async function insertGraphEdges(db: Queryable, xs: readonly { user: string; entity: string; value: string }[]): Promise<void> {
  if (xs.length === 0) return;
  await db.query(
    `WITH s AS (SELECT set_config('synchronous_commit', 'off', true))
     INSERT INTO risk_graph_edges (user_id, entity, value) SELECT t.u, t.e, t.v FROM s, unnest($1::text[], $2::text[], $3::text[]) AS t(u, e, v) ON CONFLICT DO NOTHING`,
    [xs.map((x) => x.user), xs.map((x) => x.entity), xs.map((x) => x.value)],
  );
}

export async function insertFlows(db: Queryable, xs: readonly { payer: string; payee: string }[]): Promise<void> {
  if (xs.length === 0) return;
  await db.query(
    `WITH s AS (SELECT set_config('synchronous_commit', 'off', true))
     INSERT INTO risk_money_flows (payer, payee) SELECT t.a, t.b FROM s, unnest($1::text[], $2::text[]) AS t(a, b) ON CONFLICT DO NOTHING`,
    [xs.map((x) => x.payer), xs.map((x) => x.payee)],
  );
}

export async function graphEdgesSince(db: Queryable, seq: bigint, limit: number, recent = false): Promise<{ seq: bigint; user: string; entity: string; value: string }[]> {
  const r = await db.query(recent ? `SELECT seq, user_id, entity, value FROM risk_graph_edges WHERE seq <= $1 AND created_at > clock_timestamp() - ${OVERLAP} ORDER BY seq LIMIT $2` : `SELECT seq, user_id, entity, value FROM risk_graph_edges WHERE seq > $1 ORDER BY seq LIMIT $2`, [seq, limit]);
  return r.rows.map((x: Row) => ({ seq: x['seq'] as bigint, user: x['user_id'] as string, entity: x['entity'] as string, value: x['value'] as string }));
}

export async function flowsSince(db: Queryable, seq: bigint, limit: number, recent = false): Promise<{ seq: bigint; payer: string; payee: string }[]> {
  const r = await db.query(recent ? `SELECT seq, payer, payee FROM risk_money_flows WHERE seq <= $1 AND created_at > clock_timestamp() - ${OVERLAP} ORDER BY seq LIMIT $2` : `SELECT seq, payer, payee FROM risk_money_flows WHERE seq > $1 ORDER BY seq LIMIT $2`, [seq, limit]);
  return r.rows.map((x: Row) => ({ seq: x['seq'] as bigint, payer: x['payer'] as string, payee: x['payee'] as string }));
}

export async function insertAlert(db: Queryable, x: { id: bigint; kind: string; subject: string; details: Record<string, unknown>; now: Date }): Promise<void> {
  await db.query(`INSERT INTO risk_alerts (id, kind, subject, details, created_at) VALUES ($1,$2,$3,$4,$5)`, [x.id, x.kind, x.subject, JSON.stringify(x.details), x.now]);
}

export async function listAlerts(db: Queryable, limit: number): Promise<{ id: bigint; kind: string; subject: string; details: unknown; createdAt: Date }[]> {
  const r = await db.query(`SELECT * FROM risk_alerts ORDER BY created_at DESC, id DESC LIMIT $1`, [limit]);
  return r.rows.map((x: Row) => ({ id: x['id'] as bigint, kind: x['kind'] as string, subject: x['subject'] as string, details: x['details'], createdAt: x['created_at'] as Date }));
}
