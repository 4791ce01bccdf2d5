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
  };
}
