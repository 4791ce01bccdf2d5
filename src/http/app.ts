/**
 * The HTTP server (fastify): JSON in and out, every body and query validated by schema before it
 * reaches a module, errors in one shape with stable codes, OpenAPI 3.1 at /openapi.json and
 * interactive docs at /docs. Route files (routes/*.routes.ts) add the module routes.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyRequest, type RawServerDefault } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../kernel/clock.js';
import type { Pool } from '../kernel/db.js';
import { DomainError } from '../kernel/errors.js';
import type { Logger } from '../kernel/logger.js';
import type { Secret } from '../kernel/secret.js';
import { isStorableDeep } from '../kernel/text.js';
import type { Ledger } from '../modules/ledger/index.js';
import type { Parties } from '../modules/parties/index.js';
import type { Cards } from '../modules/cards/index.js';
import { authenticateOperator, type OperatorTokenLookup, type Principal, type RouteAuth } from './auth.js';
import { errorBody, statusFor } from './errors.js';
import { beginIdempotent, finishIdempotent, type IdemState } from './idempotency.js';
import { registerAccountingRoutes } from './routes/accounting.routes.js';
import { registerLedgerRoutes } from './routes/ledger.routes.js';
import { registerPartiesRoutes } from './routes/parties.routes.js';
import { registerCardRoutes } from './routes/cards.routes.js';
import { registerPaymentRoutes } from './routes/payments.routes.js';
import type { Channels } from '../modules/channels/index.js';
import type { Risk } from '../modules/risk/index.js';
import type { Payments } from '../modules/payments/index.js';
import { registerRiskRoutes } from './routes/risk.routes.js';
import { registerSystemRoutes } from './routes/system.routes.js';

export type App = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger, TypeBoxTypeProvider>;

export interface AppDeps {
  pool: Pool;
  log: Logger;
  clock: Clock;
  nextId: () => bigint;
  adminToken: Secret;
  businessTimeZone: string;
  ledger: Ledger;
  /** The parties module (三户); its routes are registered when it is given. */
  parties?: Parties;
  /** The cards module (预付卡); its routes are registered when it is given. */
  cards?: Cards;
  /** Payments and channels; their routes (merchant orders, cashier, channel notifications) are registered when both are given. */
  payments?: Payments;
  channels?: Channels;
  /** The risk engine (风控); its routes are registered when it is given. */
  risk?: Risk;
  /** Key for the cashier links' tokens, and where channels and payers reach this server. */
  cashierKey?: Buffer;
  publicBaseUrl?: () => string;
  operatorTokens?: OperatorTokenLookup;
  /** Verifies a merchant-signed request (parties module); without it merchant routes answer 401. */
  merchantAuth?: (req: FastifyRequest) => Promise<Principal>;
  version: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
    rawBody?: string;
    idem?: IdemState;
  }
  interface FastifyContextConfig {
    auth?: RouteAuth['auth'];
    role?: 'admin' | 'operator' | 'viewer';
  }
}

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

function makeAjv(coerce: boolean): Ajv {
  // Bodies are validated strictly (an amount sent as "100" is an error, not a number); query
  // strings and path parameters are text by nature and are coerced.
  const ajv = new Ajv({ coerceTypes: coerce ? 'array' : false, useDefaults: true, removeAdditional: false, allErrors: false, strict: false });
  addFormats(ajv);
  return ajv;
}

