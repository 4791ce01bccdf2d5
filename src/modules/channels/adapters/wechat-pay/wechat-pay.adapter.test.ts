// Proves the WeChat Pay adapter maps every answer precisely (declined only when nothing moved, unknown when unsure or unverified) without any network.
import { createCipheriv, randomBytes, sign } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createWechatPayTestAccount, generatePlatformIdentity, type PlatformIdentity, type WechatPayTestAccount } from '../../../../../simulators/wechat-pay/index.js';
import type { HttpResponseData, PayRequest } from '../../adapter.js';
import { wechatPayAdapter as adapter, type WechatPayConfig } from './wechat-pay.adapter.js';
import { parseTradeBill } from './wechat-pay.statement.js';
import { yuanToFen } from './wechat-pay.wire.js';

let platform: PlatformIdentity;
let account: WechatPayTestAccount;
let cfg: WechatPayConfig;
const cx = (offsetMs = 0) => ({ now: new Date(Date.now() + offsetMs), nonce: randomBytes(16).toString('hex') });

/** An answer signed like WeChat's platform would sign it. */
function answer(status: number, body: unknown, opts: { serial?: string; ageMs?: number } = {}): HttpResponseData {
  const text = body === undefined ? '' : JSON.stringify(body);
  const ts = String(Math.floor((Date.now() - (opts.ageMs ?? 0)) / 1000));
  const nonce = randomBytes(16).toString('hex');
  const signature = sign('sha256', Buffer.from(`${ts}\n${nonce}\n${text}\n`), platform.privateKey).toString('base64');
  const headers = { 'wechatpay-timestamp': ts, 'wechatpay-nonce': nonce, 'wechatpay-signature': signature, 'wechatpay-serial': opts.serial ?? platform.serialNo };
  return { status, headers, body: text, bytes: Buffer.from(text) };
}

function notification(eventType: string, resource: Record<string, unknown>, key = account.merchant.apiV3Key) {
  const iv = 'q1w2e3r4t5y6';
  const c = createCipheriv('aes-256-gcm', Buffer.from(key), Buffer.from(iv));
  c.setAAD(Buffer.from('transaction'));
  const ciphertext = Buffer.concat([c.update(JSON.stringify(resource)), c.final(), c.getAuthTag()]).toString('base64');
  const signed = answer(200, { id: 'EV-1', event_type: eventType, resource_type: 'encrypt-resource', resource: { original_type: 'transaction', algorithm: 'AEAD_AES_256_GCM', ciphertext, associated_data: 'transaction', nonce: iv } });
  return { headers: signed.headers, body: signed.body };
}

const payReq = (o: Partial<PayRequest> = {}): PayRequest => ({
  outTradeNo: 'P20260101000000001',
  amountMinor: 100n,
  currency: 'CNY',
  subject: 'x',
  expiresAt: new Date('2026-01-01T00:00:00Z'),
  notifyUrl: 'https://example.com/notify',
  method: 'wechat_native',
  ...o,
});

beforeAll(async () => {
  platform = await generatePlatformIdentity();
  account = await createWechatPayTestAccount({ baseUrl: 'https://api.mch.weixin.qq.com', platformCertificatePem: platform.certificatePem });
  const parsed = adapter.parseConfig(account.config);
  if (!parsed.ok) throw new Error(parsed.message);
  cfg = parsed.config;
});

describe('requests', () => {
  it('signs with the documented Authorization header and China-time expiry', () => {
    const spec = adapter.buildPay(cfg, payReq({ subject: '商'.repeat(200) }), cx());
    expect(spec.url).toBe('https://api.mch.weixin.qq.com/v3/pay/transactions/native');
    expect(spec.headers['Authorization']).toMatch(/^WECHATPAY2-SHA256-RSA2048 mchid="\d+",nonce_str="[0-9a-f]{32}",signature="[A-Za-z0-9+/=]+",timestamp="\d+",serial_no="[0-9A-F]{40}"$/);
    const body = JSON.parse(spec.body!) as Record<string, unknown>;
    expect(body).toMatchObject({ time_expire: '2026-01-01T08:00:00+08:00', amount: { total: 100, currency: 'CNY' } });
    expect([...(body['description'] as string)]).toHaveLength(127);
    expect(adapter.buildQuery(cfg, { outTradeNo: 'A|B*1' }, cx()).url).toBe(`https://api.mch.weixin.qq.com/v3/pay/transactions/out-trade-no/A%7CB*1?mchid=${cfg.mchid}`);
  });

  it('refuses what WeChat cannot do as programmer errors', () => {
    expect(() => adapter.buildPay(cfg, payReq({ method: 'wechat_jsapi' }), cx())).toThrow(/payerOpenId/);
    expect(() => adapter.buildPay(cfg, payReq({ method: 'alipay_qr' }), cx())).toThrow(/does not support/);
    expect(() => adapter.buildPay(cfg, payReq({ currency: 'USD' }), cx())).toThrow(/CNY/);
  });
});

