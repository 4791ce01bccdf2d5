/**
 * Payments benchmark over the HTTP API: a real `paycore start` server process on a fresh database,
 * and C concurrent clients that each, in a loop, create an order with a merchant-signed request
 * and pay it with a prepaid card at the cashier (`POST /cashier/{order}/pay` with one card leg).
 * Latency is per payment (both requests). The server gets no special settings. Amounts are 10-100
 * CNY. With --risk the default risk rule pack is live (without its merchant-baseline rule and
 * breaker: the benchmark merchant has no history), so every payment is also decided by it.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { signRequest } from '../src/kernel/signature.js';
import { sampleUscc } from '../src/modules/parties/index.js';
import { DEFAULT_RULE_PACK } from '../src/modules/risk/index.js';
import { benchDatabase, httpClient, percentile, round } from './support.js';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';

export interface PaymentsBenchOptions {
  databaseUrl?: string;
  concurrency: number;
  seconds: number;
  cards: number;
  /** The default risk rule pack is live: every payment is decided by it first. */
  risk?: boolean;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

export async function runPaymentsBench(o: PaymentsBenchOptions) {
  if (o.concurrency < 1 || o.seconds < 1 || o.cards < 1) throw new Error('need concurrency >= 1, seconds >= 1, cards >= 1');
  const db = await benchDatabase(o.databaseUrl);
  const dataDir = mkdtempSync(join(tmpdir(), 'paycore-bench-pay-'));
  const port = await freePort();
  const token = `bench-${Date.now()}-admin-token`;
  const cli = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'src', 'cli', 'main.js');
  const proc = spawn(process.execPath, [...(process.env['PAYCORE_BENCH_SERVER_NODE_ARGS'] ? process.env['PAYCORE_BENCH_SERVER_NODE_ARGS'].split(' ') : []), cli, 'start', '--database-url', db.url, '--port', String(port), '--host', '127.0.0.1'], {
    env: { ...process.env, PAYCORE_DATA_DIR: dataDir, PAYCORE_ADMIN_TOKEN: token, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const base = `http://127.0.0.1:${port}`;
  // The merchant's notification endpoint: answers 204 at once, as a healthy merchant does.
  const hook = createHttpServer((req, res) => {
    req.resume();
    req.on('end', () => {
      notified++;
      res.statusCode = 204;
      res.end();
    });
  });
  let notified = 0;
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', () => r()));
  const hookAddr = hook.address();
  const notifyUrl = `http://127.0.0.1:${typeof hookAddr === 'object' && hookAddr ? hookAddr.port : 0}/notify`;
  let client: ReturnType<typeof httpClient> | undefined;
  try {
    for (let i = 0; ; i++) {
      if (proc.exitCode !== null) throw new Error(`server exited: ${stderr}`);
      if (await fetch(`${base}/healthz`).then((r) => r.ok, () => false)) break;
      if (i > 600) throw new Error('server did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    client = httpClient(base);
    const http = client;
    const op = async (method: string, path: string, body?: unknown): Promise<any> => {
      const res = await http.request(method, path, { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body !== undefined ? JSON.stringify(body) : undefined);
      if (res.status >= 300) throw new Error(`${method} ${path}: ${JSON.stringify(res.body)}`);
      return res.body;
    };
    const org = await op('POST', '/v1/customers', { kind: 'organization', legal_name: 'bench', id_type: 'uscc', id_number: sampleUscc(7), real_name_level: 2 });
    const m = await op('POST', '/v1/merchants', { customer_id: org.id, display_name: 'bench', mcc: '5411', settlement_cycle: 'T+1', notify_domains: ['127.0.0.1'] });
    await op('POST', `/v1/merchants/${m.id}/status`, { status: 'active', reason: 'bench' });
    const cred = await op('POST', `/v1/merchants/${m.id}/credentials`, { alg: 'HMAC-SHA256', name: 'bench' });
    const product = await op('POST', '/v1/card-products', { code: 'BENCHPAY', name: 'bench', issuer_kind: 'platform', purpose: 'multi', named: false, bin_prefix: '6999', number_length: 16, rechargeable: true, validity_months: 36 });
    await op('POST', `/v1/card-products/${product.id}/merchants`, { merchant_id: m.id });
    const cards: string[] = [];
    for (let left = o.cards; left > 0; left -= 1000) cards.push(...(await op('POST', `/v1/card-products/${product.id}/batches`, { count: Math.min(1000, left) })).cards.map((c: { id: string }) => c.id));
    await Promise.all(cards.map((c) => op('POST', `/v1/cards/${c}/sell`, { idempotency_key: `s-${c}`, amount: 100_000, payment_method: 'bank_transfer', buyer_kind: 'individual', buyer_real_name: true })));

    if (o.risk) {
      // The benchmark merchant has no history: its whole volume is a "spike" against its own
      // (empty) baseline, so the merchant-baseline rule and breaker are left out.
      const { breaker: _b, ...pack } = DEFAULT_RULE_PACK;
      const v = await op('POST', '/v1/risk/rule-sets', { document: { ...pack, rules: pack.rules.filter((r) => r.id !== 'MC-04') } });
      await op('POST', `/v1/risk/rule-sets/${v.version}/activate`);
    }
    const signed = async (path: string, body: unknown): Promise<any> => {
      const text = JSON.stringify(body);
      const sig = signRequest({ method: 'POST', pathWithQuery: path, body: text, keyId: cred.key_id, alg: 'HMAC-SHA256', secretOrPrivateKey: cred.secret, nowSeconds: Date.now() / 1000 });
      return http.request('POST', path, { 'content-type': 'application/json', 'paycore-signature': sig.header }, text);
    };
    const latencies: number[] = [];
    let paid = 0;
    let failed = 0;
    let seq = 0;
    const run = Date.now().toString(36);
    const started = performance.now();
    const deadline = started + o.seconds * 1000;
    await Promise.all(Array.from({ length: o.concurrency }, async () => {
      while (performance.now() < deadline) {
        const card = cards[Math.floor(Math.random() * cards.length)]!;
        const amount = 1_000 + Math.floor(Math.random() * 9_000);
        const t0 = performance.now();
        const created = await signed('/v1/merchant/orders', { merchant_order_no: `B${run}${seq++}`, amount, subject: 'bench', notify_url: notifyUrl, methods: ['card'] });
        let ok = false;
        if (created.status === 201) {
          const u = new URL(created.body.cashier_url as string);
          const res = await http.request('POST', `${u.pathname}/pay${u.search}`, { 'content-type': 'application/json' }, JSON.stringify({ legs: [{ kind: 'card', card_id: card, amount }] }));
          ok = res.status < 300 && (res.body as { status?: string }).status === 'succeeded';
        }
        latencies.push(performance.now() - t0);
        if (ok) paid++;
        else failed++;
      }
    }));
    const elapsed = (performance.now() - started) / 1000;
    const verify = await http.request('GET', '/v1/ledger/verify', { authorization: `Bearer ${token}` }).then((r) => (r.status === 200 ? (r.body as { violations: unknown[] }).violations.length === 0 : undefined), () => undefined);
    latencies.sort((a, b) => a - b);
    const riskStats = o.risk ? ((await http.request('GET', '/v1/risk/stats', { authorization: `Bearer ${token}` })).body as { p50_us: number; p99_us: number; decisions: number }) : undefined;
    return { bench: 'payments' as const, risk: o.risk ?? false, payments_per_s: Math.round(paid / elapsed), p50_ms: round(percentile(latencies, 50)), p99_ms: round(percentile(latencies, 99)), concurrency: o.concurrency, seconds: round(elapsed), payments: paid, failed, notified, cards: o.cards, verified: verify ?? null, ...(riskStats ? { risk_decisions: riskStats.decisions, risk_p50_us: riskStats.p50_us, risk_p99_us: riskStats.p99_us } : {}) };
  } finally {
    client?.close();
    hook.close();
    proc.kill('SIGTERM');
    await new Promise((r) => (proc.exitCode !== null ? r(null) : proc.once('exit', r)));
    await db.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
