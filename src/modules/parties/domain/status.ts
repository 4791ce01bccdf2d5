/**
 * Allowed status transitions of every party record. "Closed" is final everywhere: a closed
 * record keeps its history and ids, and a new one is created instead of reopening it.
 * Setting the status a record already has is not a transition; callers treat it as a no-op.
 */
import type { BusinessAccountStatus, CustomerStatus, MerchantStatus, UserStatus } from './types.js';

const CUSTOMER: Record<CustomerStatus, readonly CustomerStatus[]> = {
  active: ['frozen', 'closed'],
  frozen: ['active', 'closed'],
  closed: [],
};

const USER: Record<UserStatus, readonly UserStatus[]> = {
  active: ['disabled'],
  disabled: ['active'],
};

const BUSINESS_ACCOUNT: Record<BusinessAccountStatus, readonly BusinessAccountStatus[]> = {
  active: ['frozen', 'closed'],
  frozen: ['active', 'closed'],
  closed: [],
};

// A merchant is created pending (onboarding, 进件) and activated once its documents are checked;
// suspension (暂停) is the risk team's brake and is reversible; closing (注销) is not.
const MERCHANT: Record<MerchantStatus, readonly MerchantStatus[]> = {
  pending: ['active', 'closed'],
  active: ['suspended', 'closed'],
  suspended: ['active', 'closed'],
  closed: [],
};

export const canChangeCustomerStatus = (from: CustomerStatus, to: CustomerStatus): boolean => CUSTOMER[from].includes(to);
export const canChangeUserStatus = (from: UserStatus, to: UserStatus): boolean => USER[from].includes(to);
export const canChangeAccountStatus = (from: BusinessAccountStatus, to: BusinessAccountStatus): boolean => BUSINESS_ACCOUNT[from].includes(to);
export const canChangeMerchantStatus = (from: MerchantStatus, to: MerchantStatus): boolean => MERCHANT[from].includes(to);
