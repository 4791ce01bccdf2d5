/**
 * Reads a gateway answer: finds `<method>_response` in the raw body, checks Alipay's signature over
 * its exact text, and sorts the result codes into what they prove. Every answer this adapter acts
 * on must verify; an unsigned or unverifiable answer proves nothing and is reported as such.
 *
 * Public result codes (Alipay 公共错误码): 10000 success; 10003 processing (业务处理中); 20000 service
 * unavailable (isp.unknow-error: the outcome is not known, query); 20001 insufficient token
 * permissions; 40001 missing required arguments; 40002 invalid arguments (including
 * isv.invalid-signature / isv.invalid-timestamp); 40004 business failure, detailed by an
 * API-specific sub_code (ACQ.*); 40006 insufficient permissions.
 */
import { MAX_AMOUNT_MINOR, parseMajor } from '../../../../kernel/money.js';
import type { HttpResponseData } from '../../adapter.js';
import type { AlipayConfig } from './alipay.config.js';
import { rawMember, rsa2Verify } from './alipay.sign.js';

export interface VerifiedAnswer {
  code: string;
  msg: string;
  subCode?: string;
  subMsg?: string;
  fields: Record<string, unknown>;
}

export type AnswerResult = { ok: true; answer: VerifiedAnswer } | { ok: false; reason: string };

export function responseKey(method: string): string {
  return `${method.replace(/\./g, '_')}_response`;
}

export function readAnswer(cfg: AlipayConfig, res: HttpResponseData, method: string): AnswerResult {
  // The gateway answers every business outcome, errors included, with HTTP 200; anything else
  // (5xx, a proxy's 502, a 404) says nothing about what happened to the request.
  if (res.status !== 200) return { ok: false, reason: `HTTP ${res.status} from the Alipay gateway` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(res.body);
  } catch {
    return { ok: false, reason: 'the Alipay answer is not JSON' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { ok: false, reason: 'the Alipay answer is not a JSON object' };
  const top = parsed as Record<string, unknown>;
  const key = top[responseKey(method)] !== undefined ? responseKey(method) : 'error_response';
  const value = top[key];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, reason: `the Alipay answer has no ${responseKey(method)}` };
  const fields = value as Record<string, unknown>;
  const code = typeof fields['code'] === 'string' ? fields['code'] : '';
  const sign = top['sign'];
  if (typeof sign !== 'string' || sign === '') {
    // Alipay may leave gateway-level error answers unsigned; unsigned, they cannot prove anything.
    return { ok: false, reason: `unsigned Alipay answer (code ${code || '?'}${typeof fields['sub_code'] === 'string' ? `, ${fields['sub_code']}` : ''})` };
  }
  const text = rawMember(res.body, key);
  if (text === undefined) return { ok: false, reason: 'could not locate the signed part of the Alipay answer' };
  // Alipay's own SDKs retry with `\/` unescaped because some gateway versions sign the unescaped
  // text; the signature still has to verify over text Alipay produced.
  const verified = rsa2Verify(text, sign, cfg.alipayPublicKey) || (text.includes('\\/') && rsa2Verify(text.replace(/\\\//g, '/'), sign, cfg.alipayPublicKey));
  if (!verified) return { ok: false, reason: 'the Alipay answer signature does not verify' };
  if (code === '') return { ok: false, reason: 'the Alipay answer has no code' };
  const answer: VerifiedAnswer = { code, msg: typeof fields['msg'] === 'string' ? fields['msg'] : '', fields };
  if (typeof fields['sub_code'] === 'string') answer.subCode = fields['sub_code'];
  if (typeof fields['sub_msg'] === 'string') answer.subMsg = fields['sub_msg'];
  return { ok: true, answer };
}

/** What a non-10000 answer means for a request that could have moved money. */
export type Refusal = { kind: 'declined'; code: string; message: string; retryable: boolean } | { kind: 'unknown'; reason: string };

/**
 * Gateway-level refusals that are about this channel account (keys, app, permissions) rather
 * than the request: another channel may well succeed, so they are retryable.
 */
const ACCOUNT_LEVEL_SUB_CODES = new Set([
  'isv.invalid-signature',
  'isv.invalid-app-id',
  'isv.invalid-signature-type',
  'isv.insufficient-isv-permissions',
  'isv.insufficient-user-permissions',
  'isv.invalid-timestamp',
]);

/**
 * Sorts a verified non-success answer. `businessDeclines` are the API's 40004 sub_codes that prove
 * nothing was applied (value: retryable on another channel); every other 40004 sub_code, notably
 * ACQ.SYSTEM_ERROR, is unknown.
 */
export function refusal(a: VerifiedAnswer, businessDeclines: ReadonlyMap<string, boolean>): Refusal {
  const code = a.subCode ?? a.code;
  const message = `${a.code} ${a.msg}${a.subMsg ? `: ${a.subMsg}` : ''}`;
  switch (a.code) {
    case '20000':
    case '10003':
      return { kind: 'unknown', reason: `Alipay ${message} (${code}); the outcome is not known yet` };
    case '20001':
    case '40006':
      return { kind: 'declined', code, message, retryable: true };
    case '40001':
    case '40002':
      // Refused at the gateway before any business processing.
      return { kind: 'declined', code, message, retryable: ACCOUNT_LEVEL_SUB_CODES.has(code) };
    case '40004': {
      const retryable = businessDeclines.get(code);
      if (retryable === undefined) return { kind: 'unknown', reason: `Alipay ${message} (${code}) does not prove that nothing was applied` };
      return { kind: 'declined', code, message, retryable };
    }
    default:
      return { kind: 'unknown', reason: `unexpected Alipay code ${a.code} (${code})` };
  }
}

/** Yuan decimal string → fen, exactly; undefined when malformed or out of range. */
export function yuanToFen(v: unknown): bigint | undefined {
  if (typeof v !== 'string') return undefined;
  const fen = parseMajor(v, 'CNY');
  if (fen === undefined || fen > MAX_AMOUNT_MINOR) return undefined;
  return fen;
}
