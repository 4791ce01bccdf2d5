/**
 * Configuration from the environment (and CLI flags, which win). Secrets that are not given are
 * generated once and kept in the data directory with mode 0600, so a fresh `npm start` needs no
 * set-up and a restart keeps the same operator token and master key.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DEFAULT_BUSINESS_TIME_ZONE, isValidTimeZone } from './clock.js';
import { MasterKey, Secret } from './secret.js';

export interface Config {
  dataDir: string;
  databaseUrl: string | undefined;
  embeddedPgPort: number;
  host: string;
  port: number;
  logLevel: string;
  businessTimeZone: string;
  adminToken: Secret;
  adminTokenSource: 'env' | 'file';
  adminTokenFile: string;
  masterKey: MasterKey;
  /** Ledger batching: how long to gather requests and how many transfers one batch may hold. */
  ledgerBatchWindowMs: number;
  ledgerMaxBatch: number;
  /** The URL channels and payers reach this server at (PAYCORE_PUBLIC_URL); default: the listening address. */
  publicUrl: string | undefined;
  /** Where step-up codes for payers are POSTed (PAYCORE_SMS_WEBHOOK: the SMS gateway); unset: they are logged (development). */
  smsWebhook: string | undefined;
  /** Redis for the risk engine's velocity windows when several processes serve (PAYCORE_REDIS_URL); unset: in memory. */
  redisUrl: string | undefined;
  /** Per provider call, in ms (PAYCORE_CHANNEL_TIMEOUT_MS). */
  channelTimeoutMs: number;
  /** How often the payment jobs run (PAYCORE_JOB_INTERVAL_MS). */
  jobIntervalMs: number;
  /** Merchant notification retry schedule (PAYCORE_NOTIFY_SCHEDULE_MS, comma-separated ms); default about 24 h. */
  notifyScheduleMs: number[] | undefined;
  /** Delays between channel queries of unknown outcomes (PAYCORE_QUERY_BACKOFF_MS, comma-separated ms). */
  queryBackoffMs: number[] | undefined;
}

export interface ConfigOverrides {
  dataDir?: string;
  databaseUrl?: string;
  port?: number;
  host?: string;
}

function intEnv(env: NodeJS.ProcessEnv, name: string, dflt: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min || v > max) throw new Error(`${name} must be an integer in [${min}, ${max}], got ${raw}`);
  return v;
}

function fileSecret(dir: string, name: string, make: () => string): string {
  const f = join(dir, name);
  if (!existsSync(f)) {
    mkdirSync(dir, { recursive: true, mode: 0o711 });
    writeFileSync(f, make() + '\n', { mode: 0o600, flag: 'wx' });
  }
  return readFileSync(f, 'utf8').trim();
}

export function loadConfig(over: ConfigOverrides = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const dataDir = resolve(over.dataDir ?? env['PAYCORE_DATA_DIR'] ?? 'data');
  const tz = env['PAYCORE_TIME_ZONE'] ?? DEFAULT_BUSINESS_TIME_ZONE;
  if (!isValidTimeZone(tz)) throw new Error(`PAYCORE_TIME_ZONE is not a valid IANA time zone: ${tz}`);
  const envToken = env['PAYCORE_ADMIN_TOKEN'];
  if (envToken !== undefined && envToken.length < 16) throw new Error('PAYCORE_ADMIN_TOKEN must be at least 16 characters');
  const adminTokenFile = join(dataDir, 'admin-token');
  const adminToken = envToken ?? fileSecret(dataDir, 'admin-token', () => `pct_${randomBytes(24).toString('base64url')}`);
  const masterKeyB64 = env['PAYCORE_MASTER_KEY'] ?? fileSecret(dataDir, 'master.key', () => randomBytes(32).toString('base64'));
  return {
    dataDir,
    databaseUrl: over.databaseUrl ?? (env['DATABASE_URL'] || undefined),
    embeddedPgPort: intEnv(env, 'PAYCORE_PG_PORT', 54329, 1024, 65535),
    host: over.host ?? env['HOST'] ?? '127.0.0.1',
    port: over.port ?? intEnv(env, 'PORT', 8080, 0, 65535),
    logLevel: env['LOG_LEVEL'] ?? 'info',
    businessTimeZone: tz,
    adminToken: new Secret(adminToken),
    adminTokenSource: envToken ? 'env' : 'file',
    adminTokenFile,
    masterKey: MasterKey.fromBase64(masterKeyB64),
    ledgerBatchWindowMs: intEnv(env, 'PAYCORE_LEDGER_BATCH_WINDOW_MS', 1, 0, 100),
    ledgerMaxBatch: intEnv(env, 'PAYCORE_LEDGER_MAX_BATCH', 2000, 1, 8190),
    publicUrl: urlEnv(env, 'PAYCORE_PUBLIC_URL'),
    smsWebhook: urlEnv(env, 'PAYCORE_SMS_WEBHOOK'),
    redisUrl: env['PAYCORE_REDIS_URL'] || undefined,
    channelTimeoutMs: intEnv(env, 'PAYCORE_CHANNEL_TIMEOUT_MS', 10_000, 100, 120_000),
    jobIntervalMs: intEnv(env, 'PAYCORE_JOB_INTERVAL_MS', 1_000, 10, 600_000),
    notifyScheduleMs: listEnv(env, 'PAYCORE_NOTIFY_SCHEDULE_MS'),
    queryBackoffMs: listEnv(env, 'PAYCORE_QUERY_BACKOFF_MS'),
  };
}

function urlEnv(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new Error(`${name} must be an absolute URL, got ${raw}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`${name} must be an http(s) URL`);
  return raw.replace(/\/$/, '');
}

function listEnv(env: NodeJS.ProcessEnv, name: string): number[] | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const xs = raw.split(',').map((x) => Number(x.trim()));
  if (xs.length === 0 || xs.length > 50 || xs.some((x) => !Number.isInteger(x) || x < 0 || x > 7 * 86_400_000)) throw new Error(`${name} must be a comma-separated list of 1-50 delays in ms`);
  return xs;
}
