/**
 * Notification domains: the hosts a merchant registered for payment notifications (回调).
 * Paycore only ever POSTs notifications to a URL within them, so a compromised or mistyped
 * notify_url in an order cannot make Paycore call an arbitrary host (SSRF, leaking data).
 *
 * Rules:
 * - A registered domain is a lower-case DNS name of at least two labels (IDNs in punycode,
 *   "xn--..."), or exactly "localhost" or "127.0.0.1" for development and tests. Other IP
 *   addresses and wildcards are refused.
 * - A URL is within the domains when its host equals a registered domain or is a subdomain of
 *   one ("pay.shop.example.com" is within "shop.example.com"; "evilshop.example.com" and
 *   "example.com" are not).
 * - Only https URLs, except for localhost and 127.0.0.1, where http is allowed too. URLs with
 *   user information (user:pass@) are refused. Any port is allowed.
 */
import { fail, ok, type Result } from '../../../kernel/errors.js';

export const MAX_NOTIFY_DOMAINS = 10;
const LOCAL_HOSTS = ['localhost', '127.0.0.1'];
const LABEL_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function isLocalHost(host: string): boolean {
  return LOCAL_HOSTS.includes(host);
}

/** Validates and normalises one registered domain. */
export function checkDomain(raw: string): Result<string, 'invalid_domain'> {
  const d = raw.trim().toLowerCase().replace(/\.$/, '');
  if (isLocalHost(d)) return ok(d);
  const bad = (why: string): Result<string, 'invalid_domain'> => fail('invalid_domain', `${JSON.stringify(raw)} ${why}`);
  if (d.length === 0 || d.length > 253) return bad('must be a host name of 1-253 characters');
  const labels = d.split('.');
  if (labels.length < 2) return bad('must have at least two labels (e.g. shop.example.com)');
  if (!labels.every((l) => LABEL_RE.test(l))) return bad('must be letters, digits and hyphens between dots (IDNs in punycode)');
  if (/^[0-9]+$/.test(labels[labels.length - 1]!)) return bad('must be a domain name, not an IP address');
  return ok(d);
}

/** Validates a list of registered domains: each valid, no duplicates, at most MAX_NOTIFY_DOMAINS. */
export function checkDomains(raw: readonly string[]): Result<string[], 'invalid_domain'> {
  if (raw.length > MAX_NOTIFY_DOMAINS) return fail('invalid_domain', `at most ${MAX_NOTIFY_DOMAINS} notification domains`);
  const out: string[] = [];
  for (const r of raw) {
    const c = checkDomain(r);
    if (!c.ok) return c;
    if (out.includes(c.value)) return fail('invalid_domain', `${c.value} is listed twice`);
    out.push(c.value);
  }
  return ok(out);
}

/** True when `url` may receive notifications for a merchant that registered `domains`. */
export function isUrlWithinDomains(url: string, domains: readonly string[]): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.username !== '' || u.password !== '') return false;
  const host = u.hostname.replace(/\.$/, '');
  const local = isLocalHost(host);
  if (u.protocol !== 'https:' && !(local && u.protocol === 'http:')) return false;
  return domains.some((d) => {
    const dom = d.toLowerCase();
    if (local || isLocalHost(dom)) return host === dom;
    return host === dom || host.endsWith(`.${dom}`);
  });
}
