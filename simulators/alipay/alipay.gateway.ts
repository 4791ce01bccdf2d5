/**
 * The OpenAPI gateway (/gateway.do): common-parameter checks in the order and with the public
 * error codes Alipay documents (40001 missing / 40002 invalid arguments, isv.* sub_codes),
 * signature verification with the app's registered public key, dispatch to the trade APIs, and
 * signed JSON answers `{"<method>_response":{...},"sign":"..."}`. Page pay answers HTML instead.
 *
 * Not confirmed against Alipay: the exact timestamp window (15 minutes here), whether answers to
 * refused signatures are signed (they are here, when the app is known), and the sub_code for an
 * unparseable biz_content (isv.invalid-parameter here). Only the UTF-8 charset is supported.
 */
import type { KeyObject } from 'node:crypto';
import { alipayJson, contentToSign, parseBeijing, signRsa2, verifyRsa2 } from './alipay.crypto.js';
import { businessError, OK, type AlipayState, type TradeEvent } from './alipay.state.js';

export interface RegisteredApp {
  appId: string;
  pid: string;
  publicKey: KeyObject;
}

export type Decision = 'normal' | 'decline' | 'maintenance';

export interface GatewayDeps {
  apps: ReadonlyMap<string, RegisteredApp>;
  alipayPrivateKey: KeyObject;
  state: AlipayState;
  timestampWindowMs: number;
  /** Issues a 30-second bill download link, or answers isp.bill_not_exist. */
  billLink(app: RegisteredApp, biz: Record<string, unknown>, now: Date): Record<string, unknown>;
}

export interface GatewayAnswer {
  contentType: 'application/json;charset=utf-8' | 'text/html;charset=utf-8';
  body: string;
  events: TradeEvent[];
  /** The pay trade a page-pay request registered (for the cashier page). */
  pageTrade?: string;
}

export const METHODS = new Set([
  'alipay.trade.precreate',
  'alipay.trade.page.pay',
  'alipay.trade.query',
  'alipay.trade.close',
  'alipay.trade.refund',
  'alipay.trade.fastpay.refund.query',
  'alipay.data.dataservice.bill.downloadurl.query',
]);

export const MONEY_MOVING = new Set(['alipay.trade.precreate', 'alipay.trade.page.pay', 'alipay.trade.refund']);

const missing = (sub: string, what: string) => ({ code: '40001', msg: 'Missing Required Arguments', sub_code: sub, sub_msg: `缺少${what}参数` });
const invalid = (sub: string, text: string) => ({ code: '40002', msg: 'Invalid Arguments', sub_code: sub, sub_msg: text });

export const UNAVAILABLE = { code: '20000', msg: 'Service Currently Unavailable', sub_code: 'isp.unknow-error', sub_msg: '系统繁忙' };

/** Checks the common parameters and the signature; returns the app or the refusal to answer. */
function authenticate(deps: GatewayDeps, p: Record<string, string>, now: Date): { app: RegisteredApp } | { fields: Record<string, unknown>; app?: RegisteredApp } {
  if (!p['app_id']) return { fields: missing('isv.missing-app-id', 'AppID') };
  const app = deps.apps.get(p['app_id']);
  if (!app) return { fields: invalid('isv.invalid-app-id', '无效的AppID参数') };
  const refuse = (fields: Record<string, unknown>) => ({ fields, app });
  if (!p['sign_type']) return refuse(missing('isv.missing-signature-type', '签名类型'));
  if (p['sign_type'] !== 'RSA2') return refuse(invalid('isv.invalid-signature-type', '无效的签名类型'));
  if (!p['sign']) return refuse(missing('isv.missing-signature', '签名'));
  if (!p['timestamp']) return refuse(missing('isv.missing-timestamp', '时间戳'));
  const ts = parseBeijing(p['timestamp']);
  if (!ts || Math.abs(ts.getTime() - now.getTime()) > deps.timestampWindowMs) return refuse(invalid('isv.invalid-timestamp', '非法的时间戳参数'));
  if (!p['version']) return refuse(missing('isv.missing-version', '版本号'));
  if (p['charset'] && p['charset'].toLowerCase() !== 'utf-8') return refuse(invalid('isv.invalid-charset', '字符集错误'));
  if (p['format'] && p['format'].toUpperCase() !== 'JSON') return refuse(invalid('isv.invalid-format', '无效的数据格式'));
  const content = contentToSign(p, ['sign']);
  if (!verifyRsa2(content, p['sign'], app.publicKey)) {
    return refuse(invalid('isv.invalid-signature', `验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，网关生成的验签字符串为：${content}`));
  }
  return { app };
}

