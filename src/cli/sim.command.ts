/**
 * `paycore sim`: starts the WeChat Pay, Alipay, UnionPay and bank simulators on loopback, each with
 * a fresh merchant account, and either registers them as channel accounts of a running Paycore
 * (--register) or writes their channel-account configurations to a file readable only by you
 * (--out); credentials are never printed. Runs until Ctrl-C.
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { startSimulators } from '../../simulators/index.js';

interface SimOpts {
  portBase?: number;
  register?: string;
  token?: string;
  out?: string;
  seed?: number;
}

export function registerSimCommands(program: Command): void {
  program
    .command('sim')
    .description('start the channel simulators (WeChat Pay, Alipay, UnionPay, bank) on 127.0.0.1')
    .option('--port-base <port>', 'first port (the four simulators take port..port+3); default: any free ports', (v) => Number(v))
    .option('--register <url>', 'register the simulators as channel accounts of the Paycore at this URL (needs --token)')
    .option('--token <token>', 'operator (admin) token for --register (default: PAYCORE_ADMIN_TOKEN)')
    .option('--out <file>', 'write the channel-account configurations (with their keys) to this new file, mode 0600')
    .option('--seed <n>', 'seed for the simulators\' fault decisions', (v) => Number(v))
    .action(async (opts: SimOpts) => {
      const sims = await startSimulators({ ...(opts.portBase ? { basePort: opts.portBase } : {}), ...(opts.seed !== undefined ? { seed: opts.seed } : {}) });
      const channels = [sims.wechatpay, sims.alipay, sims.unionpay, sims.bank];
      const lines = ['', '  Channel simulators (loopback only):'];
      for (const c of channels) lines.push(`    ${c.provider.padEnd(10)} ${c.sim.url}   methods: ${c.methods.join(', ')}   faults: POST ${c.sim.url}/__sim/faults`);
      lines.push(`    bank agreement for quick pay and collections: ${sims.bank.agreementNo}`);
      if (opts.out) {
        writeFileSync(opts.out, JSON.stringify(channels.map((c) => ({ code: `sim-${c.provider}`, provider: c.provider, mode: 'aggregated', methods: c.methods, config: c.config })), null, 2) + '\n', { mode: 0o600, flag: 'wx' });
        lines.push(`  Channel-account configurations written to ${opts.out} (POST each to /v1/channel-accounts).`);
      }
      if (opts.register) {
        const token = opts.token ?? process.env['PAYCORE_ADMIN_TOKEN'];
        if (!token) throw new Error('--register needs --token or PAYCORE_ADMIN_TOKEN');
        const api = (path: string, init: RequestInit = {}) => fetch(`${opts.register!.replace(/\/$/, '')}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } });
        // Accounts registered by an earlier run point at simulators that are gone (new keys, maybe
        // new ports): they are disabled so routing never picks them.
        const earlier = (await (await api('/v1/channel-accounts')).json()) as { data?: { id: string; code: string; status: string }[] };
        for (const a of earlier.data ?? []) {
          if (a.code.startsWith('sim-') && a.status === 'active') {
            await api(`/v1/channel-accounts/${a.id}/status`, { method: 'POST', body: JSON.stringify({ status: 'disabled' }) });
            lines.push(`  Disabled channel account ${a.code} of an earlier simulator run`);
          }
        }
        for (const c of channels) {
          const res = await fetch(`${opts.register.replace(/\/$/, '')}/v1/channel-accounts`, {
            method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ code: `sim-${c.provider}-${Date.now().toString(36)}`, provider: c.provider, mode: 'aggregated', methods: c.methods, config: c.config, fee: { bps: 60 } }),
          });
          const body = (await res.json()) as { id?: string; error?: { code: string; message: string } };
          lines.push(res.ok ? `  Registered ${c.provider} as channel account ${body.id}` : `  Registering ${c.provider} failed: ${body.error?.code} ${body.error?.message}`);
        }
      }
      if (!opts.out && !opts.register) lines.push('  Use --register <paycore url> --token <token> to add them as channel accounts, or --out <file>.');
      lines.push('  Pay a trade as the payer: POST <simulator>/__sim/trades/<out_trade_no>/pay   Stop with Ctrl-C.', '');
      process.stdout.write(lines.join('\n') + '\n');
      const stop = (): void => {
        void sims.close().then(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