describe('answers', () => {
  it.each([
    [400, 'PARAM_ERROR', { kind: 'declined', retryable: false }],
    [403, 'NO_AUTH', { kind: 'declined', retryable: true }],
    [403, 'TRADE_ERROR', { kind: 'declined', retryable: true }],
    [429, 'FREQUENCY_LIMITED', { kind: 'declined', retryable: true }],
    [403, 'OUT_TRADE_NO_USED', { kind: 'unknown' }],
    [400, 'ORDERPAID', { kind: 'unknown' }],
    [202, 'USERPAYING', { kind: 'unknown' }],
    [500, 'SYSTEM_ERROR', { kind: 'unknown' }],
    [500, 'BANK_ERROR', { kind: 'unknown' }],
    [500, 'PARAM_ERROR', { kind: 'unknown' }],
  ])('pay answer %i %s', (status, code, expected) => {
    expect(adapter.parsePay(cfg, payReq(), answer(status, { code, message: 'm' }), cx())).toMatchObject(expected);
  });

  it('does not trust unsigned, wrongly signed or stale answers', () => {
    const good = answer(200, { code_url: 'weixin://wxpay/bizpayurl?pr=abc' });
    expect(adapter.parsePay(cfg, payReq(), good, cx())).toMatchObject({ kind: 'accepted' });
    expect(adapter.parsePay(cfg, payReq(), { ...good, headers: {} }, cx())).toMatchObject({ kind: 'unknown' });
    expect(adapter.parsePay(cfg, payReq(), answer(200, { code_url: 'x' }, { serial: 'ABCDEF' }), cx())).toMatchObject({ kind: 'unknown' });
    expect(adapter.parsePay(cfg, payReq(), answer(200, { code_url: 'x' }, { ageMs: 6 * 60_000 }), cx())).toMatchObject({ kind: 'unknown' });
    expect(adapter.parsePay(cfg, payReq(), { ...good, body: good.body.replace('abc', 'abd'), bytes: undefined }, cx())).toMatchObject({ kind: 'unknown' });
    // A forged "declined" must not cause a failover either.
    expect(adapter.parsePay(cfg, payReq(), { ...answer(403, { code: 'NO_AUTH', message: 'm' }), headers: {} }, cx())).toMatchObject({ kind: 'unknown' });
  });

  it('maps trade states and query errors', () => {
    const tx = (trade_state: string, extra: Record<string, unknown> = {}) => answer(200, { mchid: cfg.mchid, out_trade_no: 'A', trade_state, amount: { total: 5, currency: 'CNY' }, ...extra });
    expect(adapter.parseQuery(cfg, tx('REVOKED'), cx())).toMatchObject({ kind: 'found', status: 'closed', amountMinor: 5n });
    expect(adapter.parseQuery(cfg, tx('SUCCESS', { success_time: '2026-01-01T08:00:00+08:00', transaction_id: '42' }), cx())).toMatchObject({ status: 'succeeded', paidAt: new Date('2026-01-01T00:00:00Z'), channelTradeNo: '42' });
    expect(adapter.parseQuery(cfg, tx('SOMETHING_NEW'), cx())).toMatchObject({ kind: 'unknown' });
    expect(adapter.parseQuery(cfg, tx('SUCCESS', { mchid: '1' }), cx())).toMatchObject({ kind: 'unknown' });
    expect(adapter.parseQuery(cfg, answer(404, { code: 'ORDERNOTEXIST', message: 'm' }), cx())).toEqual({ kind: 'not_found' });
    expect(adapter.parseQuery(cfg, answer(429, { code: 'FREQUENCY_LIMITED', message: 'm' }), cx())).toMatchObject({ kind: 'unknown' });
  });

  it('maps refunds', () => {
    const r = (status: string) => answer(200, { refund_id: '503', status, amount: { refund: 7, total: 10 }, success_time: '2026-01-01T08:00:00+08:00' });
    expect(adapter.parseRefund(cfg, r('ABNORMAL'), cx())).toMatchObject({ kind: 'accepted', status: 'failed' });
    expect(adapter.parseRefund(cfg, r('SUCCESS'), cx())).toMatchObject({ kind: 'accepted', status: 'succeeded', refundedAt: new Date('2026-01-01T00:00:00Z') });
    expect(adapter.parseRefundQuery(cfg, r('CLOSED'), cx())).toMatchObject({ kind: 'found', status: 'closed', refundMinor: 7n });
    expect(adapter.parseRefund(cfg, answer(403, { code: 'NOT_ENOUGH', message: 'm' }), cx())).toMatchObject({ kind: 'declined' });
    expect(adapter.parseRefund(cfg, answer(500, { code: 'SYSTEM_ERROR', message: 'm' }), cx())).toMatchObject({ kind: 'unknown' });
  });

  it('maps the bill answer: empty day, not ready yet', () => {
    expect(adapter.parseStatement(cfg, answer(400, { code: 'STATEMENT_CREATING', message: '账单生成中' }), cx())).toEqual({ kind: 'not_ready' });
    expect(adapter.parseStatement(cfg, answer(400, { code: 'NO_STATEMENT_EXIST', message: 'm' }), cx())).toMatchObject({ kind: 'lines', lines: [] });
  });
});

