/** A merchant for end-to-end tests: created, activated and given an HMAC credential over the API, with a signing client. */
import { signRequest } from '../../src/kernel/signature.js';
import { sampleUscc } from '../../src/modules/parties/index.js';
import type { TestServer } from './server.js';

export interface TestMerchant {
  id: string;
  keyId: string;
  secret: string;
  /** A request signed as the merchant's integration would sign it. */
  signed(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
}

export async function createTestMerchant(s: Pick<TestServer, 'url' | 'req'>, opts: { n: number; notifyDomains?: string[] }): Promise<TestMerchant> {
  const ok = async (method: string, path: string, body?: unknown): Promise<any> => {
    const r = await s.req(method, path, body);
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const org = await ok('POST', '/v1/customers', { kind: 'organization', legal_name: `商户${opts.n}`, id_type: 'uscc', id_number: sampleUscc(opts.n), real_name_level: 2 });
  const m = await ok('POST', '/v1/merchants', { customer_id: org.id, display_name: `m${opts.n}`, mcc: '5411', settlement_cycle: 'T+1', notify_domains: opts.notifyDomains ?? ['127.0.0.1'] });
  await ok('POST', `/v1/merchants/${m.id}/status`, { status: 'active', reason: 'contract signed' });
  const cred = await ok('POST', `/v1/merchants/${m.id}/credentials`, { alg: 'HMAC-SHA256', name: 'api' });
  return {
    id: m.id,
    keyId: cred.key_id,
    secret: cred.secret,
    async signed(method, path, body) {
      const text = body === undefined ? '' : JSON.stringify(body);
      const sig = signRequest({ method, pathWithQuery: path, body: text, keyId: cred.key_id, alg: 'HMAC-SHA256', secretOrPrivateKey: cred.secret, nowSeconds: Date.now() / 1000 });
      const headers: Record<string, string> = { 'paycore-signature': sig.header };
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(`${s.url}${path}`, { method, headers, ...(body !== undefined ? { body: text } : {}) });
      const t = await res.text();
      return { status: res.status, body: t ? JSON.parse(t) : undefined };
    },
  };
}
