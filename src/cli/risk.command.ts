/**
 * `paycore risk`: the risk engine from the command line, against a running server.
 *   pack   print the default rule pack (JSON), to read or to edit into your own version
 *   load   upload a rule set (the default pack, or --file) and optionally activate it
 *   demo   a guided tour: normal traffic passes, a card-testing burst is rejected, a case is
 *          opened and decided, a merchant breaker trips and is released, a ring of related
 *          accounts shows up as one component
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { DEFAULT_RULE_PACK } from '../modules/risk/index.js';

interface Conn {
  url: string;
  token?: string;
}

function client(o: Conn) {
  const token = o.token ?? process.env['PAYCORE_ADMIN_TOKEN'];
  if (!token) throw new Error('needs --token or PAYCORE_ADMIN_TOKEN (an operator token)');
  const base = o.url.replace(/\/$/, '');
  return async (method: string, path: string, body?: unknown): Promise<any> => {
    const res = await fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    const j = (await res.json().catch(() => ({}))) as any;
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${j?.error?.code ?? ''} ${j?.error?.message ?? ''}`);
    return j;
  };
}

export function registerRiskCommands(program: Command): void {
  const risk = program.command('risk').description('the risk engine (风控): rule packs and a guided demo');

  risk.command('pack').description('print the default rule pack (JSON)').action(() => {
    process.stdout.write(JSON.stringify(DEFAULT_RULE_PACK, null, 2) + '\n');
  });

  risk
    .command('load')
    .description('upload a rule set version (default: the default pack) to a running server')
    .option('--url <url>', 'the Paycore server', 'http://127.0.0.1:8080')
    .option('--token <token>', 'admin token (default: PAYCORE_ADMIN_TOKEN)')
    .option('--file <file>', 'a rule set document (JSON) instead of the default pack')
    .option('--activate', 'make it the live version at once', false)
    .action(async (o: Conn & { file?: string; activate: boolean }) => {
      const call = client(o);
      const doc = o.file ? (JSON.parse(readFileSync(o.file, 'utf8')) as unknown) : DEFAULT_RULE_PACK;
      const v = await call('POST', '/v1/risk/rule-sets', { document: doc });
      process.stdout.write(`uploaded version ${v.version} (${v.name})\n`);
      if (o.activate) {
        await call('POST', `/v1/risk/rule-sets/${v.version}/activate`);
        process.stdout.write(`version ${v.version} is live\n`);
      }
    });

  risk
    .command('demo')
    .description('guided tour against a running server with a live rule set (load the default pack first)')
    .option('--url <url>', 'the Paycore server', 'http://127.0.0.1:8080')
    .option('--token <token>', 'admin token (default: PAYCORE_ADMIN_TOKEN)')
    .action(async (o: Conn) => {
      const call = client(o);
      const run = Date.now().toString(36);
      const say = (s: string) => process.stdout.write(`${s}\n`);
      let n = 0;
      const decide = (e: Record<string, unknown>, subject?: { kind: string; id: string }) =>
        call('POST', '/v1/risk/decide', { event: { id: `demo-${run}-${++n}`, kind: 'payment', amount: 8_800, merchant: `demo-shop-${run}`, ...e }, ...(subject ? { subject } : {}) });
      const live = (await call('GET', '/v1/risk/rule-sets')).live;
      if (!live.active) throw new Error('no live rule set: run `paycore risk load --activate` first');
      say(`live rule set version ${live.active}\n`);

      say('1. Normal traffic: 20 customers, each with their own card and phone');
      const normal: Record<string, number> = {};
      for (let i = 0; i < 20; i++) {
        const d = await decide({ user: `cust-${run}-${i}`, card: `card-${run}-${i}`, device: `phone-${run}-${i}`, ip: `10.1.0.${i}` });
        normal[d.action] = (normal[d.action] ?? 0) + 1;
      }
      say(`   ${JSON.stringify(normal)}`);

      say('2. A card-testing burst: one device tries 8 stolen cards with small amounts');
      for (let i = 0; i < 8; i++) {
        const d = await decide({ user: `fraud-${run}`, device: `evil-${run}`, ip: '203.0.113.7', card: `stolen-${run}-${i}`, amount: 100 });
        say(`   card ${i + 1}: ${d.action.padEnd(9)} ${d.rule ?? ''} ${d.reason ?? ''}`);
      }

      say('3. A review: the category does not match the merchant\'s registered business');
      const r = await decide({ user: `cust-${run}-1`, merchant_mcc: '5411', category: '7995' }, { kind: 'demo', id: `order-${run}` });
      say(`   ${r.action} by ${r.rule}: case ${r.case_id} opened`);
      const c = await call('POST', `/v1/risk/cases/${r.case_id}/decision`, { approve: false, note: 'gambling goods at a grocery' });
      say(`   case ${c.id} ${c.status} by ${c.decided_by}`);

      say('4. A merchant breaker (熔断): tripped by hand, holds the merchant\'s payments, released');
      const m = `demo-shop-${run}`;
      await call('POST', `/v1/risk/breakers/${m}/trip`, { mode: 'hold', reason: 'chargeback wave' });
      const held = await decide({ user: `cust-${run}-2` });
      say(`   while tripped: ${held.action} (${held.rule})`);
      await call('POST', `/v1/risk/breakers/${m}/release`, { reason: 'merchant cleared' });
      say(`   after release: ${(await decide({ user: `cust-${run}-2` })).action}`);
      say(`   audit: ${(await call('GET', `/v1/risk/breakers/${m}/audit`)).data.map((a: any) => `${a.kind} by ${a.actor}`).join(', ')}`);

      say('5. Related accounts (关联账户): three accounts sharing a phone number and a device');
      const ringPhone = `138${String(Date.now() % 1e8).padStart(8, '0')}`;
      await decide({ user: `ring-${run}-a`, phone: ringPhone, device: `ring-dev-${run}-1` });
      await decide({ user: `ring-${run}-b`, phone: ringPhone, device: `ring-dev-${run}-2` });
      await decide({ user: `ring-${run}-c`, device: `ring-dev-${run}-2` });
      const comp = await call('GET', `/v1/risk/graph?entity=user&value=ring-${run}-a`);
      say(`   component of ring-${run}-a: ${comp.size} users (${comp.users.join(', ')}), shared: ${comp.shared.map((x: any) => `${x.entity} ${x.value}`).join(', ')}`);
      for (const [a, b] of [['a', 'b'], ['b', 'c'], ['c', 'a']]) await decide({ user: `ring-${run}-${a}`, payee: `ring-${run}-${b}`, kind: 'transfer', amount: 50_000 });
      const alert = (await call('GET', '/v1/risk/alerts?limit=5')).data.find((x: any) => x.kind === 'funds_cycle' && String(x.subject).includes(run));
      say(`   money around the ring: ${alert ? `alert ${alert.kind}: ${alert.details.cycle.join(' -> ')}` : 'no alert'}`);
      say('\nEvery decision is in GET /v1/risk/decisions (version, matched rules, features, latency).');
    });
}
