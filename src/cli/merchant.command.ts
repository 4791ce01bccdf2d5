/**
 * `paycore merchant call`: sends one merchant-signed request (the Paycore signature, HMAC-SHA256)
 * and prints the answer — for trying the merchant API from a shell. The secret is read from a file
 * or PAYCORE_MERCHANT_SECRET, never from the command line (it would end up in shell history).
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { signRequest } from '../kernel/signature.js';

export function registerMerchantCommands(program: Command): void {
  const merchant = program.command('merchant').description('merchant API helpers');
  merchant
    .command('call')
    .description('send a signed merchant request and print the JSON answer, e.g. merchant call POST http://127.0.0.1:8080/v1/merchant/orders \'{"merchant_order_no":...}\'')
    .argument('<method>', 'GET or POST')
    .argument('<url>', 'full URL of a /v1/merchant/... route')
    .argument('[body]', 'JSON body (POST)')
    .requiredOption('--key-id <id>', 'the merchant credential key id (mk_...)')
    .option('--secret-file <file>', 'file holding the HMAC secret (default: PAYCORE_MERCHANT_SECRET)')
    .action(async (method: string, url: string, body: string | undefined, opts: { keyId: string; secretFile?: string }) => {
      const secret = opts.secretFile ? readFileSync(opts.secretFile, 'utf8').trim() : process.env['PAYCORE_MERCHANT_SECRET'];
      if (!secret) throw new Error('give --secret-file or set PAYCORE_MERCHANT_SECRET');
      const u = new URL(url);
      const m = method.toUpperCase();
      const text = body ?? '';
      if (text !== '') JSON.parse(text);
      const sig = signRequest({ method: m, pathWithQuery: `${u.pathname}${u.search}`, body: text, keyId: opts.keyId, alg: 'HMAC-SHA256', secretOrPrivateKey: secret, nowSeconds: Date.now() / 1000 });
      const res = await fetch(u, { method: m, headers: { 'paycore-signature': sig.header, ...(text ? { 'content-type': 'application/json' } : {}) }, ...(text ? { body: text } : {}) });
      process.stdout.write(`${await res.text()}\n`);
      if (!res.ok) process.exitCode = 1;
    });
}
