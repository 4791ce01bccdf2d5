/**
 * Routes of the parties module: operator routes for customers, relationships, users, business
 * accounts, merchants, merchant credentials and operator tokens, and merchant-signed routes
 * under /v1/merchant for a merchant's own profile, accounts and statements.
 */
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { DomainError, unwrap } from '../../kernel/errors.js';
import {
  isUrlWithinDomains, PARTIES_CONFLICT_ERRORS, PARTIES_INPUT_ERRORS, PARTIES_RULE_ERRORS, type Parties,
} from '../../modules/parties/index.js';
import type { App, AppDeps } from '../app.js';
import type { OperatorTokenLookup } from '../auth.js';
import { registerStatuses } from '../errors.js';
import { decodeCursor, ErrorSchema, IdString, Limit, listOf, page, parseId, statementRange } from '../dto.js';
import { finishIdempotent } from '../idempotency.js';
import * as s from './parties.schemas.js';

registerStatuses(400, PARTIES_INPUT_ERRORS);
registerStatuses(409, PARTIES_CONFLICT_ERRORS);
registerStatuses(422, PARTIES_RULE_ERRORS);

const op = { auth: 'operator' as const };
const write = { auth: 'operator' as const, role: 'operator' as const };
const admin = { auth: 'operator' as const, role: 'admin' as const };
const merchant = { auth: 'merchant' as const };
const security = [{ operatorToken: [] }];
const signed = [{ merchantSignature: [] }];
const errors = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema, 422: ErrorSchema };
const IdParams = Type.Object({ id: IdString });
const PageQuery = { limit: Limit, cursor: Type.Optional(Type.String()) };

// The parties module's lookup must fit the HTTP layer's type; checked here, where both meet.
export const operatorTokenLookupOf = (parties: Parties): OperatorTokenLookup => parties.operatorTokenLookup;

function actorOf(req: FastifyRequest): string {
  return req.principal?.kind === 'operator' ? req.principal.id : '';
}

function merchantIdOf(req: FastifyRequest): bigint {
  if (req.principal?.kind !== 'merchant') throw new DomainError('unauthorized', 'this route needs a merchant-signed request');
  return req.principal.merchantId;
}

function pageArgs(q: { limit?: number; cursor?: string }): { limit: number; afterId?: bigint } {
  const after = decodeCursor(q.cursor);
  return { limit: q.limit ?? 50, ...(after !== undefined ? { afterId: after } : {}) };
}

/**
 * Responses that carry a one-time secret (an HMAC key, an operator token) must not be stored
 * verbatim for Idempotency-Key replay: the copy would sit in http_idempotency in plain text and
 * be served again later. The record is stored without the secret instead, so a retry gets the
 * same key id with `null` in place of the secret.
 */
async function storeReplayWithoutSecret(deps: AppDeps, req: FastifyRequest, status: number, redacted: unknown): Promise<void> {
  const st = req.idem;
  if (!st) return;
  req.idem = undefined;
  await finishIdempotent(deps.pool, st, status, JSON.stringify(redacted));
}

export function registerPartiesRoutes(app: App, deps: AppDeps, parties: Parties): void {
  registerCustomerRoutes(app, parties);
  registerAccountRoutes(app, parties);
  registerMerchantRoutes(app, deps, parties);
  registerMerchantApiRoutes(app, parties);
}

