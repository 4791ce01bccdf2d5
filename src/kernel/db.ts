/**
 * PostgreSQL access: the pool, transactions and the few type conversions we rely on.
 * int8 columns come back as bigint (money and ids never pass through a float).
 */
import { createHash } from 'node:crypto';
import pg from 'pg';

pg.types.setTypeParser(20, (v: string) => BigInt(v)); // int8
const arrayParser = pg.types.arrayParser as unknown as { create(s: string, f: (x: string | null) => unknown): { parse(): unknown[] } };
pg.types.setTypeParser(1016 as 20, (v: string) => arrayParser.create(v, (x) => (x === null ? null : BigInt(x))).parse()); // int8[]

/**
 * Every parameterised query runs as a named prepared statement, parsed and planned once per
 * connection instead of once per call — on the payment path PostgreSQL otherwise spends much of
 * its CPU in the parser and planner (seen in `perf`: base_yyparse, catalog lookups). The name is
 * a hash of the text, so one name always means one text. Queries without parameters (BEGIN;
 * SET ...; multi-statement scripts) keep the simple protocol. The number of distinct statements
 * is bounded; past the bound, new texts run unnamed as before.
 */
const MAX_PREPARED = 2_000;
const statementNames = new Map<string, string>();

function statementName(text: string): string | undefined {
  let name = statementNames.get(text);
  if (name === undefined) {
    if (statementNames.size >= MAX_PREPARED) return undefined;
    name = `pc_${createHash('sha1').update(text).digest('base64url')}`;
    statementNames.set(text, name);
  }
  return name;
}

/**
 * A prepared statement's result type is fixed when it is planned: one that expands `*` fails with
 * "cached plan must not change result type" once a migration adds a column under a running server
 * (PostgreSQL re-plans it after that one failure, per connection). Such texts run unnamed. A
 * change of a named column's type still fails each connection's next use once (src/kernel/db.test.ts).
 */
const STAR = /(?:select|returning)\s+\*|\.\*/i;

const clientQuery = pg.Client.prototype.query as (this: pg.Client, ...args: unknown[]) => unknown;
(pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown }).query = function (this: pg.Client, config: unknown, values?: unknown, cb?: unknown) {
  if (typeof config === 'string' && Array.isArray(values) && values.length > 0 && !STAR.test(config)) {
    const name = statementName(config);
    if (name !== undefined) return clientQuery.call(this, { name, text: config }, values, cb);
  }
  return clientQuery.call(this, config, values, cb);
};

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
export type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

export function createPool(url: string, opts: { max?: number; applicationName?: string } = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    application_name: opts.applicationName ?? 'paycore',
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    statement_timeout: 30_000,
  });
  // A client that loses its connection must not crash the process. The pool listens only while a
  // client is idle; a checked-out client between two queries would emit an unhandled 'error'
  // (e.g. when PostgreSQL restarts), so every client gets its own listener. The next query on it
  // fails and the caller handles that.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  return pool;
}

/**
 * Runs `fn` in a transaction; commits when it returns, rolls back when it throws. With
 * `asyncCommit` the commit does not wait for its own WAL flush (for writes made durable by a later
 * synchronous commit; see cards/execute.ts); BEGIN and the setting go in one round trip.
 */
export async function withTx<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>, opts: { isolation?: 'serializable' | 'repeatable read'; asyncCommit?: boolean } = {}): Promise<T> {
  const client = await pool.connect();
  try {
    const begin = opts.isolation ? `BEGIN ISOLATION LEVEL ${opts.isolation}` : 'BEGIN';
    await client.query(opts.asyncCommit ? `${begin}; SET LOCAL synchronous_commit TO off` : begin);
    const out = await fn(client);
    await client.query('COMMIT');
    return out;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
}

/** SQLSTATEs that mean "run the whole transaction again". */
export function isRetryableTxError(e: unknown): boolean {
  const code = (e as { code?: string } | null)?.code;
  return code === '40001' || code === '40P01';
}

/** The database could not be reached or the connection broke: the outcome of the statement is unknown. */
export function isConnectionError(e: unknown): boolean {
  const err = e as { code?: string; message?: string } | null;
  const code = err?.code ?? '';
  return code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT'].includes(code) ||
    /Connection terminated|connection timeout|not queryable/i.test(err?.message ?? '');
}

export function isUniqueViolation(e: unknown, constraint?: string): boolean {
  const err = e as { code?: string; constraint?: string } | null;
  return err?.code === '23505' && (constraint === undefined || err.constraint === constraint);
}

/** Redacts the password of a connection string for display. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '[unparseable database url]';
  }
}

/**
 * Builds a WHERE clause from optional filters: `add('owner_id = ?', v)` numbers each `?` as the
 * next parameter; `param(v)` adds a bare parameter (e.g. a LIMIT) and returns its placeholder.
 */
export class SqlFilter {
  readonly args: unknown[] = [];
  private readonly conds: string[] = [];
  add(cond: string, value: unknown): this {
    const ph = this.param(value);
    this.conds.push(cond.replaceAll('?', ph));
    return this;
  }
  param(value: unknown): string {
    this.args.push(value);
    return `$${this.args.length}`;
  }
  where(): string {
    return this.conds.length ? `WHERE ${this.conds.join(' AND ')}` : '';
  }
}

/**
 * PostgreSQL refused a value itself (SQLSTATE class 22: a NUL character, an invalid byte sequence,
 * ...): the statement and its transaction were rolled back, and sending the same again cannot help.
 */
export function isDataError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^22[0-9A-Z]{3}$/.test(code);
}
