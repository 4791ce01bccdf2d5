/**
 * What the simulator's route handlers share: state, merchants, the platform identity, fault knobs,
 * and the helpers every APIv3 route uses — signed answers, the Authorization check, and the fault
 * gate in front of each handler.
 */
import { createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { assertNever } from '../../src/kernel/errors.js';
import { decideFault, type FaultDecision, type Faults } from '../common/faults.js';
import type { Notifier } from '../common/notifier.js';
import type { PlatformIdentity, WechatPayMerchant } from './wechat-pay.keys.js';
import { parseAuthorization, platformSignatureHeaders, verifyRequestSignature } from './wechat-pay.sign.js';
import type { WechatPayState } from './wechat-pay.state.js';

export interface MerchantRecord {
  merchant: WechatPayMerchant;
  publicKey: KeyObject;
}

export interface StoredBill {
  bytes: Buffer;
  mchid: string;
  expiresAtMs: number;
  gzip: boolean;
}

export interface SimContext {
  state: WechatPayState;
  merchants: Map<string, MerchantRecord>;
  platform: PlatformIdentity;
  faults(): Faults;
  rnd: () => number;
  notifier(): Notifier;
  feeRateBps: number;
  /** Delay before a PROCESSING refund succeeds on its own; negative: only the control endpoint settles refunds. */
  refundDelayMs: number;
  bills: Map<string, StoredBill>;
  url(): string;
  /** The timeout fault: keep the request open until the client gives up (or 30 s), then drop it. */
  hold(req: FastifyRequest, reply: FastifyReply): Promise<void>;
  /** Drops the connection without an answer. */
  drop(req: FastifyRequest, reply: FastifyReply): void;
  sleep(ms: number): Promise<void>;
  /** Runs `fn` after `ms` unless the simulator closes first. */
  later(ms: number, fn: () => void): void;
}

export function toMerchantRecord(m: WechatPayMerchant): MerchantRecord {
  return { merchant: m, publicKey: createPublicKey(m.publicKeyPem) };
}

/** Sends an APIv3 answer signed by the platform key (204 and other empty answers are signed over ""). */
export function answer(ctx: SimContext, reply: FastifyReply, status: number, body?: unknown): FastifyReply {
  const text = body === undefined ? '' : JSON.stringify(body);
  reply.code(status).headers({ ...platformSignatureHeaders(ctx.platform, text, new Date()), 'Request-ID': randomBytes(16).toString('hex') });
  if (text === '') return reply.send();
  return reply.header('Content-Type', 'application/json; charset=utf-8').send(text);
}

export function fail(ctx: SimContext, reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return answer(ctx, reply, status, { code, message });
}

/** The request body as the JSON object it must be; the raw text is kept for the signature check. */
export function jsonBody(req: FastifyRequest): Record<string, unknown> | undefined {
  if (typeof req.body !== 'string' || req.body === '') return undefined;
  try {
    const v: unknown = JSON.parse(req.body);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const MAX_SKEW_MS = 5 * 60_000;

/**
 * The merchant signature check. WeChat refuses with 401 SIGN_ERROR when the header is missing or
 * malformed, the serial is not the merchant's registered API certificate, the timestamp is more
 * than five minutes off, or the signature does not verify over the exact method, URL (path and
 * query as sent), timestamp, nonce and body.
 */
export function authenticate(ctx: SimContext, req: FastifyRequest): { ok: true; record: MerchantRecord } | { ok: false; message: string } {
  const auth = parseAuthorization(req.headers.authorization);
  if (!auth) return { ok: false, message: 'Authorization 头缺失或格式错误（WECHATPAY2-SHA256-RSA2048）' };
  const record = ctx.merchants.get(auth.mchid);
  if (!record) return { ok: false, message: '商户号不存在或未开通APIv3' };
  if (auth.serialNo.toUpperCase() !== record.merchant.serialNo) return { ok: false, message: '商户证书序列号有误' };
  if (!/^[0-9]{1,12}$/.test(auth.timestamp) || Math.abs(Date.now() - Number(auth.timestamp) * 1000) > MAX_SKEW_MS) {
    return { ok: false, message: '请求时间戳与当前时间相差超过5分钟' };
  }
  const body = typeof req.body === 'string' ? req.body : '';
  if (!verifyRequestSignature(record.publicKey, req.method, req.raw.url ?? '', auth, body)) return { ok: false, message: '签名错误，请检查后再试' };
  return { ok: true, record };
}

export type Handler = (record: MerchantRecord, decision: 'normal' | 'decline' | 'unknown_outcome') => Promise<unknown> | unknown;

/**
 * The fault gate in front of every APIv3 route: latency, then the drawn fault. Maintenance is
 * answered with 429 FREQUENCY_LIMITED — WeChat has no documented maintenance code; this is its
 * "refused before processing, try later" answer, so no money moves. Decline and unknown outcome
 * are business effects the handler applies after validating the request.
 */
export async function guarded(ctx: SimContext, req: FastifyRequest, reply: FastifyReply, moneyMoving: boolean, handler: Handler): Promise<unknown> {
  const f = ctx.faults();
  const decision: FaultDecision = decideFault(f, ctx.rnd, moneyMoving);
  if (f.latencyMs > 0) await ctx.sleep(f.latencyMs);
  switch (decision) {
    case 'maintenance':
      return fail(ctx, reply, 429, 'FREQUENCY_LIMITED', '系统维护中，请稍后再试');
    case 'timeout':
      return ctx.hold(req, reply);
    case 'server_error':
      return fail(ctx, reply, 500, 'SYSTEM_ERROR', '系统异常，请稍后重试');
    case 'normal':
    case 'decline':
    case 'unknown_outcome': {
      const auth = authenticate(ctx, req);
      if (!auth.ok) return fail(ctx, reply, 401, 'SIGN_ERROR', auth.message);
      return handler(auth.record, decision);
    }
    default:
      return assertNever(decision, 'fault decision');
  }
}

/** After applying a request under the unknown-outcome fault: a 500 or a dropped connection, at random. */
export function lose(ctx: SimContext, req: FastifyRequest, reply: FastifyReply): unknown {
  if (ctx.rnd() < 0.5) return fail(ctx, reply, 500, 'SYSTEM_ERROR', '系统异常，请稍后重试');
  ctx.drop(req, reply);
  return undefined;
}