function registerCustomerRoutes(app: App, parties: Parties): void {
  const tags = ['parties'];
  app.post('/v1/customers', {
    config: write,
    schema: { tags, summary: 'Create a customer (客户)', security, body: s.CreateCustomerBody, response: { 201: s.CustomerSchema, ...errors } },
  }, async (req, reply) => {
    const b = req.body;
    const c = unwrap(await parties.createCustomer({
      kind: b.kind, legalName: b.legal_name, idType: b.id_type, idNumber: b.id_number,
      ...(b.phone !== undefined ? { phone: b.phone } : {}), ...(b.real_name_level !== undefined ? { realNameLevel: b.real_name_level } : {}),
    }));
    return reply.code(201).send(s.customerDto(c));
  });

  app.get('/v1/customers', {
    config: op,
    schema: {
      tags, summary: 'List customers', security,
      querystring: Type.Object({ kind: Type.Optional(s.CustomerKindSchema), status: Type.Optional(s.CustomerStatusSchema), ...PageQuery }),
      response: { 200: listOf(s.CustomerSchema), ...errors },
    },
  }, async (req) => {
    const q = req.query;
    const args = pageArgs(q);
    const rows = await parties.listCustomers({ ...args, ...(q.kind ? { kind: q.kind } : {}), ...(q.status ? { status: q.status } : {}) });
    const p = page(rows, args.limit, (c) => c.id);
    return { data: p.data.map(s.customerDto), next_cursor: p.next_cursor };
  });

  // A POST so that the ID number travels in the body, never in a URL that access logs record.
  app.post('/v1/customers/lookup', {
    config: write,
    schema: { tags, summary: 'Find the open customer with an identity document', security, body: s.DocumentBody, response: { 200: s.CustomerSchema, ...errors } },
  }, async (req) => s.customerDto(unwrap(await parties.findCustomerByDocument({ idType: req.body.id_type, idNumber: req.body.id_number }))));

  app.get('/v1/customers/:id', {
    config: op,
    schema: { tags, summary: 'A customer', security, params: IdParams, response: { 200: s.CustomerSchema, ...errors } },
  }, async (req) => s.customerDto(unwrap(await parties.getCustomer({ id: parseId(req.params.id) }))));

  app.post('/v1/customers/:id/status', {
    config: write,
    schema: { tags, summary: 'Freeze, unfreeze or close a customer', security, params: IdParams, body: s.CustomerStatusBody, response: { 200: s.CustomerSchema, ...errors } },
  }, async (req) => s.customerDto(unwrap(await parties.setCustomerStatus({ id: parseId(req.params.id), status: req.body.status, reason: req.body.reason ?? '', actor: actorOf(req) }))));

  app.post('/v1/customers/:id/real-name-level', {
    config: write,
    schema: { tags, summary: 'Record the real-name (KYC) level of a customer', security, params: IdParams, body: s.RealNameLevelBody, response: { 200: s.CustomerSchema, ...errors } },
  }, async (req) => s.customerDto(unwrap(await parties.setRealNameLevel({ id: parseId(req.params.id), level: req.body.level, reason: req.body.reason ?? '', actor: actorOf(req) }))));

  app.post('/v1/customers/:id/relationships', {
    config: write,
    schema: { tags, summary: 'Relate another customer (parent organization, guarantor, beneficial owner)', security, params: IdParams, body: s.CreateRelationshipBody, response: { 201: s.RelationshipSchema, ...errors } },
  }, async (req, reply) => {
    const b = req.body;
    const r = unwrap(await parties.addRelationship({
      customerId: parseId(req.params.id), relatedCustomerId: parseId(b.related_customer_id, 'related_customer_id'), kind: b.kind,
      ...(b.share_bp !== undefined ? { shareBp: b.share_bp } : {}),
    }));
    return reply.code(201).send(s.relationshipDto(r));
  });

  app.get('/v1/customers/:id/relationships', {
    config: op,
    schema: {
      tags, summary: "A customer's relationships (outgoing: its own; incoming: where it is the related party)", security, params: IdParams,
      querystring: Type.Object({ direction: Type.Optional(Type.Enum(['outgoing', 'incoming'])), kind: Type.Optional(s.RelationshipKindSchema), ...PageQuery }),
      response: { 200: listOf(s.RelationshipSchema), ...errors },
    },
  }, async (req) => {
    const q = req.query;
    const args = pageArgs(q);
    const rows = unwrap(await parties.listRelationships({ customerId: parseId(req.params.id), ...args, ...(q.direction ? { direction: q.direction } : {}), ...(q.kind ? { kind: q.kind } : {}) }));
    const p = page(rows, args.limit, (r) => r.id);
    return { data: p.data.map(s.relationshipDto), next_cursor: p.next_cursor };
  });

  app.delete('/v1/customers/:id/relationships/:relationship_id', {
    config: write,
    schema: { tags, summary: 'Remove a relationship', security, params: Type.Object({ id: IdString, relationship_id: IdString }), response: { 204: Type.Null(), ...errors } },
  }, async (req, reply) => {
    unwrap(await parties.removeRelationship({ customerId: parseId(req.params.id), relationshipId: parseId(req.params.relationship_id, 'relationship_id') }));
    return reply.code(204).send(null);
  });

  app.post('/v1/customers/:id/users', {
    config: write,
    schema: { tags, summary: 'Create a user (login identity) of a customer', security, params: IdParams, body: s.CreateUserBody, response: { 201: s.UserSchema, ...errors } },
  }, async (req, reply) => {
    const b = req.body;
    const u = unwrap(await parties.createUser({ customerId: parseId(req.params.id), loginName: b.login_name, roles: b.roles, ...(b.display_name !== undefined ? { displayName: b.display_name } : {}) }));
    return reply.code(201).send(s.userDto(u));
  });

  app.get('/v1/customers/:id/users', {
    config: op,
    schema: { tags, summary: "A customer's users", security, params: IdParams, querystring: Type.Object(PageQuery), response: { 200: listOf(s.UserSchema), ...errors } },
  }, async (req) => {
    const args = pageArgs(req.query);
    const rows = unwrap(await parties.listUsers({ customerId: parseId(req.params.id), ...args }));
    const p = page(rows, args.limit, (u) => u.id);
    return { data: p.data.map(s.userDto), next_cursor: p.next_cursor };
  });

  app.post('/v1/customers/:id/users/:user_id/status', {
    config: write,
    schema: { tags, summary: 'Disable or re-enable a user', security, params: Type.Object({ id: IdString, user_id: IdString }), body: s.UserStatusBody, response: { 200: s.UserSchema, ...errors } },
  }, async (req) => s.userDto(unwrap(await parties.setUserStatus({
    customerId: parseId(req.params.id), userId: parseId(req.params.user_id, 'user_id'), status: req.body.status, reason: req.body.reason ?? '', actor: actorOf(req),
  }))));
}

