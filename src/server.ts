/**
 * `paycore start`: the HTTP server plus background workers (hold expiry, housekeeping), with a
 * graceful shutdown on SIGTERM/SIGINT: stop accepting, finish in-flight requests, drain the
 * ledger batcher, release the worker id, close the database.
 */
import { buildApp, type App } from './http/app.js';
import * as idemStore from './http/idempotency.store.js';
import { createMerchantAuth } from './http/merchant-auth.js';
import type { ConfigOverrides } from './kernel/config.js';
import { openRuntime, VERSION, type Runtime } from './main.js';
import { generateMissingVouchers } from './modules/ledger/accounting.js';

export interface Server {
  app: App;
  runtime: Runtime;
  url: string;
  close(): Promise<void>;
}

const IDEMPOTENCY_RETENTION_MS = 7 * 24 * 3600 * 1000;

export async function startServer(over: ConfigOverrides = {}): Promise<Server> {
  const runtime = await openRuntime(over, { migrate: true });
  const { config, log, pool, ledger } = runtime;
  let app: App;
  try {
    app = await buildApp({
      pool, log, clock: runtime.clock, nextId: runtime.nextId, adminToken: config.adminToken,
      businessTimeZone: config.businessTimeZone, ledger, version: VERSION,
      parties: runtime.parties,
      cards: runtime.cards,
      payments: runtime.payments,
      risk: runtime.risk,
      channels: runtime.channels,
      cashierKey: config.masterKey.deriveKey('cashier-links'),
      publicBaseUrl: () => runtime.publicUrl.value,
      operatorTokens: runtime.parties.operatorTokenLookup,
      merchantAuth: createMerchantAuth(runtime.parties, { clock: runtime.clock }),
    });
    await app.listen({ host: config.host, port: config.port });
  } catch (e) {
    await runtime.close();
    throw e;
  }
  ledger.startExpiryWorker();
  runtime.cards.startWorkers();
  runtime.payments.startWorkers(config.jobIntervalMs);
  // Close every finished business day (vouchers) in the background so trial balances are ready.
  const closeDays = async (): Promise<void> => {
    for (let i = 0; i < 100; i++) {
      const r = await generateMissingVouchers(pool, { tz: config.businessTimeZone, clock: runtime.clock, nextId: runtime.nextId });
      if (!r.ok) {
        log.warn({ code: r.code, message: r.message }, 'closing business days failed');
        return;
      }
      if (r.value.days.length > 0) log.info({ days: r.value.days, vouchers: r.value.voucherCount }, 'business days closed');
      if (!r.value.more) return;
    }
  };
  const dayCloser = setInterval(() => void closeDays().catch((e: unknown) => log.warn({ err: (e as Error).message }, 'closing business days failed')), 60_000);
  dayCloser.unref();
  const housekeeping = setInterval(() => {
    const cutoff = new Date(runtime.clock.nowMs() - IDEMPOTENCY_RETENTION_MS);
    idemStore.purgeOlderThan(pool, cutoff).catch((e: unknown) => log.warn({ err: (e as Error).message }, 'idempotency purge failed'));
    pool.query(`DELETE FROM request_nonces WHERE seen_at < now() - interval '15 minutes'`).catch(() => undefined);
  }, 60_000);
  housekeeping.unref();
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`;
  if (!config.publicUrl) runtime.publicUrl.value = url;
  let closing: Promise<void> | undefined;
  return {
    app,
    runtime,
    url,
    close: () => {
      closing ??= (async () => {
        clearInterval(housekeeping);
        clearInterval(dayCloser);
        await app.close();
        await runtime.close();
      })();
      return closing;
    },
  };
}
