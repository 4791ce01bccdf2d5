/** Operator routes for the accounting side (会计): subjects, day close and vouchers, trial balance, CSV exports. */
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { unwrap } from '../../kernel/errors.js';
import * as acc from '../../modules/ledger/accounting.js';
import type { App, AppDeps } from '../app.js';
import { registerStatuses } from '../errors.js';
import { ErrorSchema, toWire } from '../dto.js';

const op = { auth: 'operator' as const };
const write = { auth: 'operator' as const, role: 'operator' as const };
const security = [{ operatorToken: [] }];
const errors = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema, 422: ErrorSchema };
const DateString = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'business date (YYYY-MM-DD) in the business time zone' });
const Format = Type.Optional(Type.Enum(['json', 'csv'], { default: 'json' }));

const SubjectSchema = Type.Object({ code: Type.String(), name: Type.String(), name_en: Type.String(), type: Type.String(), parent_code: Type.Union([Type.String(), Type.Null()]), active: Type.Boolean(), created_at: Type.String() });
const VoucherSchema = Type.Object({
  id: Type.String(), voucher_no: Type.String(), business_date: Type.String(), currency: Type.String(), time_zone: Type.String(), status: Type.String(),
  total_debit: Type.Integer(), total_credit: Type.Integer(), transfer_count: Type.Integer(), created_at: Type.String(),
  lines: Type.Array(Type.Object({ line_no: Type.Integer(), subject_code: Type.String(), subject_name: Type.String(), debit: Type.Integer(), credit: Type.Integer() })),
});
const Row = Type.Object({
  currency: Type.String(), subject_code: Type.String(), subject_name: Type.String(), subject_type: Type.String(), parent_code: Type.Union([Type.String(), Type.Null()]), normal_side: Type.String(),
  opening_debit: Type.Integer(), opening_credit: Type.Integer(), period_debit: Type.Integer(), period_credit: Type.Integer(), closing_debit: Type.Integer(), closing_credit: Type.Integer(),
  opening_balance: Type.Integer(), closing_balance: Type.Integer(),
});
const Totals = Type.Object({ currency: Type.String(), opening_debit: Type.Integer(), opening_credit: Type.Integer(), period_debit: Type.Integer(), period_credit: Type.Integer(), closing_debit: Type.Integer(), closing_credit: Type.Integer(), balanced: Type.Boolean() });
const TrialBalanceSchema = Type.Object({ date: Type.String(), time_zone: Type.String(), provisional: Type.Boolean(), balanced: Type.Boolean(), rows: Type.Array(Row), totals: Type.Array(Totals) });

registerStatuses(409, ['business_day_not_closed', 'time_zone_mismatch']);
registerStatuses(422, ['unknown_subject', 'subject_type_mismatch', 'invalid_subject', 'subject_not_leaf']);

/** CSV for spreadsheet users: a UTF-8 BOM so Excel shows the Chinese subject names correctly. */
function sendCsv(reply: FastifyReply, name: string, csv: string): FastifyReply {
  return reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${name}"`).send(`\uFEFF${csv}`);
}

