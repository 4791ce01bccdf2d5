/**
 * Composition root: configuration -> database (embedded or DATABASE_URL) -> migrations -> id
 * generator (leased worker id) -> modules -> HTTP server and background workers. Everything
 * opened here is closed in reverse order on shutdown.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock, type Clock } from './kernel/clock.js';
import { loadConfig, type Config, type ConfigOverrides } from './kernel/config.js';
import { createPool, redactUrl, type Pool } from './kernel/db.js';
import { startEmbeddedDb, type EmbeddedDb } from './kernel/embedded-db.js';
import { createLogger, type Logger } from './kernel/logger.js';
import { migrate } from './kernel/migrate.js';
import { packageRoot } from './kernel/paths.js';
import { acquireWorkerLease, generatorForLease, type WorkerLease } from './kernel/worker-lease.js';
import { Ledger } from './modules/ledger/index.js';
import { Parties } from './modules/parties/index.js';
import { Cards } from './modules/cards/index.js';
import { Channels } from './modules/channels/index.js';
import { Risk } from './modules/risk/index.js';
import { RedisVelocityStore } from './modules/risk/redis-velocity.js';
import { httpSend } from './kernel/http-client.js';
import { Payments } from './modules/payments/index.js';

export const VERSION: string = (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;

export interface Runtime {
  config: Config;
  log: Logger;
  clock: Clock;
  pool: Pool;
  databaseUrl: string;
  embedded: EmbeddedDb | undefined;
  lease: WorkerLease;
  nextId: () => bigint;
  ledger: Ledger;
  parties: Parties;
  cards: Cards;
  channels: Channels;
  payments: Payments;
  risk: Risk;
  /** Where channels and payers reach this server; set by the server once it listens (or PAYCORE_PUBLIC_URL). */
  publicUrl: { value: string };
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Apply pending migrations first (the server does; read-only tools may not). */
  migrate?: boolean;
  poolMax?: number;
  log?: Logger;
  clock?: Clock;
}

/** Opens the database: DATABASE_URL / --database-url when given, else the embedded PostgreSQL. */
export async function openDatabase(config: Config, log: Logger): Promise<{ url: string; embedded: EmbeddedDb | undefined }> {
  if (config.databaseUrl) return { url: config.databaseUrl, embedded: undefined };
  const embedded = await startEmbeddedDb({ dataDir: config.dataDir, port: config.embeddedPgPort, log });
  return { url: embedded.url, embedded };
}

export async function openRuntime(over: ConfigOverrides = {}, opts: OpenOptions = {}): Promise<Runtime> {
  const config = loadConfig(over);
  const log = opts.log ?? createLogger(config.logLevel);
  const clock = opts.clock ?? systemClock;
  const { url, embedded } = await openDatabase(config, log);
  const pool = createPool(url, { max: opts.poolMax ?? 20 });
  const pools: Pool[] = [];
  const closers: (() => Promise<void>)[] = [];
  try {
    if (opts.migrate !== false) {
      const m = await migrate(pool);
      if (m.applied.length > 0) log.info({ applied: m.applied }, 'migrations applied');
    }
    const lease = await acquireWorkerLease(pool, { log, label: 'paycore' });
    const gen = generatorForLease(lease);
    const nextId = (): bigint => gen.next();
    const ledger = new Ledger({
      pool, clock, nextId, log,
      batch: { windowMs: config.ledgerBatchWindowMs, maxBatch: config.ledgerMaxBatch },
    });
    const parties = new Parties({ pool, clock, nextId, ledger, masterKey: config.masterKey, log });
    // Card operations hold a card's row lock on a connection of their own pool (see cards/context.ts).
    const cardLockPool = createPool(url, { max: 16, applicationName: 'paycore-card-locks' });
    pools.push(cardLockPool);
    // The risk engine (风控) is asked before every card consume and checkout (docs/risk.md).
    const risk = new Risk({ pool, clock, nextId, log, ...(config.redisUrl ? { velocity: new RedisVelocityStore(config.redisUrl) } : {}) });
    await risk.start();
    closers.push(() => risk.close());
    const cards = new Cards({
      pool, lockPool: cardLockPool, clock, nextId, ledger, parties, masterKey: config.masterKey, businessTimeZone: config.businessTimeZone, log,
      authorize: async (e) => {
        const d = await risk.decide({ id: `card:${e.idempotencyKey}`, kind: 'card_consume', at: clock.nowMs(), amount: e.amountMinor, card: e.cardId.toString(), merchant: e.merchantId.toString(), ...(e.terminalId ? { device: e.terminalId } : {}) });
        // A terminal cannot step up or wait for a case: anything but accept declines the consume.
        return d.action === 'accept' ? 'accept' : 'reject';
      },
    });
    const channels = new Channels({ pool, clock, nextId, ledger, parties, masterKey: config.masterKey, log, requestTimeoutMs: config.channelTimeoutMs });
    const publicUrl = { value: config.publicUrl ?? `http://127.0.0.1:${config.port}` };
    const payments = new Payments({
      pool, clock, nextId, ledger, parties, channels, cards, log, publicBaseUrl: () => publicUrl.value,
      risk: { decide: (e, o) => risk.decide(e, o), caseStatus: async (id) => { const c = await risk.getCase(id); return c.ok ? c.value.status : null; } },
      ...(config.smsWebhook ? { stepUp: smsWebhookSender(config.smsWebhook, log) } : {}),
      ...(config.notifyScheduleMs ? { notifyScheduleMs: config.notifyScheduleMs } : {}), ...(config.queryBackoffMs ? { queryBackoffMs: config.queryBackoffMs } : {}),
    });
    // A risk case about a held payment, once decided, lets it proceed or cancels it.
    risk.onCaseDecided('payment_order', (c, approved) => payments.resolveReview(c.id, approved));
    log.info({ database: redactUrl(url), embedded: embedded !== undefined, workerId: lease.workerId }, 'runtime ready');
    return {
      config, log, clock, pool, databaseUrl: url, embedded, lease, nextId, ledger, parties, cards, channels, payments, risk, publicUrl,
      async close() {
        payments.close();
        cards.close();
        for (const c of closers) await c();
        await ledger.close();
        await lease.release();
        for (const p of pools) await p.end();
        await pool.end();
        await embedded?.stop();
      },
    };
  } catch (e) {
    for (const c of closers) await c().catch(() => undefined);
    for (const p of pools) await p.end().catch(() => undefined);
    await pool.end().catch(() => undefined);
    await embedded?.stop().catch(() => undefined);
    throw e;
  }
}

/** Step-up codes go to the SMS gateway as a JSON POST ({order_no, challenge_id, payer_customer_id, text}). */
function smsWebhookSender(url: string, log: Logger) {
  return async (x: { orderNo: string; challengeId: bigint; code: string; payerCustomerId: bigint | null }): Promise<void> => {
    const body = JSON.stringify({ order_no: x.orderNo, challenge_id: x.challengeId.toString(), payer_customer_id: x.payerCustomerId?.toString() ?? null, text: `Your Paycore payment code is ${x.code}. It expires in 5 minutes.` });
    const r = await httpSend({ url, method: 'POST', headers: { 'content-type': 'application/json' }, body, timeoutMs: 5_000 });
    if (!r.ok || r.answer.status >= 300) log.warn({ order: x.orderNo, reason: r.ok ? `HTTP ${r.answer.status}` : r.reason }, 'step-up code could not be sent');
  };
}
