/**
 * The cashier page (收银台) a payer opens from the merchant's cashier link. It is one
 * self-contained HTML document: the route sends a CSP that allows only inline scripts and styles
 * and same-origin requests, so nothing here may load a script, style, font or image from elsewhere.
 *
 * The order subject and return URL are merchant-controlled text, and the channel's action comes
 * from outside too, so everything written into HTML goes through `escapeHtml`, the state handed to
 * the script goes through `scriptJson`, and the script itself builds the DOM with `textContent`
 * and accepts only http(s) URLs for links and form targets.
 */
import { CURRENCIES } from '../../kernel/money.js';

export interface CashierState {
  order_no: string;
  subject: string;
  amount: number;
  currency: string;
  status: string;
  failure_code: string | null;
  expires_at: string;
  methods: string[];
  action: unknown;
  return_url: string | null;
}

/** What each method's button says; a method missing here shows its code. */
const LABELS: Readonly<Record<string, string>> = {
  wechat_native: '微信支付(扫码)', wechat_jsapi: '微信内支付', alipay_qr: '支付宝(扫码)', alipay_page: '支付宝网页支付',
  unionpay_qr: '云闪付/银联二维码', bank_quick: '银行卡快捷支付', bank_gateway: '网银支付', card: '预付卡 Prepaid card', balance: '账户余额 Account balance',
};
const HINTS: Readonly<Record<string, string>> = {
  wechat_native: 'WeChat Pay QR', wechat_jsapi: 'inside WeChat', alipay_qr: 'Alipay QR', alipay_page: 'Alipay web',
  unionpay_qr: 'UnionPay QR', bank_quick: 'bank card quick pay', bank_gateway: 'online banking',
};
/** Methods that pay alone from a button; bank_quick needs card details first, card/balance only combine. */
const STORED_VALUE = new Set(['card', 'balance']);

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * JSON that is safe inside a <script> element: `<`, `>` and `&` become \u escapes so `</script>` or
 * `<!--` in a string cannot end or confuse the element, and U+2028/U+2029 are escaped for old parsers.
 */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Minor units to a display amount ("¥12.34") with integer arithmetic only: no float ever rounds a fen. */
export function formatAmount(amountMinor: number, currency: string): string {
  const exp = CURRENCIES[currency] ?? 2;
  const unit = 10 ** exp;
  const abs = Math.abs(amountMinor);
  const frac = abs % unit;
  const whole = (abs - frac) / unit;
  const digits = exp === 0 ? `${whole}` : `${whole}.${`${frac}`.padStart(exp, '0')}`;
  return `${amountMinor < 0 ? '-' : ''}${currency === 'CNY' ? '¥' : `${currency} `}${digits}`;
}

function methodButton(m: string): string {
  const hint = HINTS[m] ? ` <small>${escapeHtml(HINTS[m])}</small>` : '';
  return `<button type="button" class="m" data-method="${escapeHtml(m)}">${escapeHtml(LABELS[m] ?? m)}${hint}</button>`;
}

function quickForm(): string {
  return `<details class="quick"><summary>${escapeHtml(LABELS['bank_quick'] ?? '')} <small>bank card quick pay</small></summary>
<form id="quick"><label>银行卡号 Card number<input name="cardNo" inputmode="numeric" maxlength="32" required autocomplete="cc-number"></label>
<label>持卡人姓名 Holder name<input name="holderName" maxlength="64" required autocomplete="cc-name"></label>
<label>身份证号 ID number<input name="idNumber" maxlength="32" required></label>
<label>手机号 Phone<input name="phone" inputmode="tel" maxlength="20" required autocomplete="tel"></label>
<button type="submit">获取验证码并支付 Send SMS code and pay</button></form></details>`;
}

function combinedForm(stored: string[], rest: string[]): string {
  const kinds = stored.map((k) => `<option value="${escapeHtml(k)}">${escapeHtml(LABELS[k] ?? k)}</option>`).join('');
  const methods = rest.map((m) => `<option value="${escapeHtml(m)}">${escapeHtml(LABELS[m] ?? m)}</option>`).join('');
  return `<section><h2>组合支付 <small>Combined payment</small></h2>
<form id="combo"><label>支付方式 Pay with<select name="kind">${kinds}</select></label>
<label>卡号/账户号 Card or account ID<input name="id" inputmode="numeric" pattern="[0-9]{1,19}" required></label>
<label class="pin">密码 PIN (card only)<input name="pin" type="password" inputmode="numeric" maxlength="12" autocomplete="off"></label>
<label>本次使用金额 Amount (元)<input name="amount" inputmode="decimal" placeholder="0.00" required></label>
<label>剩余金额支付方式 Pay the rest with<select name="rest">${methods}</select></label>
<button type="submit">组合支付 Pay combined</button></form></section>`;
}

