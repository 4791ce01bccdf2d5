/**
 * The parties module's whole public surface (三户: customer 客户 / user 用户 / account 账户),
 * plus merchant profiles, merchant API credentials and operator tokens. Each command and query
 * takes one input object; expected failures come back as values with a code from errors.ts
 * (or a ledger code passed through), and only programmer errors throw.
 */
import type { Clock } from '../../kernel/clock.js';
import type { Pool } from '../../kernel/db.js';
import type { Logger } from '../../kernel/logger.js';
import type { MasterKey, Secret } from '../../kernel/secret.js';
import type { Ledger, StatementEntry } from '../ledger/index.js';
import * as accounts from './accounts.js';
import { PiiVault, type Ctx, type PartiesCode, type PartiesResult } from './context.js';
import * as credentials from './credentials.js';
import * as customers from './customers.js';
import * as changeLog from './changes.store.js';
import * as merchants from './merchants.js';
import * as tokens from './operator-tokens.js';
import * as relationships from './relationships.js';
import * as users from './users.js';
import type {
  Credential, Customer, CustomerKind, CustomerStatus, Merchant, MerchantStatus, OperatorToken, OperatorTokenRole, Relationship, RelationshipKind, User,
} from './domain/types.js';

export * from './domain/types.js';
export { accountKindRule } from './domain/account-kinds.js';
export { checkDomain, checkDomains, isUrlWithinDomains } from './domain/notify-domains.js';
export { checkIdNumber, mask } from './domain/id-number.js';
export { sampleResidentId, sampleUscc } from './domain/sample-ids.js';
export { PARTIES_CONFLICT_ERRORS, PARTIES_INPUT_ERRORS, PARTIES_NOT_FOUND_ERRORS, PARTIES_RULE_ERRORS, type PartiesErrorCode } from './errors.js';
export { MAX_ACTIVE_CREDENTIALS, type AuthCredential } from './credentials.js';
export { operatorTokenSha256 } from './operator-tokens.js';
export type { AccountWithBalance } from './accounts.js';
export type { PartiesCode, PartiesResult };
export type { Change } from './changes.store.js';

export interface PartiesDeps {
  pool: Pool;
  clock: Clock;
  nextId: () => bigint;
  ledger: Ledger;
  masterKey: MasterKey;
  log?: Logger;
}

interface Page {
  afterId?: bigint;
  limit: number;
}

interface StatusInput {
  reason?: string;
  /** Who asked (an operator principal id), recorded in the change log. */
  actor?: string;
}

export class Parties {
  private readonly ctx: Ctx;

  constructor(deps: PartiesDeps) {
    this.ctx = { pool: deps.pool, clock: deps.clock, nextId: deps.nextId, ledger: deps.ledger, vault: new PiiVault(deps.masterKey), log: deps.log };
  }

  // ---- customers -----------------------------------------------------------------------------

  createCustomer(inp: customers.CreateCustomerInput): Promise<PartiesResult<Customer>> {
    return customers.createCustomer(this.ctx, inp);
  }

  getCustomer(inp: { id: bigint }): Promise<PartiesResult<Customer>> {
    return customers.getCustomer(this.ctx, inp.id);
  }

  /** Exact lookup by identity document among open customers. */
  findCustomerByDocument(inp: { idType: string; idNumber: string }): Promise<PartiesResult<Customer>> {
    return customers.findByDocument(this.ctx, inp);
  }

  listCustomers(inp: Page & { kind?: CustomerKind; status?: CustomerStatus }): Promise<Customer[]> {
    return customers.listCustomers(this.ctx, inp);
  }

  setCustomerStatus(inp: StatusInput & { id: bigint; status: string }): Promise<PartiesResult<Customer>> {
    return customers.setCustomerStatus(this.ctx, inp);
  }

  setRealNameLevel(inp: StatusInput & { id: bigint; level: number }): Promise<PartiesResult<Customer>> {
    return customers.setRealNameLevel(this.ctx, inp);
  }

  addRelationship(inp: relationships.AddRelationshipInput): Promise<PartiesResult<Relationship>> {
    return relationships.addRelationship(this.ctx, inp);
  }

  listRelationships(inp: Page & { customerId: bigint; direction?: 'outgoing' | 'incoming'; kind?: RelationshipKind }): Promise<PartiesResult<Relationship[]>> {
    return relationships.listRelationships(this.ctx, { ...inp, direction: inp.direction ?? 'outgoing' });
  }

  removeRelationship(inp: { customerId: bigint; relationshipId: bigint }): Promise<PartiesResult<true>> {
    return relationships.removeRelationship(this.ctx, inp);
  }

  /** The change log (status, real-name level) of one party record, oldest first. */
  changes(inp: { entity: changeLog.ChangeEntity; entityId: string }): Promise<(changeLog.Change & { createdAt: Date })[]> {
    return changeLog.listChanges(this.ctx.pool, inp.entity, inp.entityId);
  }

  // ---- users ---------------------------------------------------------------------------------

  createUser(inp: users.CreateUserInput): Promise<PartiesResult<User>> {
    return users.createUser(this.ctx, inp);
  }

  listUsers(inp: Page & { customerId: bigint }): Promise<PartiesResult<User[]>> {
    return users.listUsers(this.ctx, inp);
  }

  getUserByLogin(inp: { loginName: string }): Promise<PartiesResult<User>> {
    return users.getUserByLogin(this.ctx, inp.loginName);
  }

  setUserStatus(inp: StatusInput & { customerId: bigint; userId: bigint; status: string }): Promise<PartiesResult<User>> {
    return users.setUserStatus(this.ctx, inp);
  }