function registerAccountRoutes(app: App, parties: Parties): void {
  const tags = ['parties'];
  const AccountParams = Type.Object({ id: IdString, account_id: IdString });

  app.post('/v1/customers/:id/accounts', {
    config: write,
    schema: { tags, summary: 'Open a business account (账户) backed by a ledger account; idempotent by external_ref', security, params: IdParams, body: s.OpenAccountBody, response: { 200: s.BusinessAccountSchema, 201: s.BusinessAccountSchema, ...errors } },
  }, async (req, reply) => {
    const b = req.body;
    const r = unwrap(await parties.openAccount({ customerId: parseId(req.params.id), kind: b.kind, currency: b.currency ?? 'CNY', ...(b.external_ref !== undefined ? { externalRef: b.external_ref } : {}) }));
    return reply.code(r.created ? 201 : 200).send(s.businessAccountDto(r.account));
  });

  app.get('/v1/customers/:id/accounts', {
    config: op,
    schema: { tags, summary: "A customer's business accounts with balances", security, params: IdParams, querystring: Type.Object(PageQuery), response: { 200: listOf(s.BusinessAccountSchema), ...errors } },
  }, async (req) => {
    const args = pageArgs(req.query);
    const rows = unwrap(await parties.listAccounts({ customerId: parseId(req.params.id), ...args }));
    const p = page(rows, args.limit, (v) => v.account.id);
    return { data: p.data.map(s.businessAccountDto), next_cursor: p.next_cursor };
  });

  app.get('/v1/customers/:id/accounts/:account_id', {
    config: op,
    schema: { tags, summary: 'A business account with balances', security, params: AccountParams, response: { 200: s.BusinessAccountSchema, ...errors } },
  }, async (req) => s.businessAccountDto(unwrap(await parties.getAccount({ customerId: parseId(req.params.id), accountId: parseId(req.params.account_id, 'account_id') }))));

  app.post('/v1/customers/:id/accounts/:account_id/status', {
    config: write,
    schema: { tags, summary: 'Freeze, unfreeze or close a business account (mirrored onto its ledger account)', security, params: AccountParams, body: s.AccountStatusBody, response: { 200: s.BusinessAccountSchema, ...errors } },
  }, async (req) => s.businessAccountDto(unwrap(await parties.setAccountStatus({
    customerId: parseId(req.params.id), accountId: parseId(req.params.account_id, 'account_id'), status: req.body.status, reason: req.body.reason ?? '', actor: actorOf(req),
  }))));
}