export function registerAccountingRoutes(app: App, deps: AppDeps): void {
  const { pool, clock, nextId, businessTimeZone: tz } = deps;

  app.get('/v1/accounting/subjects', {
    config: op,
    schema: { tags: ['accounting'], summary: 'The chart of accounting subjects (会计科目)', security, response: { 200: Type.Object({ data: Type.Array(SubjectSchema) }), ...errors } },
  }, async () => ({ data: toWire(await acc.listSubjects(pool)) as never }));

  app.post('/v1/accounting/subjects', {
    config: write,
    schema: {
      tags: ['accounting'], summary: 'Add a subject (a sub-subject extends its parent code by two digits)', security,
      body: Type.Object({ code: Type.String({ pattern: '^[0-9]{4}([0-9]{2}){0,5}$' }), name: Type.String({ minLength: 1, maxLength: 100 }), name_en: Type.String({ minLength: 1, maxLength: 100 }), type: Type.Enum(['asset', 'liability', 'equity', 'income', 'expense']), parent_code: Type.Optional(Type.String()) }, { additionalProperties: false }),
      response: { 200: SubjectSchema, 201: SubjectSchema, ...errors },
    },
  }, async (req, reply) => {
    const b = req.body;
    const r = unwrap(await acc.createSubject(pool, { code: b.code, name: b.name, nameEn: b.name_en, type: b.type as never, ...(b.parent_code ? { parentCode: b.parent_code } : {}) }, clock));
    return reply.code(r.created ? 201 : 200).send(toWire(r.subject) as never);
  });

  app.post('/v1/accounting/subjects/:code/active', {
    config: write,
    schema: { tags: ['accounting'], summary: 'Activate or deactivate a subject', security, params: Type.Object({ code: Type.String() }), body: Type.Object({ active: Type.Boolean() }, { additionalProperties: false }), response: { 200: SubjectSchema, ...errors } },
  }, async (req) => toWire(unwrap(await acc.setSubjectActive(pool, { code: req.params.code, active: req.body.active }))) as never);

  app.post('/v1/accounting/days/:date/close', {
    config: write,
    schema: {
      tags: ['accounting'], summary: 'Close a business day: generate its vouchers (记账凭证), one per currency; idempotent', security,
      params: Type.Object({ date: DateString }),
      response: { 200: Type.Object({ created: Type.Boolean(), vouchers: Type.Array(VoucherSchema) }), ...errors },
    },
  }, async (req) => {
    const r = unwrap(await acc.generateVouchers(pool, { date: req.params.date, tz, clock, nextId }));
    return { created: r.created, vouchers: toWire(r.vouchers) as never };
  });

  app.get('/v1/accounting/vouchers', {
    config: op,
    schema: {
      tags: ['accounting'], summary: 'Vouchers of one day, or a range of days; format=csv for a CSV export', security,
      querystring: Type.Object({ date: Type.Optional(DateString), from: Type.Optional(DateString), to: Type.Optional(DateString), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })), cursor: Type.Optional(Type.String()), format: Format }),
      response: { 200: Type.Object({ data: Type.Array(VoucherSchema), next_cursor: Type.Union([Type.String(), Type.Null()]) }), ...errors },
    },
  }, async (req, reply) => {
    const q = req.query;
    let vouchers: acc.Voucher[];
    let next: string | null = null;
    if (q.date) vouchers = unwrap(await acc.getVouchers(pool, q.date));
    else {
      const r = unwrap(await acc.listVouchers(pool, { ...(q.from ? { from: q.from } : {}), ...(q.to ? { to: q.to } : {}), ...(q.limit ? { limit: q.limit } : {}), ...(q.cursor ? { cursor: q.cursor } : {}) }));
      vouchers = r.vouchers;
      next = r.nextCursor;
    }
    if (q.format === 'csv') return sendCsv(reply, `vouchers-${q.date ?? 'range'}.csv`, acc.vouchersCsv(vouchers));
    return { data: toWire(vouchers) as never, next_cursor: next };
  });

  app.get('/v1/accounting/trial-balance', {
    config: op,
    schema: {
      tags: ['accounting'], summary: 'Trial balance (试算平衡表) of a business date; provisional while the day is open', security,
      querystring: Type.Object({ date: DateString, format: Format }),
      response: { 200: TrialBalanceSchema, ...errors },
    },
  }, async (req, reply) => {
    const tb = unwrap(await acc.trialBalance(pool, { date: req.query.date, tz, clock, nextId }));
    if (req.query.format === 'csv') return sendCsv(reply, `trial-balance-${req.query.date}.csv`, acc.trialBalanceCsv(tb));
    return toWire(tb) as never;
  });
}
