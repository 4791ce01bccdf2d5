/**
 * Records and fixed vocabularies of the parties module (三户: customer 客户, user 用户, account 账户).
 *
 * Real-name levels (实名等级), lowest to highest:
 *   0 none      nothing verified; the identity is what the customer typed.
 *   1 basic     a verified phone number and a self-declared identity; enough for small
 *               stored-value use, not for receiving funds.
 *   2 verified  the legal name and ID number matched the issuing authority (for organizations
 *               and individual businesses: the unified social credit code and name matched the
 *               business registry). A merchant cannot be activated below this level.
 *   3 strong    level 2 plus a bank-card four-element match (name, ID, card, bank-reserved phone)
 *               or a face match against the ID photo; needed for the highest limits.
 * The level is set by an operator or a verification flow; this module records it, it does not verify.
 */
import type { SignatureAlg } from '../../../kernel/signature.js';

export const CUSTOMER_KINDS = ['individual', 'individual_business', 'organization'] as const;
export type CustomerKind = (typeof CUSTOMER_KINDS)[number];

export const ID_TYPES = ['resident_id', 'passport', 'uscc'] as const;
export type IdType = (typeof ID_TYPES)[number];

export const CUSTOMER_STATUSES = ['active', 'frozen', 'closed'] as const;
export type CustomerStatus = (typeof CUSTOMER_STATUSES)[number];

export const REAL_NAME_LEVELS = [0, 1, 2, 3] as const;
export type RealNameLevel = (typeof REAL_NAME_LEVELS)[number];
/** The lowest real-name level at which a merchant may be activated. */
export const MERCHANT_MIN_REAL_NAME_LEVEL: RealNameLevel = 2;

export const RELATIONSHIP_KINDS = ['parent_organization', 'guarantor', 'beneficial_owner'] as const;
export type RelationshipKind = (typeof RELATIONSHIP_KINDS)[number];

export const USER_ROLES = ['owner', 'admin', 'finance', 'operator', 'viewer'] as const;
export type UserRole = (typeof USER_ROLES)[number];

export const USER_STATUSES = ['active', 'disabled'] as const;
export type UserStatus = (typeof USER_STATUSES)[number];

/** Kinds of business account; their ledger subjects and rules are in account-kinds.ts. */
export const BUSINESS_ACCOUNT_KINDS = ['balance', 'merchant_settlement', 'deposit'] as const;
export type BusinessAccountKind = (typeof BUSINESS_ACCOUNT_KINDS)[number];

export const BUSINESS_ACCOUNT_STATUSES = ['active', 'frozen', 'closed'] as const;
export type BusinessAccountStatus = (typeof BUSINESS_ACCOUNT_STATUSES)[number];

export const MERCHANT_STATUSES = ['pending', 'active', 'suspended', 'closed'] as const;
export type MerchantStatus = (typeof MERCHANT_STATUSES)[number];

export const CREDENTIAL_STATUSES = ['active', 'disabled'] as const;
export type CredentialStatus = (typeof CREDENTIAL_STATUSES)[number];

/** The same three roles as http/auth.ts OPERATOR_ROLES; kept here so the module does not depend on http/. */
export const OPERATOR_TOKEN_ROLES = ['admin', 'operator', 'viewer'] as const;
export type OperatorTokenRole = (typeof OPERATOR_TOKEN_ROLES)[number];

export interface Customer {
  id: bigint;
  kind: CustomerKind;
  legalName: string;
  idType: IdType;
  /** e.g. 110***********002X; the full number is only ever stored sealed. */
  idNumberMasked: string;
  phoneMasked: string | null;
  realNameLevel: RealNameLevel;
  status: CustomerStatus;
  createdAt: Date;
  updatedAt: Date;
}

export interface Relationship {
  id: bigint;
  customerId: bigint;
  relatedCustomerId: bigint;
  kind: RelationshipKind;
  shareBp: number | null;
  createdAt: Date;
}

export interface User {
  id: bigint;
  customerId: bigint;
  loginName: string;
  displayName: string;
  roles: UserRole[];
  status: UserStatus;
  createdAt: Date;
  updatedAt: Date;
}

export interface BusinessAccount {
  id: bigint;
  customerId: bigint;
  kind: BusinessAccountKind;
  currency: string;
  /** Null only while the ledger account is being created (see accounts.ts). */
  ledgerAccountId: bigint | null;
  externalRef: string | null;
  status: BusinessAccountStatus;
  createdAt: Date;
  updatedAt: Date;
}

export interface Merchant {
  id: bigint;
  customerId: bigint;
  merchantNo: string;
  displayName: string;
  notifyDomains: string[];
  mcc: string;
  feePlanRef: string | null;
  settlementCycle: string;
  settlementAccountId: bigint;
  status: MerchantStatus;
  createdAt: Date;
  updatedAt: Date;
}

export interface Credential {
  id: bigint;
  keyId: string;
  merchantId: bigint;
  alg: SignatureAlg;
  name: string;
  /** The RSA public key (PEM) for RSA-SHA256 keys; never a secret. */
  publicKeyPem: string | null;
  publicKeyBits: number | null;
  status: CredentialStatus;
  createdAt: Date;
  disabledAt: Date | null;
}

export interface OperatorToken {
  id: bigint;
  name: string;
  role: OperatorTokenRole;
  createdBy: string;
  createdAt: Date;
  revokedAt: Date | null;
}