function parseBiz(p: Record<string, string>): Record<string, unknown> | undefined {
  if (p['biz_content'] === undefined) return {};
  try {
    const v: unknown = JSON.parse(p['biz_content']);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function json(deps: GatewayDeps, key: string, fields: Record<string, unknown>, signed: boolean, events: TradeEvent[] = []): GatewayAnswer {
  const text = alipayJson(fields);
  const body = signed ? `{"${key}":${text},"sign":"${signRsa2(text, deps.alipayPrivateKey)}"}` : `{"${key}":${text}}`;
  return { contentType: 'application/json;charset=utf-8', body, events };
}

function html(body: string, events: TradeEvent[] = [], pageTrade?: string): GatewayAnswer {
  const a: GatewayAnswer = { contentType: 'text/html;charset=utf-8', body, events };
  if (pageTrade !== undefined) a.pageTrade = pageTrade;
  return a;
}

export function handleGateway(
  deps: GatewayDeps,
  p: Record<string, string>,
  decision: Decision,
  now: Date,
  pages: { error(code: string, reason: string): string; cashier(outTradeNo: string): string },
): GatewayAnswer {
  const method = p['method'];
  if (!method) return json(deps, 'error_response', missing('isv.missing-method', '方法名'), false);
  if (!METHODS.has(method)) return json(deps, 'error_response', invalid('isv.invalid-method', '不存在的方法名'), false);
  const key = `${method.replace(/\./g, '_')}_response`;
  const isPage = method === 'alipay.trade.page.pay';
  const errorPage = (f: Record<string, unknown>) => html(pages.error(String(f['sub_code'] ?? f['code']).replace(/^isv\./, ''), String(f['sub_msg'] ?? f['msg'])));

  if (decision === 'maintenance') return isPage ? errorPage(UNAVAILABLE) : json(deps, key, UNAVAILABLE, true);
  const auth = authenticate(deps, p, now);
  if ('fields' in auth) return isPage ? errorPage(auth.fields) : json(deps, key, auth.fields, auth.app !== undefined);
  const app = auth.app;
  const biz = parseBiz(p);
  if (!biz) return isPage ? errorPage(invalid('isv.invalid-parameter', 'biz_content 不是合法的JSON')) : json(deps, key, invalid('isv.invalid-parameter', 'biz_content 不是合法的JSON'), true);
  const notifyUrl = p['notify_url'] && /^https?:\/\//.test(p['notify_url']) ? p['notify_url'] : undefined;

  switch (method) {
    case 'alipay.trade.precreate':
    case 'alipay.trade.page.pay': {
      const declineFields = businessError('ACQ.BEYOND_PER_RECEIPT_RESTRICTION', '商户收款额度超限');
      const { fields, trade } = decision === 'decline' ? { fields: declineFields, trade: undefined } : deps.state.order(app, isPage ? 'page' : 'precreate', biz, notifyUrl, now);
      if (!isPage) return json(deps, key, fields, true);
      return fields['code'] === OK.code && trade ? html(pages.cashier(trade.outTradeNo), [], trade.outTradeNo) : errorPage(fields);
    }
    case 'alipay.trade.query':
      return json(deps, key, deps.state.query(app.appId, biz), true);
    case 'alipay.trade.close':
      return json(deps, key, deps.state.close(app.appId, biz, now), true);
    case 'alipay.trade.refund': {
      const out = deps.state.refund(app.appId, biz, now, decision === 'decline');
      return json(deps, key, out.fields, true, out.events);
    }
    case 'alipay.trade.fastpay.refund.query':
      return json(deps, key, deps.state.refundQuery(app.appId, biz), true);
    case 'alipay.data.dataservice.bill.downloadurl.query':
      return json(deps, key, deps.billLink(app, biz, now), true);
    default:
      return json(deps, 'error_response', invalid('isv.invalid-method', '不存在的方法名'), false);
  }
}
