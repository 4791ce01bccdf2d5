/** Shared CLI plumbing: options every database command takes, and JSON-safe printing. */
import type { Command } from 'commander';
import type { ConfigOverrides } from '../kernel/config.js';
import { createLogger } from '../kernel/logger.js';
import { openRuntime, type Runtime } from '../main.js';

export interface DbOpts {
  databaseUrl?: string;
}

export function withDbOption(cmd: Command): Command {
  return cmd.option('--database-url <url>', 'PostgreSQL URL (default: DATABASE_URL, else the embedded database)');
}

export function overrides(cmd: Command, opts: DbOpts): ConfigOverrides {
  const globals = cmd.optsWithGlobals() as { dataDir?: string };
  const o: ConfigOverrides = {};
  if (opts.databaseUrl) o.databaseUrl = opts.databaseUrl;
  if (globals.dataDir) o.dataDir = globals.dataDir;
  return o;
}

export function json(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
}

/** Opens the runtime (database, migrations, modules) for one command and closes it afterwards. */
export async function withRuntime(cmd: Command, opts: DbOpts, fn: (rt: Runtime) => Promise<void>): Promise<void> {
  const rt = await openRuntime(overrides(cmd, opts), { log: createLogger('warn'), poolMax: 4 });
  try {
    await fn(rt);
  } finally {
    await rt.close();
  }
}

/** A module result's value, or the command fails with its code and message. */
export function orFail<T>(r: { ok: true; value: T } | { ok: false; code: string; message: string }): T {
  if (!r.ok) throw new Error(`${r.code}: ${r.message}`);
  return r.value;
}