  // ---- business accounts ---------------------------------------------------------------------

  openAccount(inp: accounts.OpenAccountInput): Promise<PartiesResult<{ account: accounts.AccountWithBalance; created: boolean }>> {
    return accounts.openAccount(this.ctx, inp);
  }

  getAccount(inp: { customerId: bigint; accountId: bigint }): Promise<PartiesResult<accounts.AccountWithBalance>> {
    return accounts.getAccount(this.ctx, inp);
  }

  listAccounts(inp: Page & { customerId: bigint }): Promise<PartiesResult<accounts.AccountWithBalance[]>> {
    return accounts.listAccounts(this.ctx, inp);
  }

  /** Freezes, unfreezes or closes a business account and its ledger account. */
  setAccountStatus(inp: StatusInput & { customerId: bigint; accountId: bigint; status: string }): Promise<PartiesResult<accounts.AccountWithBalance>> {
    return accounts.setAccountStatus(this.ctx, inp);
  }

  accountStatement(inp: accounts.StatementInput): Promise<PartiesResult<StatementEntry[]>> {
    return accounts.statement(this.ctx, inp);
  }

  // ---- merchants -----------------------------------------------------------------------------

  createMerchant(inp: merchants.CreateMerchantInput): Promise<PartiesResult<Merchant>> {
    return merchants.createMerchant(this.ctx, inp);
  }

  getMerchant(inp: { id: bigint }): Promise<PartiesResult<Merchant>> {
    return merchants.getMerchant(this.ctx, inp.id);
  }

  getMerchantByNo(inp: { merchantNo: string }): Promise<PartiesResult<Merchant>> {
    return merchants.getMerchantByNo(this.ctx, inp.merchantNo);
  }

  listMerchants(inp: Page & { status?: MerchantStatus }): Promise<Merchant[]> {
    return merchants.listMerchants(this.ctx, inp);
  }

  setMerchantStatus(inp: StatusInput & { id: bigint; status: string }): Promise<PartiesResult<Merchant>> {
    return merchants.setMerchantStatus(this.ctx, inp);
  }

  merchantAccounts(inp: Page & { merchantId: bigint }): Promise<PartiesResult<accounts.AccountWithBalance[]>> {
    const { merchantId, ...page } = inp;
    return merchants.merchantAccounts(this.ctx, merchantId, page);
  }

  /** The merchant and the ledger account its money is credited to (for cards, payments, settlement). */
  merchantPayee(inp: { merchantId: bigint }): Promise<PartiesResult<{ merchant: Merchant; settlementLedgerAccountId: bigint }>> {
    return merchants.merchantPayee(this.ctx, inp.merchantId);
  }

  /** A statement of one of the merchant's own accounts; another merchant's account is not found. */
  merchantStatement(inp: Omit<accounts.StatementInput, 'customerId'> & { merchantId: bigint }): Promise<PartiesResult<StatementEntry[]>> {
    return merchants.merchantStatement(this.ctx, inp);
  }

  // ---- merchant credentials ------------------------------------------------------------------

  /** The secret of an HMAC key is in the result once, here, and nowhere else ever again. */
  createCredential(inp: credentials.CreateCredentialInput): Promise<PartiesResult<{ credential: Credential; secret: Secret | undefined }>> {
    return credentials.createCredential(this.ctx, inp);
  }

  listCredentials(inp: Page & { merchantId: bigint }): Promise<PartiesResult<Credential[]>> {
    return credentials.listCredentials(this.ctx, inp);
  }

  revokeCredential(inp: StatusInput & { merchantId: bigint; keyId: string }): Promise<PartiesResult<Credential>> {
    return credentials.revokeCredential(this.ctx, inp);
  }

  credentialForAuth(inp: { keyId: string }): Promise<PartiesResult<credentials.AuthCredential>> {
    return credentials.credentialForAuth(this.ctx, inp.keyId);
  }

  /** Records the nonce of a verified signed request; false when the key already used it (a replay). */
  /** Signs a notification Paycore sends to a merchant (see credentials.signNotification). */
  signNotification(inp: { merchantId: bigint; method: string; pathWithQuery: string; body: string; now: Date }): Promise<{ header: string; keyId: string }> {
    return credentials.signNotification(this.ctx, inp);
  }

  platformPublicKeys(): Promise<{ keyId: string; alg: 'RSA-SHA256'; publicKeyPem: string }[]> {
    return credentials.platformPublicKeys(this.ctx);
  }

  recordNonce(inp: { keyId: string; nonce: string }): Promise<boolean> {
    return credentials.recordNonce(this.ctx, inp.keyId, inp.nonce);
  }

  // ---- operator tokens -----------------------------------------------------------------------

  /** The token value is in the result once, here, and is stored only as its SHA-256. */
  createOperatorToken(inp: { name: string; role: string; createdBy?: string }): Promise<PartiesResult<{ token: OperatorToken; value: Secret }>> {
    return tokens.createOperatorToken(this.ctx, inp);
  }

  listOperatorTokens(inp: Page): Promise<OperatorToken[]> {
    return tokens.listOperatorTokens(this.ctx, inp);
  }

  revokeOperatorToken(inp: { id: bigint; actor?: string }): Promise<PartiesResult<OperatorToken>> {
    return tokens.revokeOperatorToken(this.ctx, inp);
  }

  /** Matches http/auth.ts OperatorTokenLookup: an active token by the SHA-256 of its value. */
  readonly operatorTokenLookup = (tokenSha256: string): Promise<{ id: string; role: OperatorTokenRole } | undefined> =>
    tokens.lookupOperatorToken(this.ctx, tokenSha256);
}
