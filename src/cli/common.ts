/** Shared CLI plumbing: options every database command takes, and JSON-safe printing. */
import type { Command } from 'commander';
import type { ConfigOverrides } from '../kernel/config.js';

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
