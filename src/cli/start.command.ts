/** `paycore start` and `paycore migrate`. */
import type { Command } from 'commander';
import { createPool, redactUrl } from '../kernel/db.js';
import { createLogger } from '../kernel/logger.js';
import { loadConfig } from '../kernel/config.js';
import { migrate } from '../kernel/migrate.js';
import { openDatabase } from '../main.js';
import { startServer } from '../server.js';
import { overrides, withDbOption, type DbOpts } from './common.js';

export function registerStartCommands(program: Command): void {
  withDbOption(program.command('start').description('start the API server (embedded PostgreSQL unless a database URL is given)'))
    .option('--port <port>', 'HTTP port (default: PORT or 8080)', (v) => Number(v))
    .option('--host <host>', 'listen address (default: HOST or 127.0.0.1)')
    .action(async (opts: DbOpts & { port?: number; host?: string }, cmd: Command) => {
      const over = overrides(cmd, opts);
      if (opts.port !== undefined) over.port = opts.port;
      if (opts.host !== undefined) over.host = opts.host;
      const server = await startServer(over);
      const { config } = server.runtime;
      const tokenHint = config.adminTokenSource === 'env'
        ? 'the operator token is PAYCORE_ADMIN_TOKEN from your environment'
        : `the operator token is in ${config.adminTokenFile} (cat it; set PAYCORE_ADMIN_TOKEN to choose your own)`;
      process.stdout.write(
        [
          '',
          `  Paycore is running at ${server.url}`,
          `  API docs:     ${server.url}/docs   (OpenAPI: ${server.url}/openapi.json)`,
          `  Health:       ${server.url}/healthz`,
          `  Operator token: ${tokenHint}`,
          `  Database:     ${redactUrl(server.runtime.databaseUrl)}${server.runtime.embedded ? ` (embedded, data in ${config.dataDir})` : ''}`,
          '  Stop with Ctrl-C.',
          '',
        ].join('\n') + '\n',
      );
      const stop = (signal: string): void => {
        server.runtime.log.info({ signal }, 'shutting down');
        server.close().then(
          () => process.exit(0),
          (e: unknown) => {
            server.runtime.log.error({ err: (e as Error).message }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });

  withDbOption(program.command('migrate').description('apply pending database migrations'))
    .action(async (opts: DbOpts, cmd: Command) => {
      const config = loadConfig(overrides(cmd, opts));
      const log = createLogger(process.env['LOG_LEVEL'] ?? 'warn');
      const { url, embedded } = await openDatabase(config, log);
      const pool = createPool(url, { max: 2 });
      try {
        const r = await migrate(pool);
        process.stdout.write(`${r.applied.length ? `applied ${r.applied.join(', ')}` : 'already up to date'} (schema version ${r.current})\n`);
      } finally {
        await pool.end();
        await embedded?.stop();
      }
    });
}