export function cashierPage(state: CashierState, token: string): string {
  const channel = state.methods.filter((m) => !STORED_VALUE.has(m));
  const stored = state.methods.filter((m) => STORED_VALUE.has(m));
  // The rest of a combined payment goes to a method that needs no extra form (quick pay needs card details).
  const rest = channel.filter((m) => m !== 'bank_quick');
  const boot = {
    orderNo: state.order_no, token, status: state.status, failureCode: state.failure_code, expiresAt: state.expires_at, action: state.action ?? null,
    returnUrl: state.return_url, amount: state.amount, exp: CURRENCIES[state.currency] ?? 2, symbol: state.currency === 'CNY' ? '¥' : `${state.currency} `,
  };
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer"><title>收银台 Cashier</title>
<style>
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;background:#f3f4f6;color:#111}
main{max-width:480px;margin:0 auto;padding:16px}section{background:#fff;border-radius:12px;padding:16px;margin-bottom:12px}
h1{font-size:20px;margin:4px 0 12px}h2{font-size:16px;margin:0 0 8px}small{color:#6b7280;font-weight:normal}
.amount{font-size:32px;font-weight:700;margin:4px 0}.subject{word-break:break-word}.meta{color:#6b7280;font-size:14px}
button,.btn{display:block;width:100%;padding:12px;margin:8px 0;border:1px solid #d1d5db;border-radius:8px;background:#fff;font:inherit;text-align:left;cursor:pointer;color:#111;text-decoration:none}
button[type=submit],.btn{background:#1677ff;color:#fff;border-color:#1677ff;text-align:center}button:disabled{opacity:.5;cursor:default}
label{display:block;font-size:14px;margin:8px 0}input,select{display:block;width:100%;padding:10px;margin-top:4px;border:1px solid #d1d5db;border-radius:8px;font:inherit}
code{display:block;padding:12px;background:#f9fafb;border:1px dashed #9ca3af;border-radius:8px;word-break:break-all;font-size:15px}
summary{padding:12px;border:1px solid #d1d5db;border-radius:8px;cursor:pointer}.ok{color:#15803d}.bad{color:#b91c1c}#msg{min-height:1.5em}
</style></head><body><main>
<h1>收银台 <small>Cashier</small></h1>
<section><div class="subject" id="subject">${escapeHtml(state.subject)}</div>
<div class="amount" id="amount">${escapeHtml(formatAmount(state.amount, state.currency))}</div>
<div class="meta">订单号 Order no. ${escapeHtml(state.order_no)}</div>
<div class="meta">剩余时间 Time left: <span id="left">${escapeHtml(state.expires_at)}</span></div></section>
<section id="result" hidden></section>
<div id="pay"><section id="methods"><h2>选择支付方式 <small>Choose how to pay</small></h2>
${channel.filter((m) => m !== 'bank_quick').map(methodButton).join('\n')}
${channel.includes('bank_quick') ? quickForm() : ''}</section>
${stored.length > 0 ? combinedForm(stored, rest) : ''}
<section id="action" hidden></section></div>
<p id="msg" role="alert"></p>
</main>
<script>const BOOT = ${scriptJson(boot)};</script>
<script>${CLIENT_JS}</script>
</body></html>`;
}

/**
 * The page's behaviour. Plain ES2017 without template literals (this text is itself one); it reads
 * BOOT, builds every dynamic node with textContent, and never puts server text into innerHTML.
 */
const CLIENT_JS = String.raw`
'use strict';
var $ = function (id) { return document.getElementById(id); };
var base = '/cashier/' + encodeURIComponent(BOOT.orderNo);
var q = '?t=' + encodeURIComponent(BOOT.token);
var shown = 'null';
var timer = null, ticker = null;
function el(tag, props, kids) {
  var n = document.createElement(tag);
  Object.keys(props || {}).forEach(function (k) { if (k === 'text') n.textContent = props[k]; else n.setAttribute(k, props[k]); });
  (kids || []).forEach(function (c) { n.appendChild(c); });
  return n;
}
function safeUrl(u) { return typeof u === 'string' && /^https?:\/\//i.test(u) ? u : null; }
function say(text, cls) { var m = $('msg'); m.textContent = text || ''; m.className = cls || ''; }
function toMinor(text) {
  var m = /^(\d{1,13})(?:\.(\d*))?$/.exec(String(text).trim());
  if (!m || (m[2] || '').length > BOOT.exp) return null;
  var frac = (m[2] || '').padEnd(BOOT.exp, '0');
  return Number(m[1]) * Math.pow(10, BOOT.exp) + Number(frac || '0');
}
function fmt(minor) {
  var unit = Math.pow(10, BOOT.exp), f = minor % unit, w = (minor - f) / unit;
  return BOOT.symbol + w + (BOOT.exp ? '.' + String(f).padStart(BOOT.exp, '0') : '');
}
function deviceId() {
  try {
    var d = localStorage.getItem('paycore_device');
    if (!d) { d = Array.from(crypto.getRandomValues(new Uint8Array(12)), function (b) { return b.toString(16).padStart(2, '0'); }).join(''); localStorage.setItem('paycore_device', d); }
    return d;
  } catch (e) { return undefined; }
}
function call(path, body) {
  if (path === '/pay' && deviceId()) body.device_id = deviceId();
  say('处理中… Working…');
  return fetch(base + path + q, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), credentials: 'same-origin' })
    .then(function (r) { return r.json().catch(function () { return {}; }).then(function (j) { return { ok: r.ok, body: j }; }); })
    .then(function (r) {
      if (!r.ok) { var e = r.body && r.body.error || {}; say('支付未完成 Not paid: ' + (e.code || 'error') + (e.message ? ' — ' + e.message : ''), 'bad'); return; }
      if (r.body.outcome === 'challenge') { lastPay = { path: path, body: body }; return showChallenge(r.body.challenge_id); }
      if (r.body.outcome === 'risk_review') { say('支付审核中，请稍候 Your payment is being reviewed; this page updates by itself'); return; }
      if (r.body.outcome === 'cleared_submit_again' && lastPay) return call(lastPay.path, lastPay.body);
      say(r.body.outcome === 'unknown' ? '正在确认结果 Confirming the result…' : '');
      update(r.body, true);
    }, function () { say('网络错误，请重试 Network error, please retry', 'bad'); });
}
var lastPay = null;
function showChallenge(id) {
  var box = $('action');
  box.textContent = ''; box.hidden = false; shown = null;
  var form = el('form', { id: 'stepup' }, [el('label', { text: '安全验证：请输入短信验证码 Security check: enter the code we sent you' }, [el('input', { name: 'code', inputmode: 'numeric', minlength: '6', maxlength: '6', required: '', autocomplete: 'one-time-code' })]),
    el('button', { type: 'submit', text: '验证 Verify' })]);
  form.addEventListener('submit', function (ev) { ev.preventDefault(); call('/challenge', { challenge_id: id, code: form.elements.code.value.trim() }); });
  box.append(form);
  say('');
}
function showAction(a) {
  var box = $('action');
  shown = JSON.stringify(a);
  box.textContent = '';
  box.hidden = !a;
  if (!a) return;
  if (a.type === 'qr_code') {
    var code = el('code', { id: 'code-url', text: a.codeUrl });
    var copy = el('button', { type: 'button', text: '复制链接 Copy' });
    copy.addEventListener('click', function () {
      var done = function () { copy.textContent = '已复制 Copied'; };
      if (navigator.clipboard) navigator.clipboard.writeText(a.codeUrl).then(done, function () {});
      else { var r = document.createRange(); r.selectNodeContents(code); getSelection().removeAllRanges(); getSelection().addRange(r); }
    });
    box.append(el('h2', { text: '请用手机扫码或打开以下链接 Scan or open this code with your payment app' }), code, copy);
  } else if (a.type === 'redirect' && safeUrl(a.url)) {
    box.append(el('a', { class: 'btn', href: safeUrl(a.url), text: '前往支付 Continue to pay' }));
  } else if (a.type === 'form_post' && safeUrl(a.url)) {
    var f = el('form', { method: 'post', action: safeUrl(a.url) });
    Object.keys(a.fields || {}).forEach(function (k) { f.appendChild(el('input', { type: 'hidden', name: k, value: String(a.fields[k]) })); });
    f.appendChild(el('button', { type: 'submit', text: '前往支付 Continue to pay' }));
    box.append(f);
  } else if (a.type === 'jsapi') {
    var go = el('button', { type: 'submit', text: '确认支付 Pay in WeChat' });
    go.addEventListener('click', function () {
      if (window.WeixinJSBridge) window.WeixinJSBridge.invoke('getBrandWCPayRequest', a.params, function () { poll(); });
      else say('请在微信中打开本页 Please open this page in WeChat', 'bad');
    });
    box.append(go);
  } else if (a.type === 'sms_code') {
    var form = el('form', { id: 'sms' }, [el('label', { text: '短信验证码 SMS code' }, [el('input', { name: 'code', inputmode: 'numeric', minlength: '4', maxlength: '8', required: '', autocomplete: 'one-time-code' })]),
      el('button', { type: 'submit', text: '确认支付 Confirm' })]);
    form.addEventListener('submit', function (ev) { ev.preventDefault(); call('/confirm', { sms_code: form.elements.code.value.trim() }); });
    box.append(form);
  } else {
    box.append(el('p', { class: 'bad', text: '无法处理的支付指令 Unsupported action' }));
  }
  if (box.scrollIntoView) box.scrollIntoView({ block: 'nearest' });
}
function update(s, fromPay) {
  var r = $('result');
  if (s.status === 'succeeded' || s.status === 'closed' || s.status === 'failed') {
    clearInterval(timer); clearInterval(ticker); timer = null;
    $('pay').hidden = true; r.hidden = false; r.textContent = '';
    if (s.status === 'succeeded') {
      r.append(el('h2', { class: 'ok', text: '支付成功 Payment succeeded' }));
      var back = safeUrl(s.return_url);
      if (back) r.append(el('a', { class: 'btn', href: back, text: '返回商户 Back to the merchant' }));
    } else if (s.status === 'closed') {
      r.append(el('h2', { class: 'bad', text: s.failure_code === 'expired' ? '已过期 Order expired' : '已关闭 Order closed' }));
    } else {
      r.append(el('h2', { class: 'bad', text: '支付失败 Payment failed: ' + (s.failure_code || 'unknown') }));
    }
    say('');
    return;
  }
  if (s.status === 'created' && s.failure_code) say('上次支付未成功 Last attempt failed: ' + s.failure_code, 'bad');
  if (fromPay || (s.action && JSON.stringify(s.action) !== shown)) showAction(s.action || null);
}
function poll() {
  fetch(base + '/status' + q, { credentials: 'same-origin' }).then(function (r) { return r.ok ? r.json() : null; })
    .then(function (s) { if (s) update(s, false); }, function () {});
}
function tick() {
  var ms = Date.parse(BOOT.expiresAt) - Date.now();
  if (!(ms > 0)) { $('left').textContent = '已过期 expired'; return; }
  var s = Math.floor(ms / 1000), h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60;
  $('left').textContent = (h ? h + ':' : '') + String(m).padStart(2, '0') + ':' + String(s % 60).padStart(2, '0');
}
document.querySelectorAll('button.m').forEach(function (b) {
  b.addEventListener('click', function () { call('/pay', { method: b.getAttribute('data-method') }); });
});
var quick = $('quick');
if (quick) quick.addEventListener('submit', function (ev) {
  ev.preventDefault();
  var card = {};
  ['cardNo', 'holderName', 'idNumber', 'phone'].forEach(function (k) { card[k] = quick.elements[k].value.trim(); });
  call('/pay', { method: 'bank_quick', bank_card: card });
});
var combo = $('combo');
if (combo) combo.addEventListener('submit', function (ev) {
  ev.preventDefault();
  var e = combo.elements, part = toMinor(e.amount.value);
  if (part === null || part < 1 || part > BOOT.amount) { say('金额无效 Invalid amount (at most ' + fmt(BOOT.amount) + ')', 'bad'); return; }
  var leg = { kind: e.kind.value, amount: part };
  if (leg.kind === 'card') { leg.card_id = e.id.value.trim(); if (e.pin.value) leg.pin = e.pin.value; } else leg.account_id = e.id.value.trim();
  var legs = [leg];
  if (part < BOOT.amount) {
    if (!e.rest.value) { say('请选择剩余金额的支付方式 Choose how to pay the rest', 'bad'); return; }
    legs.push({ kind: 'channel', method: e.rest.value, amount: BOOT.amount - part });
  }
  call('/pay', { legs: legs });
});
tick(); ticker = setInterval(tick, 1000);
update({ status: BOOT.status, failure_code: BOOT.failureCode, action: BOOT.action, return_url: BOOT.returnUrl }, false);
if (BOOT.status !== 'succeeded' && BOOT.status !== 'closed' && BOOT.status !== 'failed') timer = setInterval(poll, 2000);
`;