describe('notifications', () => {
  const tx = () => ({ mchid: cfg.mchid, out_trade_no: 'A1', transaction_id: '42', trade_state: 'SUCCESS', amount: { total: 9, currency: 'CNY' } });

  it('decrypts a verified notification and acknowledges with 204', () => {
    const r = adapter.verifyNotification(cfg, notification('TRANSACTION.SUCCESS', tx()), cx());
    expect(r).toMatchObject({ ok: true, event: { type: 'payment', outTradeNo: 'A1', amountMinor: 9n, status: 'succeeded' }, ack: { status: 204 } });
  });

  it('answers a nack with {"code":"FAIL"} for anything it cannot trust or read', () => {
    expect(adapter.verifyNotification(cfg, notification('SOMETHING.NEW', tx()), cx())).toMatchObject({ ok: false, code: 'bad_format' });
    expect(adapter.verifyNotification(cfg, notification('TRANSACTION.SUCCESS', { ...tx(), mchid: '1' }), cx())).toMatchObject({ ok: false, code: 'bad_format' });
    const undecryptable = adapter.verifyNotification(cfg, notification('TRANSACTION.SUCCESS', tx(), 'k'.repeat(32)), cx());
    expect(undecryptable).toMatchObject({ ok: false, code: 'decrypt_failed' });
    if (!undecryptable.ok) expect(JSON.parse(undecryptable.nack.body)).toMatchObject({ code: 'FAIL' });
  });
});

describe('wire formats', () => {
  it('reads bill amounts in yuan exactly, rounding the fee digits explicitly', () => {
    expect(yuanToFen('0.01')).toBe(1n);
    expect(yuanToFen('12.3')).toBe(1230n);
    expect(yuanToFen('-0.06000')).toBe(-6n);
    expect(yuanToFen('0.00500')).toBe(1n);
    expect(yuanToFen('0.00499')).toBe(0n);
    expect(yuanToFen('1e3')).toBeUndefined();
  });

  it('refuses files that are not bills or whose rows do not fit the header', () => {
    expect(parseTradeBill('hello')).toMatchObject({ ok: false });
    const header = '交易时间,商户订单号,交易状态,手续费,订单金额';
    const summary = '总交易单数,订单总金额,申请退款总金额,手续费总金额\r\n`1,`1.00,`0.00,`0.00000';
    expect(parseTradeBill(`${header}\r\n\`2026-01-01 00:00:00,\`A,\`SUCCESS,\`0.00000\r\n${summary}`)).toMatchObject({ ok: false, message: expect.stringContaining('fields') });
    expect(parseTradeBill(`${header}\r\n\`2026-01-01 00:00:00,\`A,\`SUCCESS,\`0.00000,\`1.00\r\n${summary}`)).toMatchObject({ ok: true, totals: { count: 1, amountMinor: 100n } });
  });
});

describe('config', () => {
  it('explains what is wrong and keeps secrets out of JSON', () => {
    expect(adapter.parseConfig(null)).toMatchObject({ ok: false });
    expect(adapter.parseConfig({ ...account.config, apiV3Key: 'short' })).toMatchObject({ ok: false, message: expect.stringContaining('apiV3Key') });
    expect(adapter.parseConfig({ ...account.config, platformCertificates: [] })).toMatchObject({ ok: false, message: expect.stringContaining('platformCertificates') });
    expect(adapter.parseConfig({ ...account.config, platformCertificates: ['junk'] })).toMatchObject({ ok: false, message: expect.stringContaining('platformCertificates[0]') });
    expect(adapter.parseConfig({ ...account.config, merchantPrivateKeyPem: 'nope' })).toMatchObject({ ok: false, message: expect.stringContaining('merchantPrivateKeyPem') });
    expect(adapter.parseConfig({ ...account.config, baseUrl: 'ftp://x' })).toMatchObject({ ok: false, message: expect.stringContaining('baseUrl') });
    expect(JSON.stringify(cfg)).not.toContain(account.merchant.apiV3Key);
    expect(JSON.stringify(cfg)).not.toContain('PRIVATE KEY');
  });
});
