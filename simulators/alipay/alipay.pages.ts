/**
 * The few HTML pages the simulator shows a browser: the page-pay cashier, the page behind a QR
 * code, and the gateway's error page. The error page keeps the wording Alipay's gateway uses
 * ("错误代码 <code> 错误原因: <message>"), which page-pay callers read to tell a refused request.
 */
import { yuan } from './alipay.crypto.js';
import type { SimTrade } from './alipay.state.js';

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function page(title: string, body: string): string {
  return `<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8"><title>${esc(title)}</title></head><body>\n${body}\n</body></html>\n`;
}

/** Buttons that let a person play the payer: they post to the simulator's control endpoint. */
function payerButtons(t: SimTrade): string {
  const action = `/__sim/trades/${encodeURIComponent(t.outTradeNo)}/pay`;
  return [
    `<form method="post" action="${esc(action)}"><input type="hidden" name="result" value="success"><button type="submit">确认付款</button></form>`,
    `<form method="post" action="${esc(action)}"><input type="hidden" name="result" value="fail"><button type="submit">放弃付款</button></form>`,
  ].join('\n');
}

export function cashierPage(t: SimTrade): string {
  return page(
    '支付宝 - 网上支付 安全快速！',
    `<h1>支付宝收银台（模拟）</h1>\n<p>订单号：<span id="out_trade_no">${esc(t.outTradeNo)}</span></p>\n<p>商品：${esc(t.subject)}</p>\n<p>应付金额：<strong id="total_amount">${yuan(t.totalFen)}</strong> 元</p>\n${payerButtons(t)}`,
  );
}

export function qrPage(t: SimTrade): string {
  return page('支付宝扫码支付（模拟）', `<h1>扫码付款（模拟）</h1>\n<p>${esc(t.subject)}：<strong>${yuan(t.totalFen)}</strong> 元</p>\n${payerButtons(t)}`);
}

export function errorPage(code: string, reason: string): string {
  return page('支付宝 - 网上支付 安全快速！', `<h1>调试错误，请回到请求来源地，重新发起请求。</h1>\n<p>错误代码 ${esc(code)} 错误原因: ${esc(reason)}</p>`);
}
