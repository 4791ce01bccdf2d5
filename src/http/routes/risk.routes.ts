/**
 * Risk engine routes (风控), for operators: rule set versions (upload, activate, shadow, backtest),
 * lists, decisions (and a decide endpoint for systems outside Paycore), cases, merchant breakers.
 */
import { Type } from 'typebox';
import { DomainError, unwrap } from '../../kernel/errors.js';
import type { Risk, RiskEvent } from '../../modules/risk/index.js';
import { ACTIONS, ENTITIES, LIST_KINDS } from '../../modules/risk/domain/ruleset.js';
import { LATE_GRACE_MS } from '../../modules/risk/domain/velocity.js';
import type { App } from '../app.js';
import { registerStatuses } from '../errors.js';
import { ErrorSchema, IdString, Limit, decodeCursor, page, parseId, toWire } from '../dto.js';

const op = { auth: 'operator' as const };
const write = { auth: 'operator' as const, role: 'operator' as const };
const admin = { auth: 'operator' as const, role: 'admin' as const };
const security = [{ operatorToken: [] }];
const tags = ['risk'];
const errors = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema, 422: ErrorSchema };
const Obj = Type.Record(Type.String(), Type.Unknown());
const Version = Type.Object({ version: Type.String({ pattern: '^[0-9]{1,9}$' }) });
const Merchant = Type.Object({ merchant: Type.String({ minLength: 1, maxLength: 200 }) });
const Str = (max: number) => Type.Optional(Type.String({ maxLength: max }));

registerStatuses(400, ['invalid_rule_set', 'invalid_list_entry', 'invalid_backtest', 'invalid_event']);
registerStatuses(409, ['case_already_decided', 'breaker_not_tripped', 'rule_set_is_live']);

export const EventSchema = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 200 }),
  kind: Type.String({ minLength: 1, maxLength: 40 }),
  at: Type.Optional(Type.String({ format: 'date-time', description: 'default: now; at most a minute from now either way' })),
  amount: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
  currency: Str(3), card: Str(200), device: Str(200), ip: Str(64), user: Str(200), phone: Str(32), bank_account: Str(64), merchant: Str(200),
  merchant_mcc: Str(8), category: Str(8), channel: Str(40),
  notify_url_ok: Type.Optional(Type.Boolean()), return_url_ok: Type.Optional(Type.Boolean()), failed: Type.Optional(Type.Boolean()),
  payee: Type.Optional(Type.String({ maxLength: 200, description: 'the user receiving the money, when it is a user' })),
  claimed: Type.Optional(Type.Array(Type.Enum([...ENTITIES]), { maxItems: ENTITIES.length, description: 'values the payer\'s side asserted (e.g. a browser device id): a white-listed one does not skip the rules' })),
}, { additionalProperties: false });

type EventBody = { id: string; kind: string; at?: string; amount: number } & Record<string, unknown>;

export function toRiskEvent(b: EventBody, nowMs: number): RiskEvent {
  const { at, amount, ...rest } = b;
  const t = at ? Date.parse(at) : nowMs;
  // The engine decides the present (backtests replay the past): a minute either way for clocks.
  if (t > nowMs + LATE_GRACE_MS) throw new DomainError('invalid_event', `the event's time is more than ${LATE_GRACE_MS / 1000} s in the future`, { at, now: new Date(nowMs).toISOString() });
  if (t < nowMs - LATE_GRACE_MS) throw new DomainError('invalid_event', `the event's time is more than ${LATE_GRACE_MS / 1000} s in the past (replay the past with POST /v1/risk/backtest)`, { at, now: new Date(nowMs).toISOString() });
  return { ...(rest as Omit<RiskEvent, 'at' | 'amount'>), at: t, amount: BigInt(amount) };
}

const w = (v: unknown): Record<string, unknown> => toWire(v) as Record<string, unknown>;
const actor = (req: { principal?: { kind: string; id?: string } }): string => (req.principal?.kind === 'operator' ? `op:${req.principal.id ?? ''}` : '');