export async function buildApp(deps: AppDeps): Promise<App> {
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    bodyLimit: 1024 * 1024,
    requestIdHeader: 'x-request-id',
    ajv: { customOptions: {} },
  }).withTypeProvider<TypeBoxTypeProvider>();

  const strict = makeAjv(false);
  const coercing = makeAjv(true);
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? strict : coercing).compile(schema));

  // Keep the raw body: merchant signatures are computed over the exact bytes sent.
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = body as string;
    req.rawBody = text;
    if (text.length === 0) return done(null, undefined);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text, (k, v: unknown) => (k === '__proto__' || k === 'constructor' ? undefined : v));
    } catch {
      return done(new DomainError('malformed_json', 'the request body is not valid JSON'), undefined);
    }
    if (!isStorableDeep(parsed)) return done(new DomainError('invalid_text', 'text must not contain NUL characters or unpaired surrogates'), undefined);
    // A JSON number with a fraction or an exponent is never an amount, even when it happens to
    // parse to an integer (100.0, 1e3, or a fraction lost to double rounding beyond 2^52).
    if (/"[a-z_]*(amount|limit)"\s*:\s*-?\d+(\.\d*|[eE])/.test(text)) {
      return done(new DomainError('invalid_amount', 'amounts are integers in minor units, written without a fraction or an exponent'), undefined);
    }
    done(null, parsed);
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Paycore API', version: deps.version, description: 'Payment platform (支付中台): ledger, parties, payments. Amounts are integers in minor units; ids are decimal strings.' },
      components: {
        securitySchemes: {
          operatorToken: { type: 'http', scheme: 'bearer', description: 'PAYCORE_ADMIN_TOKEN or an operator token' },
          merchantSignature: { type: 'apiKey', in: 'header', name: 'Paycore-Signature', description: 'HMAC-SHA256 or RSA-SHA256 request signature, see docs/api.md' },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.addHook('preValidation', async (req) => {
    if (!isStorableDeep(req.query) || !isStorableDeep(req.params)) throw new DomainError('invalid_text', 'the URL must not contain NUL characters or unpaired surrogates');
    const cfg = req.routeOptions.config;
    const auth = cfg?.auth ?? 'public';
    if (auth === 'operator') req.principal = await authenticateOperator(req, deps.adminToken, deps.operatorTokens, cfg?.role ?? 'viewer');
    else if (auth === 'merchant') {
      if (!deps.merchantAuth) throw new DomainError('unauthorized', 'merchant authentication is not configured');
      req.principal = await deps.merchantAuth(req);
    }
  });

  app.addHook('preHandler', async (req, reply) => {
    if (req.method !== 'POST' || !req.principal) return;
    const r = await beginIdempotent(deps.pool, req, reply, req.principal);
    if (r === 'replayed') return reply;
    if (r) req.idem = r;
    return undefined;
  });

  app.addHook('onSend', async (req, reply, payload) => {
    if (req.idem) {
      const st = req.idem;
      req.idem = undefined;
      await finishIdempotent(deps.pool, st, reply.statusCode, typeof payload === 'string' ? payload : JSON.stringify(payload));
    }
    return payload;
  });

  app.setErrorHandler((err: FastifyError | DomainError, req, reply) => {
    if (err instanceof DomainError) {
      return reply.code(statusFor(err.code)).send(errorBody(err.code, err.message, err.details));
    }
    const fe = err as FastifyError & { validation?: { instancePath?: string; message?: string; params?: unknown; keyword?: string }[]; validationContext?: string };
    if (fe.validation) {
      const v = fe.validation[0];
      const path = `${fe.validationContext ?? 'body'}${v?.instancePath ?? ''}`;
      const isAmount = /\/amount$|_amount$|\/credit_limit$/.test(v?.instancePath ?? '');
      const code = !isAmount ? 'invalid_request' : v?.keyword === 'minimum' ? 'amount_must_be_positive' : v?.keyword === 'maximum' ? 'amount_too_large' : 'invalid_amount';
      return reply.code(400).send(errorBody(code, `${path} ${v?.message ?? 'is invalid'}`, { path, params: v?.params }));
    }
    if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.code(413).send(errorBody('payload_too_large', 'the request body is too large'));
    if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return reply.code(415).send(errorBody('unsupported_media_type', 'send application/json'));
    if (fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return reply.code(400).send(errorBody('malformed_json', 'the request body is empty'));
    if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
      return reply.code(fe.statusCode).send(errorBody('invalid_request', fe.message));
    }
    req.log.error({ err }, 'unhandled error');
    return reply.code(500).send(errorBody('internal_error', 'internal error; the outcome may be unknown — retry with the same idempotency key'));
  });

  app.setNotFoundHandler((req, reply) => reply.code(404).send(errorBody('route_not_found', `no route ${req.method} ${req.url.split('?')[0]}`)));

  registerSystemRoutes(app, deps);
  registerLedgerRoutes(app, deps);
  registerAccountingRoutes(app, deps);
  if (deps.parties) registerPartiesRoutes(app, deps, deps.parties);
  if (deps.cards) registerCardRoutes(app, deps, deps.cards);
  if (deps.payments && deps.channels) registerPaymentRoutes(app, { ...deps, cashierKey: deps.cashierKey ?? Buffer.alloc(32), publicBaseUrl: deps.publicBaseUrl ?? (() => '') }, deps.payments, deps.channels);
  if (deps.risk) registerRiskRoutes(app, deps, deps.risk);
  return app;
}