function registerMerchantRoutes(app: App, deps: AppDeps, parties: Parties): void {
  const tags = ['merchants'];

  app.post('/v1/merchants', {
    config: write,
    schema: { tags, summary: 'Create a merchant profile (and its CNY settlement account) for a customer', security, body: s.CreateMerchantBody, response: { 201: s.MerchantSchema, ...errors } },
  }, async (req, reply) => {
    const b = req.body;
    const m = unwrap(await parties.createMerchant({
      customerId: parseId(b.customer_id, 'customer_id'), displayName: b.display_name, notifyDomains: b.notify_domains ?? [], mcc: b.mcc,
      settlementCycle: b.settlement_cycle, ...(b.fee_plan_ref !== undefined ? { feePlanRef: b.fee_plan_ref } : {}),
    }));
    return reply.code(201).send(s.merchantDto(m));
  });

  app.get('/v1/merchants', {
    config: op,
    schema: { tags, summary: 'List merchants', security, querystring: Type.Object({ status: Type.Optional(s.MerchantStatusSchema), ...PageQuery }), response: { 200: listOf(s.MerchantSchema), ...errors } },
  }, async (req) => {
    const args = pageArgs(req.query);
    const rows = await parties.listMerchants({ ...args, ...(req.query.status ? { status: req.query.status } : {}) });
    const p = page(rows, args.limit, (m) => m.id);
    return { data: p.data.map(s.merchantDto), next_cursor: p.next_cursor };
  });

  app.get('/v1/merchants/:id', {
    config: op,
    schema: { tags, summary: 'A merchant', security, params: IdParams, response: { 200: s.MerchantSchema, ...errors } },
  }, async (req) => s.merchantDto(unwrap(await parties.getMerchant({ id: parseId(req.params.id) }))));

  app.post('/v1/merchants/:id/status', {
    config: write,
    schema: { tags, summary: 'Activate, suspend or close a merchant', security, params: IdParams, body: s.MerchantStatusBody, response: { 200: s.MerchantSchema, ...errors } },
  }, async (req) => s.merchantDto(unwrap(await parties.setMerchantStatus({ id: parseId(req.params.id), status: req.body.status, reason: req.body.reason ?? '', actor: actorOf(req) }))));

  app.post('/v1/merchants/:id/credentials', {
    config: write,
    schema: { tags, summary: 'Create an API key; an HMAC secret is returned in this response only', security, params: IdParams, body: s.CreateCredentialBody, response: { 201: s.CreatedCredentialSchema, ...errors } },
  }, async (req, reply) => {
    const b = req.body;
    const r = unwrap(await parties.createCredential({
      merchantId: parseId(req.params.id), alg: b.alg, actor: actorOf(req),
      ...(b.public_key_pem !== undefined ? { publicKeyPem: b.public_key_pem } : {}), ...(b.name !== undefined ? { name: b.name } : {}),
    }));
    const dto = s.credentialDto(r.credential);
    await storeReplayWithoutSecret(deps, req, 201, { ...dto, secret: null });
    return reply.code(201).send({ ...dto, secret: r.secret?.reveal() ?? null });
  });

  app.get('/v1/merchants/:id/credentials', {
    config: op,
    schema: { tags, summary: "A merchant's API keys (never their secrets)", security, params: IdParams, querystring: Type.Object(PageQuery), response: { 200: listOf(s.CredentialSchema), ...errors } },
  }, async (req) => {
    const args = pageArgs(req.query);
    const rows = unwrap(await parties.listCredentials({ merchantId: parseId(req.params.id), ...args }));
    const p = page(rows, args.limit, (c) => c.id);
    return { data: p.data.map(s.credentialDto), next_cursor: p.next_cursor };
  });

  app.post('/v1/merchants/:id/credentials/:key_id/revoke', {
    config: write,
    schema: { tags, summary: 'Disable an API key for good', security, params: Type.Object({ id: IdString, key_id: Type.String({ maxLength: 64 }) }), body: s.ReasonBody, response: { 200: s.CredentialSchema, ...errors } },
  }, async (req) => s.credentialDto(unwrap(await parties.revokeCredential({ merchantId: parseId(req.params.id), keyId: req.params.key_id, reason: req.body.reason ?? '', actor: actorOf(req) }))));

  app.post('/v1/operator-tokens', {
    config: admin,
    schema: { tags: ['operators'], summary: 'Create an operator bearer token; the token is returned in this response only', security, body: s.CreateOperatorTokenBody, response: { 201: s.CreatedOperatorTokenSchema, ...errors } },
  }, async (req, reply) => {
    const r = unwrap(await parties.createOperatorToken({ name: req.body.name, role: req.body.role, createdBy: actorOf(req) }));
    const dto = s.operatorTokenDto(r.token);
    await storeReplayWithoutSecret(deps, req, 201, { ...dto, token: null });
    return reply.code(201).send({ ...dto, token: r.value.reveal() });
  });

  app.get('/v1/operator-tokens', {
    config: admin,
    schema: { tags: ['operators'], summary: 'List operator tokens (never their values)', security, querystring: Type.Object(PageQuery), response: { 200: listOf(s.OperatorTokenSchema), ...errors } },
  }, async (req) => {
    const args = pageArgs(req.query);
    const rows = await parties.listOperatorTokens(args);
    const p = page(rows, args.limit, (t) => t.id);
    return { data: p.data.map(s.operatorTokenDto), next_cursor: p.next_cursor };
  });

  app.post('/v1/operator-tokens/:id/revoke', {
    config: admin,
    schema: { tags: ['operators'], summary: 'Revoke an operator token', security, params: IdParams, body: s.ReasonBody, response: { 200: s.OperatorTokenSchema, ...errors } },
  }, async (req) => s.operatorTokenDto(unwrap(await parties.revokeOperatorToken({ id: parseId(req.params.id), actor: actorOf(req) }))));
}