function decisionDto(d: Awaited<ReturnType<Risk['decide']>>) {
  return {
    decision_id: d.decisionId.toString(), version: d.version, action: d.action, rule: d.rule, reason: d.reason, matched: d.matched, scores: d.scores, features: d.features,
    lists: d.lists, errors: d.errors, latency_us: d.latencyUs, case_id: d.caseId?.toString() ?? null, shadow: d.shadow,
  };
}

export function registerRiskRoutes(app: App, deps: { clock: { nowMs(): number } }, risk: Risk): void {
  app.post('/v1/risk/rule-sets', {
    config: admin,
    schema: { tags, summary: 'Upload a rule set version (validated and compiled; a draft until activated)', security, body: Type.Object({ document: Obj }, { additionalProperties: false }), response: { 201: Obj, ...errors } },
  }, async (req, reply) => {
    const r = unwrap(await risk.uploadRuleSet({ document: req.body.document, actor: actor(req) }));
    return reply.code(201).send(w({ ...r, document: undefined }));
  });

  app.get('/v1/risk/rule-sets', { config: op, schema: { tags, summary: 'Rule set versions, newest first', security, response: { 200: Obj, ...errors } } }, async () => ({
    data: (await risk.listRuleSets()).map((r) => w({ ...r, document: undefined })), live: risk.versions(),
  }));

  app.get('/v1/risk/rule-sets/:version', { config: op, schema: { tags, summary: 'A rule set version with its document', security, params: Version, response: { 200: Obj, ...errors } } }, async (req) =>
    w(unwrap(await risk.getRuleSet(Number(req.params.version)))));

  app.post('/v1/risk/rule-sets/:version/activate', { config: admin, schema: { tags, summary: 'Make a version live (hot swap, no restart)', security, params: Version, response: { 200: Obj, ...errors } } }, async (req) =>
    w({ ...unwrap(await risk.activate({ version: Number(req.params.version), actor: actor(req) })), document: undefined }));

  app.post('/v1/risk/rule-sets/:version/shadow', { config: admin, schema: { tags, summary: 'Run a version in shadow mode beside the live one', security, params: Version, response: { 200: Obj, ...errors } } }, async (req) =>
    w({ ...unwrap(await risk.setShadow({ version: Number(req.params.version), actor: actor(req) }))!, document: undefined }));

  app.delete('/v1/risk/shadow', { config: admin, schema: { tags, summary: 'Stop the shadow version', security, response: { 200: Obj, ...errors } } }, async (req) => {
    unwrap(await risk.setShadow({ version: null, actor: actor(req) }));
    return { live: risk.versions() };
  });

  app.post('/v1/risk/backtest', {
    config: op,
    schema: {
      tags, summary: 'Replay the logged events of a period through a version and report the differences', security,
      body: Type.Object({ version: Type.Integer({ minimum: 1 }), from: Type.String({ format: 'date-time' }), to: Type.String({ format: 'date-time' }), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })) }, { additionalProperties: false }),
      response: { 200: Obj, ...errors },
    },
  }, async (req) => unwrap(await risk.backtest({ version: req.body.version, from: new Date(req.body.from), to: new Date(req.body.to), ...(req.body.limit ? { limit: req.body.limit } : {}) })));

  app.post('/v1/risk/decide', {
    config: write,
    schema: {
      tags, summary: 'Decide an event (for systems outside Paycore; payments and cards call the engine themselves)', security,
      body: Type.Object({ event: EventSchema, subject: Type.Optional(Type.Object({ kind: Type.String({ minLength: 1, maxLength: 40 }), id: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false })) }, { additionalProperties: false }),
      response: { 200: Obj, ...errors },
    },
  }, async (req) => decisionDto(await risk.decide(toRiskEvent(req.body.event as EventBody, deps.clock.nowMs()), req.body.subject ? { subject: req.body.subject } : {})));

  app.post('/v1/risk/observe', {
    config: write,
    schema: { tags, summary: 'Count an outcome in the velocity windows without deciding (a failure, a refund)', security, body: Type.Object({ event: EventSchema }, { additionalProperties: false }), response: { 200: Obj, ...errors } },
  }, async (req) => {
    await risk.observe(toRiskEvent(req.body.event as EventBody, deps.clock.nowMs()));
    return { observed: true };
  });

  app.get('/v1/risk/decisions', {
    config: op,
    schema: {
      tags, summary: 'The decision log, newest first (rule-set version, matched rules, features, latency)', security,
      querystring: Type.Object({ event_id: Str(200), action: Type.Optional(Type.Enum([...ACTIONS])), version: Type.Optional(Type.Integer({ minimum: 0 })), shadow: Type.Optional(Type.Boolean()), limit: Limit, cursor: Type.Optional(Type.String()) }),
      response: { 200: Obj, ...errors },
    },
  }, async (req) => {
    await risk.flush();
    const limit = req.query.limit ?? 50;
    const before = decodeCursor(req.query.cursor);
    const rows = await risk.listDecisions({ limit, ...(req.query.event_id ? { eventId: req.query.event_id } : {}), ...(req.query.action ? { action: req.query.action } : {}), ...(req.query.version !== undefined ? { version: req.query.version } : {}), ...(req.query.shadow !== undefined ? { shadow: req.query.shadow } : {}), ...(before !== undefined ? { afterId: before } : {}) });
    const p = page(rows, limit, (x) => x.id);
    return { data: p.data.map((d) => w(d)), next_cursor: p.next_cursor };
  });

  // ---- lists ----
  app.post('/v1/risk/lists', {
    config: write,
    // Up to 100,000 entries of up to ~1 KB each; every other route keeps the 1 MiB limit.
    bodyLimit: 64 * 1024 * 1024,
    schema: {
      tags, summary: 'Add (or update) list entries', security,
      body: Type.Object({ entries: Type.Array(Type.Object({ list: Type.Enum([...LIST_KINDS]), entity: Type.Enum([...ENTITIES]), value: Type.String({ minLength: 1, maxLength: 200 }), expires_at: Type.Optional(Type.String({ format: 'date-time' })), source: Type.String({ minLength: 1, maxLength: 100 }), reason: Str(500) }, { additionalProperties: false }), { minItems: 1, maxItems: 100_000 }) }, { additionalProperties: false }),
      response: { 201: Obj, ...errors },
    },
  }, async (req, reply) => {
    const r = unwrap(await risk.putListEntries({ entries: req.body.entries.map((e) => ({ list: e.list, entity: e.entity, value: e.value, source: e.source, ...(e.reason ? { reason: e.reason } : {}), ...(e.expires_at ? { expiresAt: new Date(e.expires_at) } : {}) })), actor: actor(req) }));
    return reply.code(201).send({ data: r.slice(0, 1000).map((e) => w(e)), count: r.length });
  });

  app.get('/v1/risk/lists', {
    config: op,
    schema: { tags, summary: 'List entries', security, querystring: Type.Object({ list: Type.Optional(Type.Enum([...LIST_KINDS])), entity: Type.Optional(Type.Enum([...ENTITIES])), value: Str(200), limit: Limit, cursor: Type.Optional(Type.String()) }), response: { 200: Obj, ...errors } },
  }, async (req) => {
    const limit = req.query.limit ?? 50;
    const after = decodeCursor(req.query.cursor);
    const rows = await risk.listEntries({ limit, ...(req.query.list ? { list: req.query.list } : {}), ...(req.query.entity ? { entity: req.query.entity } : {}), ...(req.query.value ? { value: req.query.value } : {}), ...(after !== undefined ? { afterId: after } : {}) });
    const p = page(rows, limit, (x) => x.id);
    return { data: p.data.map((e) => w(e)), next_cursor: p.next_cursor };
  });

  app.delete('/v1/risk/lists/:id', { config: write, schema: { tags, summary: 'Remove a list entry', security, params: Type.Object({ id: IdString }), response: { 200: Obj, ...errors } } }, async (req) =>
    w(unwrap(await risk.removeListEntry({ id: parseId(req.params.id) }))));

  // ---- cases ----
  app.get('/v1/risk/cases', {
    config: op,
    schema: { tags, summary: 'The case queue (review decisions)', security, querystring: Type.Object({ status: Type.Optional(Type.Enum(['open', 'approved', 'rejected'])), limit: Limit, cursor: Type.Optional(Type.String()) }), response: { 200: Obj, ...errors } },
  }, async (req) => {
    const limit = req.query.limit ?? 50;
    const after = decodeCursor(req.query.cursor);
    const rows = await risk.listCases({ limit, ...(req.query.status ? { status: req.query.status } : {}), ...(after !== undefined ? { afterId: after } : {}) });
    const p = page(rows, limit, (x) => x.id);
    return { data: p.data.map((c) => w(c)), next_cursor: p.next_cursor };
  });

  app.get('/v1/risk/cases/:id', { config: op, schema: { tags, summary: 'A case', security, params: Type.Object({ id: IdString }), response: { 200: Obj, ...errors } } }, async (req) =>
    w(unwrap(await risk.getCase(parseId(req.params.id)))));

  app.post('/v1/risk/cases/:id/decision', {
    config: write,
    schema: { tags, summary: 'Approve (the held payment proceeds) or reject (it is cancelled) a case', security, params: Type.Object({ id: IdString }), body: Type.Object({ approve: Type.Boolean(), note: Str(1000) }, { additionalProperties: false }), response: { 200: Obj, ...errors } },
  }, async (req) => {
    const who = actor(req);
    if (!who) throw new DomainError('forbidden', 'an operator decides cases');
    return w(unwrap(await risk.decideCase({ id: parseId(req.params.id), approve: req.body.approve, actor: who, ...(req.body.note ? { note: req.body.note } : {}) })));
  });

  app.get('/v1/risk/stats', { config: op, schema: { tags, summary: 'Decisions of this process since start: by action, and latency percentiles (µs, upper bounds within 19 %)', security, response: { 200: Obj, ...errors } } }, async () => ({ ...risk.stats(), live: risk.versions() }));

  // ---- related accounts, alerts ----
  app.get('/v1/risk/graph', {
    config: op,
    schema: { tags, summary: 'The related-account component (关联账户) of a user or a shared value', security, querystring: Type.Object({ entity: Type.Enum([...ENTITIES]), value: Type.String({ minLength: 1, maxLength: 200 }) }), response: { 200: Obj, ...errors } },
  }, async (req) => risk.component(req.query.entity as never, req.query.value));

  app.get('/v1/risk/alerts', { config: op, schema: { tags, summary: 'Risk alerts (funds moving in cycles among related accounts)', security, querystring: Type.Object({ limit: Limit }), response: { 200: Obj, ...errors } } }, async (req) =>
    ({ data: (await risk.listAlerts(req.query.limit ?? 100)).map((a) => w(a)) }));

  // ---- merchant breakers ----
  app.get('/v1/risk/breakers', { config: op, schema: { tags, summary: 'Merchant circuit breakers', security, response: { 200: Obj, ...errors } } }, async () => ({ data: (await risk.listBreakers()).map((b) => w(b)) }));

  app.post('/v1/risk/breakers/:merchant/trip', {
    config: write,
    schema: { tags, summary: 'Trip a merchant\'s breaker by hand', security, params: Merchant, body: Type.Object({ mode: Type.Enum(['hold', 'refuse']), reason: Type.String({ minLength: 1, maxLength: 500 }) }, { additionalProperties: false }), response: { 200: Obj, ...errors } },
  }, async (req) => {
    const r = await risk.trip({ merchant: req.params.merchant, mode: req.body.mode, reason: req.body.reason, actor: actor(req) });
    if (!r) throw new DomainError('breaker_already_tripped', `merchant ${req.params.merchant}'s breaker is already tripped`);
    return w(r);
  });

  app.post('/v1/risk/breakers/:merchant/release', {
    config: write,
    schema: { tags, summary: 'Release a tripped merchant breaker', security, params: Merchant, body: Type.Object({ reason: Str(500) }, { additionalProperties: false }), response: { 200: Obj, ...errors } },
  }, async (req) => w(unwrap(await risk.release({ merchant: req.params.merchant, actor: actor(req), ...(req.body.reason ? { reason: req.body.reason } : {}) }))));

  app.get('/v1/risk/breakers/:merchant/audit', { config: op, schema: { tags, summary: 'Every trip and release of a merchant\'s breaker', security, params: Merchant, response: { 200: Obj, ...errors } } }, async (req) =>
    ({ data: (await risk.auditOf(`merchant:${req.params.merchant}`)).map((a) => w(a)) }));
}

registerStatuses(409, ['breaker_already_tripped']);
