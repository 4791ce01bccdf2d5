/**
 * Related accounts (关联账户): a graph linking users (customers, accounts) that share a device, an
 * IP, a card, a phone or a bank account. Users and shared values are nodes; an event links its user
 * to each value it carries. Connected components are kept by union-find (near-constant time per
 * link); a component's size counts its users only.
 *
 * Money moving between users (payer -> payee) is kept per component; a payment that closes a cycle
 * among users of one component (A -> B -> C -> A) is reported: many accounts controlled by one
 * person trading with each other.
 */
import type { Entity } from './ruleset.js';

export const LINK_ENTITIES: readonly Entity[] = ['device', 'ip', 'card', 'phone', 'bank_account'];

export class AccountGraph {
  private readonly parent = new Map<string, string>();
  private readonly users = new Map<string, number>();
  private readonly edges = new Set<string>();
  /** payer -> payees (users), for cycle detection. */
  private readonly flows = new Map<string, Set<string>>();

  constructor(private readonly linkEntities: readonly Entity[] = LINK_ENTITIES) {}

  private find(x: string): string {
    let root = x;
    for (let p = this.parent.get(root); p !== undefined && p !== root; p = this.parent.get(root)) root = p;
    // Path compression.
    let cur = x;
    while (cur !== root) {
      const next = this.parent.get(cur)!;
      this.parent.set(cur, root);
      cur = next;
    }
    return root;
  }

  private node(x: string, isUser: boolean): void {
    if (this.parent.has(x)) return;
    this.parent.set(x, x);
    this.users.set(x, isUser ? 1 : 0);
  }

  private union(a: string, b: string): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra === rb) return;
    const [big, small] = (this.users.get(ra) ?? 0) >= (this.users.get(rb) ?? 0) ? [ra, rb] : [rb, ra];
    this.parent.set(small, big);
    this.users.set(big, (this.users.get(big) ?? 0) + (this.users.get(small) ?? 0));
    this.users.delete(small);
  }

  /** Links a user to a shared value; answers whether the edge is new (to be persisted). */
  link(user: string, entity: Entity, value: string): boolean {
    if (!this.linkEntities.includes(entity) || user === '' || value === '') return false;
    const key = `${user}\u0001${entity}\u0001${value}`;
    if (this.edges.has(key)) return false;
    this.edges.add(key);
    const u = `u:${user}`;
    const v = `${entity}:${value}`;
    this.node(u, true);
    this.node(v, false);
    this.union(u, v);
    return true;
  }

  /** The number of users in the user's component (1 for a user linked to nobody). */
  componentSize(user: string): number {
    const u = `u:${user}`;
    if (!this.parent.has(u)) return 1;
    return this.users.get(this.find(u)) ?? 1;
  }

  sameComponent(a: string, b: string): boolean {
    const x = `u:${a}`;
    const y = `u:${b}`;
    return this.parent.has(x) && this.parent.has(y) && this.find(x) === this.find(y);
  }

  /** The users and shared values of a node's component (for operators; bounded). */
  component(entity: Entity | 'user', value: string, max = 1_000): { users: string[]; shared: { entity: string; value: string }[]; size: number } {
    const start = entity === 'user' ? `u:${value}` : `${entity}:${value}`;
    if (!this.parent.has(start)) return { users: entity === 'user' ? [value] : [], shared: [], size: entity === 'user' ? 1 : 0 };
    const root = this.find(start);
    const users: string[] = [];
    const shared: { entity: string; value: string }[] = [];
    for (const n of this.parent.keys()) {
      if (users.length + shared.length >= max) break;
      if (this.find(n) !== root) continue;
      if (n.startsWith('u:')) users.push(n.slice(2));
      else {
        const i = n.indexOf(':');
        shared.push({ entity: n.slice(0, i), value: n.slice(i + 1) });
      }
    }
    return { users, shared, size: this.users.get(root) ?? 0 };
  }

  /**
   * Records money from payer to payee. When both are in one component and the payee already sends
   * money (directly or through others of the component) back to the payer, answers the cycle
   * (payer, payee, ..., payer).
   */
  flow(payer: string, payee: string, maxDepth = 8): string[] | null {
    if (payer === '' || payee === '' || payer === payee) return null;
    let out = this.flows.get(payer);
    if (!out) this.flows.set(payer, (out = new Set()));
    const isNew = !out.has(payee);
    out.add(payee);
    if (!isNew || !this.sameComponent(payer, payee)) return null;
    // Depth-first search from the payee back to the payer, within the component.
    const path: string[] = [payee];
    const seen = new Set<string>([payee]);
    const dfs = (x: string, depth: number): boolean => {
      if (depth > maxDepth) return false;
      for (const y of this.flows.get(x) ?? []) {
        if (y === payer) return true;
        if (seen.has(y) || !this.sameComponent(payer, y)) continue;
        seen.add(y);
        path.push(y);
        if (dfs(y, depth + 1)) return true;
        path.pop();
      }
      return false;
    };
    return dfs(payee, 1) ? [payer, ...path, payer] : null;
  }
}
