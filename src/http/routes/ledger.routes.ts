/** Operator routes for accounts, transfers, holds, statements and ledger verification. */
import { Type } from 'typebox';
import { DomainError, unwrap } from '../../kernel/errors.js';
import type { App, AppDeps } from '../app.js';
import { ErrorSchema, IdString, Limit, amt, decodeCursor, listOf, optId, page, parseId, parseTime, statementRange, Amount } from '../dto.js';
import {
  AccountSchema, AccountStatusSchema, CreateAccountBody, OutcomeSchema, StatementEntrySchema, TransferBody, TransferSchema,
  accountDto, outcomeDto, statementDto, toTransferRequest, transferDto, type TransferBodyT,
} from './ledger.schemas.js';

const op = { auth: 'operator' as const };
const write = { auth: 'operator' as const, role: 'operator' as const };
const security = [{ operatorToken: [] }];
const errors = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema, 422: ErrorSchema };
const IdParams = Type.Object({ id: IdString });

export function registerLedgerRoutes(app: App, deps: AppDeps): void {
  const { ledger } = deps;

  app.post('/v1/accounts', {
    config: write,
    schema: { tags: ['ledger'], summary: 'Create a ledger account (idempotent by ref)', security, body: CreateAccountBody, response: { 200: AccountSchema, 201: AccountSchema, ...errors } },
  }, async (req, reply) => {
    const b = req.body;
    const r = unwrap(await ledger.createAccount({
      type: b.type as never,
      currency: b.currency,
      subjectCode: b.subject_code,
      ...(b.ref !== undefined ? { ref: b.ref } : {}),
      ...(b.owner_id !== undefined ? { ownerId: parseId(b.owner_id, 'owner_id') } : {}),
      ...(b.name !== undefined ? { name: b.name } : {}),
      debitsMustNotExceedCredits: b.debits_must_not_exceed_credits ?? false,
      creditsMustNotExceedDebits: b.credits_must_not_exceed_debits ?? false,
      creditLimit: BigInt(b.credit_limit ?? 0),
      metadata: b.metadata ?? {},
    }));
    return reply.code(r.created ? 201 : 200).send(accountDto(r.account));
  });

  app.get('/v1/accounts', {
    config: op,
    schema: {
      tags: ['ledger'], summary: 'List accounts', security,
      querystring: Type.Object({ owner_id: Type.Optional(IdString), subject_code: Type.Optional(Type.String()), currency: Type.Optional(Type.String()), status: Type.Optional(AccountStatusSchema), ref: Type.Optional(Type.String()), limit: Limit, cursor: Type.Optional(Type.String()) }),
      response: { 200: listOf(AccountSchema), ...errors },
    },
  }, async (req) => {
    const q = req.query;
    const limit = q.limit ?? 50;
    if (q.ref !== undefined) {
      const a = await ledger.getAccountByRef(q.ref);
      return { data: a.ok ? [accountDto(a.value)] : [], next_cursor: null };
    }
    const after = decodeCursor(q.cursor);
    const rows = await ledger.listAccounts({
      limit,
      ...(q.owner_id !== undefined ? { ownerId: parseId(q.owner_id, 'owner_id') } : {}),
      ...(q.subject_code !== undefined ? { subjectCode: q.subject_code } : {}),
      ...(q.currency !== undefined ? { currency: q.currency } : {}),
      ...(q.status !== undefined ? { status: q.status as never } : {}),
      ...(after !== undefined ? { afterId: after } : {}),
    });
    const p = page(rows, limit, (a) => a.id);
    return { data: p.data.map(accountDto), next_cursor: p.next_cursor };
  });

  app.get('/v1/accounts/:id', {
    config: op,
    schema: { tags: ['ledger'], summary: 'An account with its balances', security, params: IdParams, response: { 200: AccountSchema, ...errors } },
  }, async (req) => accountDto(unwrap(await ledger.getAccount(parseId(req.params.id)))));

  app.post('/v1/accounts/:id/status', {
    config: write,
    schema: {
      tags: ['ledger'], summary: 'Freeze, unfreeze or close an account', security, params: IdParams,
      body: Type.Object({ status: AccountStatusSchema, reason: Type.String({ minLength: 1, maxLength: 500 }) }, { additionalProperties: false }),
      response: { 200: AccountSchema, ...errors },
    },
  }, async (req) => {
    const actor = req.principal?.kind === 'operator' ? req.principal.id : '';
    return accountDto(unwrap(await ledger.setAccountStatus({ id: parseId(req.params.id), status: req.body.status as never, reason: req.body.reason, actor })));
  });

  app.post('/v1/accounts/:id/credit-limit', {
    config: write,
    schema: {
      tags: ['ledger'], summary: 'Change the credit (overdraft) limit', security, params: IdParams,
      body: Type.Object({ credit_limit: Type.Integer({ minimum: 0 }), reason: Type.String({ minLength: 1, maxLength: 500 }) }, { additionalProperties: false }),
      response: { 200: AccountSchema, ...errors },
    },
  }, async (req) => {
    const actor = req.principal?.kind === 'operator' ? req.principal.id : '';
    return accountDto(unwrap(await ledger.setCreditLimit({ id: parseId(req.params.id), creditLimit: BigInt(req.body.credit_limit), reason: req.body.reason, actor })));
  });

  app.get('/v1/accounts/:id/changes', {
    config: op,
    schema: { tags: ['ledger'], summary: 'Audit trail of status and limit changes', security, params: IdParams, response: { 200: Type.Object({ data: Type.Array(Type.Object({ field: Type.String(), old_value: Type.String(), new_value: Type.String(), reason: Type.String(), actor: Type.String(), created_at: Type.String() })) }), ...errors } },
  }, async (req) => {
    const id = parseId(req.params.id);
    unwrap(await ledger.getAccount(id));
    const rows = await ledger.accountChanges(id);
    return { data: rows.map((c) => ({ field: c.field, old_value: c.oldValue, new_value: c.newValue, reason: c.reason, actor: c.actor, created_at: c.createdAt.toISOString() })) };
  });

  app.get('/v1/accounts/:id/statement', {
    config: op,
    schema: {
      tags: ['ledger'], summary: 'Account statement with running balance', security, params: IdParams,
      querystring: Type.Object({ from: Type.Optional(Type.String()), to: Type.Optional(Type.String()), code: Type.Optional(Type.String()), limit: Limit, cursor: Type.Optional(Type.String()) }),
      response: { 200: listOf(StatementEntrySchema), ...errors },
    },
  }, async (req) => {
    const range = statementRange(req.query);
    const entries = unwrap(await ledger.statement({ accountId: parseId(req.params.id), ...range }));
    const p = page(entries, range.limit, (e) => e.transfer.seq ?? 0n);
    return { data: p.data.map(statementDto), next_cursor: p.next_cursor };
  });

  app.get('/v1/accounts/:id/balance', {
    config: op,
    schema: {
      tags: ['ledger'], summary: 'Posted balance at a point in time', security, params: IdParams,
      querystring: Type.Object({ at: Type.String({ description: 'ISO 8601 instant' }) }),
      response: { 200: Type.Object({ account_id: IdString, at: Type.String(), balance: Amount, as_of_transfer_id: Type.Union([IdString, Type.Null()]) }), ...errors },
    },
  }, async (req) => {
    const at = parseTime(req.query.at, 'at')!;
    const r = unwrap(await ledger.balanceAt(parseId(req.params.id), at));
    return { account_id: req.params.id, at: at.toISOString(), balance: amt(r.balance), as_of_transfer_id: r.asOfTransferId?.toString() ?? null };
  });

  app.post('/v1/transfers', {
    config: write,
    schema: {
      tags: ['ledger'], summary: 'Create one transfer (posted, pending hold, post or void)', security, body: TransferBody,
      response: { 200: TransferSchema, 201: TransferSchema, ...errors },
    },
  }, async (req, reply) => {
    const r = unwrap(await ledger.transfer(toTransferRequest(req.body as TransferBodyT)));
    return reply.code(r.existed ? 200 : 201).send(transferDto(r.transfer));
  });

  app.post('/v1/transfers/batch', {
    config: write,
    schema: {
      tags: ['ledger'], summary: 'Create up to 8000 transfers; linked ones succeed or fail together', security,
      body: Type.Object({ transfers: Type.Array(TransferBody, { minItems: 1, maxItems: 8000 }) }, { additionalProperties: false }),
      response: { 200: Type.Object({ results: Type.Array(OutcomeSchema) }), ...errors },
    },
  }, async (req) => {
    const out = unwrap(await ledger.createTransfers((req.body.transfers as TransferBodyT[]).map(toTransferRequest)));
    return { results: out.map(outcomeDto) };
  });

  const HoldAction = Type.Object({ idempotency_key: Type.String({ minLength: 1, maxLength: 128 }), amount: Type.Optional(Amount), description: Type.Optional(Type.String({ maxLength: 500 })) }, { additionalProperties: false });

  app.post('/v1/holds', {
    config: write,
    schema: { tags: ['ledger'], summary: 'Place a hold (冻结): a pending transfer, posted or voided later or expired by its timeout', security, body: TransferBody, response: { 200: TransferSchema, 201: TransferSchema, ...errors } },
  }, async (req, reply) => {
    const b = req.body as TransferBodyT;
    if (b.kind !== undefined && b.kind !== 'pending') throw new DomainError('invalid_transfer', 'a hold is a pending transfer');
    const r = unwrap(await ledger.transfer({ ...toTransferRequest(b), kind: 'pending' }));
    return reply.code(r.existed ? 200 : 201).send(transferDto(r.transfer));
  });

  for (const action of ['post', 'void'] as const) {
    app.post(`/v1/holds/:id/${action}`, {
      config: write,
      schema: { tags: ['ledger'], summary: action === 'post' ? 'Post a hold, fully or in part (the rest is released)' : 'Release a hold', security, params: IdParams, body: HoldAction, response: { 200: TransferSchema, 201: TransferSchema, ...errors } },
    }, async (req, reply) => {
      const b = req.body;
      const r = unwrap(await ledger.transfer({
        idempotencyKey: b.idempotency_key,
        kind: action === 'post' ? 'post_pending' : 'void_pending',
        pendingId: parseId(req.params.id),
        code: action === 'post' ? 'hold_posted' : 'hold_voided',
        ...(b.amount !== undefined ? { amount: BigInt(b.amount) } : {}),
        ...(b.description !== undefined ? { description: b.description } : {}),
      }));
      return reply.code(r.existed ? 200 : 201).send(transferDto(r.transfer));
    });
  }

  app.get('/v1/transfers/:id', {
    config: op,
    schema: { tags: ['ledger'], summary: 'A transfer by id', security, params: IdParams, response: { 200: TransferSchema, ...errors } },
  }, async (req) => transferDto(unwrap(await ledger.getTransfer(parseId(req.params.id)))));

  app.get('/v1/transfers', {
    config: op,
    schema: {
      tags: ['ledger'], summary: 'Find transfers by idempotency key, account, code, kind, time range or metadata', security,
      querystring: Type.Object({
        idempotency_key: Type.Optional(Type.String()), account_id: Type.Optional(IdString), code: Type.Optional(Type.String()), kind: Type.Optional(Type.String()),
        pending_id: Type.Optional(IdString), from: Type.Optional(Type.String()), to: Type.Optional(Type.String()),
        metadata: Type.Optional(Type.String({ description: 'JSON object the metadata must contain' })), limit: Limit, cursor: Type.Optional(Type.String()),
      }),
      response: { 200: listOf(TransferSchema), ...errors },
    },
  }, async (req) => {
    const q = req.query;
    const limit = q.limit ?? 50;
    if (q.idempotency_key !== undefined) {
      const t = await ledger.getTransferByKey(q.idempotency_key);
      return { data: t.ok ? [transferDto(t.value)] : [], next_cursor: null };
    }
    let metadata: Record<string, unknown> | undefined;
    if (q.metadata !== undefined) {
      try {
        metadata = JSON.parse(q.metadata) as Record<string, unknown>;
      } catch {
        throw new DomainError('invalid_query', 'metadata must be a JSON object');
      }
      if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) throw new DomainError('invalid_query', 'metadata must be a JSON object');
    }
    const from = parseTime(q.from, 'from');
    const to = parseTime(q.to, 'to');
    const accountId = optId(q.account_id, 'account_id');
    const pendingId = optId(q.pending_id, 'pending_id');
    const after = decodeCursor(q.cursor);
    const rows = await ledger.findTransfers({
      limit,
      ...(accountId !== undefined ? { accountId } : {}), ...(pendingId !== undefined ? { pendingId } : {}),
      ...(q.code ? { code: q.code } : {}), ...(q.kind ? { kind: q.kind } : {}), ...(from ? { from } : {}), ...(to ? { to } : {}),
      ...(metadata ? { metadata } : {}), ...(after !== undefined ? { afterSeq: after } : {}),
    });
    const p = page(rows, limit, (t) => t.seq ?? 0n);
    return { data: p.data.map(transferDto), next_cursor: p.next_cursor };
  });

  app.get('/v1/ledger/verify', {
    config: { auth: 'operator', role: 'operator' },
    schema: { tags: ['ledger'], summary: 'Check every ledger invariant', security, response: { 200: Type.Object({ ok: Type.Boolean(), checks: Type.Array(Type.String()), violations: Type.Array(Type.Object({ check: Type.String(), detail: Type.String() })) }), ...errors } },
  }, async () => {
    const v = await ledger.verify();
    return { ok: v.violations.length === 0, checks: v.checks, violations: v.violations };
  });
}