function registerMerchantApiRoutes(app: App, parties: Parties): void {
  const tags = ['merchant API'];

  app.get('/v1/merchant/profile', {
    config: merchant,
    schema: { tags, summary: 'The calling merchant', security: signed, response: { 200: s.MerchantSchema, ...errors } },
  }, async (req) => s.merchantDto(unwrap(await parties.getMerchant({ id: merchantIdOf(req) }))));

  app.get('/v1/merchant/accounts', {
    config: merchant,
    schema: { tags, summary: "The calling merchant's accounts with balances", security: signed, querystring: Type.Object(PageQuery), response: { 200: listOf(s.MerchantAccountSchema), ...errors } },
  }, async (req) => {
    const args = pageArgs(req.query);
    const rows = unwrap(await parties.merchantAccounts({ merchantId: merchantIdOf(req), ...args }));
    const p = page(rows, args.limit, (v) => v.account.id);
    return { data: p.data.map(s.merchantAccountDto), next_cursor: p.next_cursor };
  });

  app.get('/v1/merchant/accounts/:id/statement', {
    config: merchant,
    schema: {
      tags, summary: 'Statement of one of the calling merchant\'s accounts', security: signed, params: IdParams,
      querystring: Type.Object({ from: Type.Optional(Type.String()), to: Type.Optional(Type.String()), ...PageQuery }),
      response: { 200: listOf(s.MerchantStatementEntrySchema), ...errors },
    },
  }, async (req) => {
    const range = statementRange(req.query);
    const entries = unwrap(await parties.merchantStatement({ merchantId: merchantIdOf(req), accountId: parseId(req.params.id), ...range }));
    const p = page(entries, range.limit, (e) => e.transfer.seq ?? 0n);
    return { data: p.data.map(s.merchantStatementDto), next_cursor: p.next_cursor };
  });

  app.post('/v1/merchant/notify-url/check', {
    config: merchant,
    schema: {
      tags, summary: 'Would Paycore send notifications to this URL (https, within the registered domains)?', security: signed,
      body: Type.Object({ notify_url: Type.String({ minLength: 1, maxLength: 512 }) }, { additionalProperties: false }),
      response: { 200: Type.Object({ notify_url: Type.String(), allowed: Type.Boolean(), notify_domains: Type.Array(Type.String()) }), ...errors },
    },
  }, async (req) => {
    const m = unwrap(await parties.getMerchant({ id: merchantIdOf(req) }));
    return { notify_url: req.body.notify_url, allowed: isUrlWithinDomains(req.body.notify_url, m.notifyDomains), notify_domains: m.notifyDomains };
  });
}
