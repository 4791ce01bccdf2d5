/**
 * Builds signed gateway requests. Like Alipay's own SDKs, the common ("system") parameters travel
 * in the URL query, so the gateway knows `charset` before it decodes the body, and `biz_content`
 * travels in an application/x-www-form-urlencoded POST body. The signature covers all of them.
 */
import type { CallContext, HttpRequestSpec } from '../../adapter.js';
import type { AlipayConfig } from './alipay.config.js';
import { chinaTime, rsa2Sign, signingContent } from './alipay.sign.js';

const URL_PARAMS = new Set(['app_id', 'method', 'format', 'charset', 'sign_type', 'sign', 'timestamp', 'version', 'notify_url', 'return_url', 'app_auth_token']);

export const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded;charset=utf-8';

/** All parameters of one call, signed. Deterministic for the same input and `cx.now` (RSA PKCS#1 v1.5 signatures are). */
export function signedParams(
  cfg: AlipayConfig,
  method: string,
  biz: Record<string, unknown>,
  cx: CallContext,
  extra: { notify_url?: string; return_url?: string } = {},
): Record<string, string> {
  const params: Record<string, string> = {
    app_id: cfg.appId,
    method,
    format: 'JSON',
    charset: 'utf-8',
    sign_type: 'RSA2',
    timestamp: chinaTime(cx.now),
    version: '1.0',
    biz_content: JSON.stringify(biz),
  };
  if (extra.notify_url) params['notify_url'] = extra.notify_url;
  if (extra.return_url) params['return_url'] = extra.return_url;
  params['sign'] = rsa2Sign(signingContent(params, ['sign']), cfg.appPrivateKey.reveal());
  return params;
}

export function gatewayRequest(cfg: AlipayConfig, params: Readonly<Record<string, string>>): HttpRequestSpec {
  const query = new URLSearchParams();
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) (URL_PARAMS.has(k) ? query : body).append(k, v);
  return {
    method: 'POST',
    url: `${cfg.gatewayUrl}?${query.toString()}`,
    headers: { 'content-type': FORM_CONTENT_TYPE, accept: 'application/json' },
    body: body.toString(),
  };
}

export function call(cfg: AlipayConfig, method: string, biz: Record<string, unknown>, cx: CallContext, extra?: { notify_url?: string; return_url?: string }): HttpRequestSpec {
  return gatewayRequest(cfg, signedParams(cfg, method, biz, cx, extra));
}
