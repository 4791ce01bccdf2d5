// Proves the Alipay adapter's pure parts: config checks, signing strings, cutting signed answers out of raw bodies, code mapping that never calls an ambiguous answer a decline, page-pay forms, and bill parsing with its summary cross-check.
import { createPublicKey, createSign, createVerify, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { inspect } from 'node:util';
import { zipSync } from 'fflate';
import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import type { CallContext, HttpResponseData, PayRequest } from '../../adapter.js';
import { alipayAdapter, type AlipayConfig } from './alipay.adapter.js';
import { chinaTime, parseChinaTime, rawMember, signingContent } from './alipay.sign.js';

const app = generateKeyPairSync('rsa', { modulusLength: 2048 });
const platform = generateKeyPairSync('rsa', { modulusLength: 2048 });
const b64 = (k: KeyObject, type: 'pkcs8' | 'spki') => k.export({ format: 'der', type }).toString('base64');
const rawConfig = { appId: '2021000000000007', gatewayUrl: 'https://openapi.alipay.com/gateway.do', appPrivateKey: b64(app.privateKey, 'pkcs8'), alipayPublicKey: b64(platform.publicKey, 'spki') };

function config(raw: unknown = rawConfig): AlipayConfig {
  const r = alipayAdapter.parseConfig(raw);
  if (!r.ok) throw new Error(r.message);
  return r.config;
}
const cfg = config();
const cx: CallContext = { now: new Date('2024-05-01T02:03:04Z'), nonce: 'n0n0n0n0n0n0n0n0n0' };

/** An answer as the gateway would print it: `/` escaped, signed over the exact text. */
function answer(method: string, fields: Record<string, unknown>, opts: { sign?: 'exact' | 'unescaped' | 'none'; status?: number } = {}): HttpResponseData {
  const text = JSON.stringify(fields).replace(/\//g, '\\/');
  const signed = opts.sign === 'unescaped' ? JSON.stringify(fields) : text;
  const sig = createSign('RSA-SHA256').update(signed).sign(platform.privateKey, 'base64');
  const key = `${method.replace(/\./g, '_')}_response`;
  const body = opts.sign === 'none' ? `{"${key}":${text}}` : `{"${key}":${text},"sign":"${sig}"}`;
  return { status: opts.status ?? 200, headers: { 'content-type': 'application/json' }, body };
}

const payReq = (over: Partial<PayRequest> = {}): PayRequest => ({
  outTradeNo: 'P1',
  amountMinor: 1234n,
  currency: 'CNY',
  subject: 'x',
  expiresAt: new Date('2024-05-01T03:00:00Z'),
  notifyUrl: 'https://pay.example/notify',
  method: 'alipay_qr',
  ...over,
});
const biz = (code: string, subCode: string) => ({ code, msg: 'Business Failed', sub_code: subCode, sub_msg: 'x' });

describe('config', () => {
  it('reads Alipay-tool base64 keys and PEM keys, and never shows the private key', () => {
    expect(config().appId).toBe('2021000000000007');
    const pem = config({ ...rawConfig, appPrivateKey: app.privateKey.export({ format: 'pem', type: 'pkcs1' }).toString(), alipayPublicKey: platform.publicKey.export({ format: 'pem', type: 'spki' }).toString() });
    expect(pem.alipayPublicKey.asymmetricKeyType).toBe('rsa');
    const shown = `${JSON.stringify(cfg)} ${inspect(cfg, { depth: 5 })}`;
    expect(shown).not.toContain(rawConfig.appPrivateKey.slice(40, 80));
    expect(shown).toContain('redacted');
  });

  it('refuses bad configs with a message naming the field', () => {
    const bad = (patch: Record<string, unknown>) => {
      const r = alipayAdapter.parseConfig({ ...rawConfig, ...patch });
      return r.ok ? 'ok' : r.message;
    };
    expect(alipayAdapter.parseConfig(null)).toMatchObject({ ok: false });
    expect(bad({ appId: 'abc' })).toContain('appId');
    expect(bad({ gatewayUrl: 'http://openapi.alipay.com/gateway.do' })).toContain('https');
    expect(bad({ gatewayUrl: 'http://127.0.0.1:9/gateway.do' })).toBe('ok');
    expect(bad({ sellerId: '1234' })).toContain('sellerId');
    expect(bad({ appPrivateKey: 'not a key!' })).toContain('appPrivateKey');
    expect(bad({ alipayPublicKey: b64(app.privateKey, 'pkcs8') })).toContain('alipayPublicKey');
    expect(bad({ extra: 1 })).toContain('extra');
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(bad({ appPrivateKey: b64(small.privateKey, 'pkcs8') })).toContain('2048');
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(bad({ alipayPublicKey: b64(ec.publicKey, 'spki') })).toContain('RSA');
  });
});

describe('signing helpers', () => {
  it('signs non-empty parameters sorted by key, without the excluded ones', () => {
    expect(signingContent({ b: '2', a: '1', sign: 's', empty: '', c: 'x y' }, ['sign'])).toBe('a=1&b=2&c=x y');
  });
  it('formats and parses China time', () => {
    expect(chinaTime(new Date('2024-05-01T16:30:00Z'))).toBe('2024-05-02 00:30:00');
    expect(parseChinaTime('2024-05-02 00:30:00')?.toISOString()).toBe('2024-05-01T16:30:00.000Z');
    expect(parseChinaTime('2015-04-28 15:45:57.320')?.toISOString()).toBe('2015-04-28T07:45:57.320Z');
    expect(parseChinaTime('2024-05-02T00:30:00')).toBeUndefined();
  });
  it('cuts a member out of the raw body exactly as printed', () => {
    const body = '{"a_response":{"s":"}{\\"","u":"http:\\/\\/x","n":{"k":[1,{"z":2}]}},"sign":"abc"}';
    expect(rawMember(body, 'a_response')).toBe('{"s":"}{\\"","u":"http:\\/\\/x","n":{"k":[1,{"z":2}]}}');
    expect(rawMember(body, 'sign')).toBe('"abc"');
    expect(rawMember(body, 'missing')).toBeUndefined();
    expect(rawMember('[1]', 'a')).toBeUndefined();
  });
});

describe('answers', () => {
  const query = (res: HttpResponseData) => alipayAdapter.parseQuery(cfg, res, cx);
  const paid = { code: '10000', msg: 'Success', trade_no: '2024', out_trade_no: 'P1', trade_status: 'TRADE_SUCCESS', total_amount: '12.34', send_pay_date: '2024-05-01 10:00:00' };

  it('accepts signed answers, including the unescaped-signature variant Alipay SDKs tolerate', () => {
    expect(query(answer('alipay.trade.query', paid))).toMatchObject({ kind: 'found', status: 'succeeded', amountMinor: 1234n, channelTradeNo: '2024' });
    expect(query(answer('alipay.trade.query', { ...paid, buyer: 'a/b' }, { sign: 'unescaped' })).kind).toBe('found');
  });

  it('treats unsigned, unverifiable, non-200 and malformed answers as unknown', () => {
    expect(query(answer('alipay.trade.query', paid, { sign: 'none' })).kind).toBe('unknown');
    const good = answer('alipay.trade.query', paid);
    expect(query({ ...good, body: good.body.replace('12.34', '99.34') }).kind).toBe('unknown');
    expect(query({ ...good, status: 502 }).kind).toBe('unknown');
    expect(query({ ...good, body: '<html>' }).kind).toBe('unknown');
    expect(query(answer('alipay.trade.query', { ...paid, total_amount: '12.345' })).kind).toBe('unknown');
    expect(query(answer('alipay.trade.query', { code: '40004', msg: 'x', sub_code: 'ACQ.TRADE_NOT_EXIST' }, { sign: 'none' })).kind).toBe('unknown');
  });

  it('maps trade states, telling a refunded trade from a closed one', () => {
    // TRADE_CLOSED after payment means refunded in full.
    expect(query(answer('alipay.trade.query', { ...paid, trade_status: 'TRADE_CLOSED' }))).toMatchObject({ kind: 'found', status: 'refunded' });
    const { send_pay_date: _unused, ...unpaid } = paid;
    expect(query(answer('alipay.trade.query', { ...unpaid, trade_status: 'TRADE_CLOSED' }))).toMatchObject({ kind: 'found', status: 'closed' });
    expect(query(answer('alipay.trade.query', { ...unpaid, trade_status: 'WAIT_BUYER_PAY' }))).toMatchObject({ kind: 'found', status: 'pending' });
    expect(query(answer('alipay.trade.query', biz('40004', 'ACQ.TRADE_NOT_EXIST')))).toEqual({ kind: 'not_found' });
    expect(query(answer('alipay.trade.query', biz('40004', 'ACQ.SYSTEM_ERROR'))).kind).toBe('unknown');
  });

  it('declines a pay only on codes that prove nothing was created', () => {
    const pay = (fields: Record<string, unknown>) => alipayAdapter.parsePay(cfg, payReq(), answer('alipay.trade.precreate', fields), cx);
    expect(pay({ code: '10000', msg: 'Success', out_trade_no: 'P1', qr_code: 'https://qr.alipay.com/bax1' })).toEqual({ kind: 'accepted', action: { type: 'qr_code', codeUrl: 'https://qr.alipay.com/bax1' } });
    expect(pay({ code: '10000', msg: 'Success', out_trade_no: 'OTHER', qr_code: 'https://qr.alipay.com/bax1' }).kind).toBe('unknown');
    expect(pay(biz('40004', 'ACQ.BEYOND_PAY_RESTRICTION'))).toMatchObject({ kind: 'declined', retryable: true });
    expect(pay(biz('40004', 'ACQ.INVALID_PARAMETER'))).toMatchObject({ kind: 'declined', retryable: false });
    for (const sub of ['ACQ.SYSTEM_ERROR', 'ACQ.TRADE_HAS_SUCCESS', 'ACQ.CONTEXT_INCONSISTENT', 'ACQ.SOMETHING_NEW']) expect(pay(biz('40004', sub)).kind).toBe('unknown');
    expect(pay({ code: '20000', msg: 'Service Currently Unavailable', sub_code: 'isp.unknow-error' }).kind).toBe('unknown');
    expect(pay({ code: '10003', msg: 'processing' }).kind).toBe('unknown');
    expect(pay({ code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.invalid-signature' })).toMatchObject({ kind: 'declined', retryable: true });
    expect(pay({ code: '40006', msg: 'Insufficient Permissions', sub_code: 'isv.insufficient-isv-permissions' })).toMatchObject({ kind: 'declined' });
  });

  it('maps refunds: fund_change, repeats, over-refunds and the refund query', () => {
    const refund = (fields: Record<string, unknown>) => alipayAdapter.parseRefund(cfg, answer('alipay.trade.refund', fields), cx);
    expect(refund({ code: '10000', msg: 'Success', fund_change: 'Y', gmt_refund_pay: '2024-05-01 10:00:00' })).toMatchObject({ kind: 'accepted', status: 'succeeded' });
    expect(refund({ code: '10000', msg: 'Success', fund_change: 'N' })).toEqual({ kind: 'accepted', status: 'processing' });
    expect(refund(biz('40004', 'ACQ.REFUND_AMT_NOT_EQUAL_TOTAL'))).toMatchObject({ kind: 'declined', code: 'ACQ.REFUND_AMT_NOT_EQUAL_TOTAL' });
    expect(refund(biz('40004', 'ACQ.SYSTEM_ERROR')).kind).toBe('unknown');
    expect(refund(biz('40004', 'ACQ.DISCORDANT_REPEAT_REQUEST')).kind).toBe('unknown');
    const rq = (fields: Record<string, unknown>) => alipayAdapter.parseRefundQuery(cfg, answer('alipay.trade.fastpay.refund.query', fields), cx);
    expect(rq({ code: '10000', msg: 'Success', out_request_no: 'R1', refund_amount: '1.00', refund_status: 'REFUND_SUCCESS', gmt_refund_pay: '2024-05-01 10:00:00.123' })).toMatchObject({ kind: 'found', refundMinor: 100n });
    expect(rq({ code: '10000', msg: 'Success' })).toEqual({ kind: 'not_found' });
  });

  it('never reads a close refused for state as closed or paid', () => {
    const close = (fields: Record<string, unknown>) => alipayAdapter.parseClose(cfg, answer('alipay.trade.close', fields), cx);
    expect(close({ code: '10000', msg: 'Success' })).toEqual({ kind: 'closed' });
    expect(close(biz('40004', 'ACQ.TRADE_STATUS_ERROR')).kind).toBe('unknown');
    expect(close(biz('40004', 'ACQ.TRADE_NOT_EXIST'))).toMatchObject({ kind: 'declined' });
  });
});

describe('page pay', () => {
  const req = payReq({ method: 'alipay_page', returnUrl: 'https://shop.example/back' });
  const html = (body: string): HttpResponseData => ({ status: 200, headers: { 'content-type': 'text/html' }, body });

  it('hands over the signed parameters as a form that verifies with the app key', () => {
    const r = alipayAdapter.parsePay(cfg, req, html('<html>cashier</html>'), cx);
    if (r.kind !== 'accepted' || r.action.type !== 'form_post') throw new Error('expected a form');
    const { sign, ...rest } = r.action.fields;
    expect(rest).toMatchObject({ method: 'alipay.trade.page.pay', timestamp: '2024-05-01 10:03:04', return_url: 'https://shop.example/back', notify_url: 'https://pay.example/notify' });
    expect(JSON.parse(rest['biz_content']!)).toMatchObject({ time_expire: '2024-05-01 11:00:00', product_code: 'FAST_INSTANT_TRADE_PAY' });
    const ok = createVerify('RSA-SHA256').update(signingContent(rest, [])).verify(createPublicKey(app.privateKey), sign!, 'base64');
    expect(ok).toBe(true);
    const spec = alipayAdapter.buildPay(cfg, req, cx);
    expect(new URL(spec.url).searchParams.get('sign')).toBe(sign);
  });

  it('reads the gateway error page: refusals decline, busy and already-paid are unknown', () => {
    const page = (code: string) => alipayAdapter.parsePay(cfg, req, html(`<p>错误代码 ${code} 错误原因: 验签出错</p>`), cx);
    expect(page('invalid-signature')).toMatchObject({ kind: 'declined', code: 'isv.invalid-signature' });
    expect(page('isp.unknow-error').kind).toBe('unknown');
    expect(page('ACQ.TRADE_HAS_SUCCESS').kind).toBe('unknown');
    expect(page('TRADE_HAS_SUCCESS').kind).toBe('unknown');
    expect(page('TRADE_HAS_CLOSE')).toMatchObject({ kind: 'declined', code: 'ACQ.TRADE_HAS_CLOSE' });
    expect(alipayAdapter.parsePay(cfg, req, { ...html('busy'), status: 503 }, cx).kind).toBe('unknown');
  });

  it('refuses currencies Alipay does not settle', () => {
    expect(() => alipayAdapter.buildPay(cfg, payReq({ currency: 'USD' }), cx)).toThrow(/CNY/);
  });
});

describe('bill', () => {
  const header = '支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注';
  const row = (type: string, amount: string, refundNo: string, fee: string) =>
    `2024050122001400000000000001\t,P1\t,${type}\t,商品,2024-05-01 10:00:00,2024-05-01 10:00:05,\t,\t,\t,\t,159****0001\t,${amount},${amount},0.00,0.00,0.00,0.00,0.00,,0.00\t,0.00,${refundNo}\t,${fee},0.00,`;
  const detail = (rows: string[]) =>
    ['#支付宝业务明细查询', '#账号：[20880000000000000156]', '#起始日期：[2024年05月01日 00:00:00]   终止日期：[2024年05月02日 00:00:00]', '#-----------------------------------------业务明细列表----------------------------------------', header, ...rows, '#-----------------------------------------业务明细列表结束------------------------------------', '#导出时间：[2024年05月02日 09:00:00]'].join('\r\n');
  const summary = (payments: number, refunds: number, net: string, fee: string) =>
    ['#支付宝业务汇总查询', '#账号：[20880000000000000156]', '#-----------------------------------------业务汇总列表----------------------------------------', '门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）,支付宝优惠（元）,商家优惠（元）,卡消费金额（元）,服务费（元）,分润（元）,实收净额（元）', `合计,,${payments},${refunds},${net},${net},0.00,0.00,0.00,${fee},0.00,0.00`, '#----------------------------------------业务汇总列表结束-------------------------------------'].join('\r\n');
  const zip = (files: Record<string, string>): HttpResponseData => {
    const bytes = Buffer.from(zipSync(Object.fromEntries(Object.entries(files).map(([n, t]) => [n, new Uint8Array(iconv.encode(t, 'gbk'))]))));
    return { status: 200, headers: { 'content-type': 'application/octet-stream' }, body: bytes.toString('utf8'), bytes };
  };
  const rows = [row('交易', '100.00', '', '-0.60'), row('退款', '-25.00', 'R1', '0.15')];

  it('reads payments and refunds with fees, and totals that match the summary', () => {
    const r = alipayAdapter.parseStatement(cfg, zip({ 'd.csv': detail(rows), 's.csv': summary(1, 1, '75.00', '-0.45') }), cx);
    expect(r).toMatchObject({
      kind: 'lines',
      lines: [
        { kind: 'payment', outTradeNo: 'P1', amountMinor: 10000n, feeMinor: 60n, status: 'SUCCESS' },
        { kind: 'refund', outTradeNo: 'P1', outRefundNo: 'R1', amountMinor: 2500n, feeMinor: -15n, status: 'REFUND' },
      ],
      totals: { count: 2, amountMinor: 7500n, feeMinor: 45n },
    });
    if (r.kind === 'lines') expect(r.lines[0]!.occurredAt.toISOString()).toBe('2024-05-01T02:00:05.000Z');
  });

  it('refuses a bill whose summary disagrees, or that holds an unknown kind of line', () => {
    expect(alipayAdapter.parseStatement(cfg, zip({ 'd.csv': detail(rows), 's.csv': summary(1, 1, '75.01', '-0.45') }), cx).kind).toBe('unknown');
    expect(alipayAdapter.parseStatement(cfg, zip({ 'd.csv': detail([row('冻结', '1.00', '', '0.00')]) }), cx).kind).toBe('unknown');
    expect(alipayAdapter.parseStatement(cfg, zip({ 'x.csv': 'hello' }), cx).kind).toBe('unknown');
  });

  it('takes the first hop to the download link and reads a missing bill as not ready', () => {
    const next = alipayAdapter.parseStatement(cfg, answer('alipay.data.dataservice.bill.downloadurl.query', { code: '10000', msg: 'Success', bill_download_url: 'https://dwbillcenter.alipay.com/downloadBillFile.resource?fileId=1' }), cx);
    expect(next).toMatchObject({ kind: 'next', request: { method: 'GET', url: 'https://dwbillcenter.alipay.com/downloadBillFile.resource?fileId=1' } });
    expect(alipayAdapter.parseStatement(cfg, answer('alipay.data.dataservice.bill.downloadurl.query', biz('40004', 'isp.bill_not_exist')), cx)).toEqual({ kind: 'not_ready' });
  });
});
