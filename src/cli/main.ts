/**
 * The `paycore` command. Every command that touches the database accepts --database-url
 * (default: DATABASE_URL, else the embedded PostgreSQL under --data-dir / PAYCORE_DATA_DIR).
 */
import { Command, Option } from 'commander';
import { registerBenchCommands } from './bench.command.js';
import { registerCardCommands } from './cards.command.js';
import { registerLedgerCommands } from './ledger.command.js';
import { registerMerchantCommands } from './merchant.command.js';
import { registerRiskCommands } from './risk.command.js';
import { registerSimCommands } from './sim.command.js';
import { registerStartCommands } from './start.command.js';

const program = new Command();
program
  .name('paycore')
  .description('Paycore payment platform (支付中台)')
  .addOption(new Option('--data-dir <dir>', 'data directory for the embedded PostgreSQL and generated secrets').env('PAYCORE_DATA_DIR'))
  .showHelpAfterError();

registerStartCommands(program);
registerLedgerCommands(program);
registerCardCommands(program);
registerBenchCommands(program);
registerSimCommands(program);
registerMerchantCommands(program);
registerRiskCommands(program);

program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(`paycore: ${(e as Error).message}\n`);
  process.exit(1);
});
