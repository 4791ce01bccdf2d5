/** The SimBank simulator (bank channel): start it, and make merchants for it. See README.md. */
export { startBankSimulator, type BankSimulatorOptions, type RunningBankSimulator } from './bank.simulator.js';
export { createBankKey, createBankTestAccount, type BankAgreement, type BankKey, type BankMerchant } from './bank.crypto.js';
