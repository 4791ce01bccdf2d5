/**
 * Which promotional bonus has expired unspent. Each bonus grant is a lot with its own expiry (or
 * none); the card's bonus history is replayed in order, and every spend is taken from the lots
 * still valid at that moment, earliest expiry first (lots without expiry last) — the order most
 * favourable to the holder. Bonus given back (a void or refund of a consume that spent bonus) is
 * put back into the valid lots it most likely came from, earliest expiry first, up to each lot's
 * original size; what does not fit stays as bonus without expiry. A forfeiture takes from the lot
 * it names. What a lot holds once its expiry has passed is what the expiry job forfeits.
 *
 * Pure: the caller supplies the history (of the card and the cards it replaced) and the time.
 */

export type BonusEvent =
  | { kind: 'grant'; id: bigint; at: Date; amountMinor: bigint; expiresAt: Date | null }
  | { kind: 'spend' | 'return'; id: bigint; at: Date; amountMinor: bigint }
  | { kind: 'forfeit'; id: bigint; at: Date; amountMinor: bigint; grantId: bigint };

interface Lot {
  id: bigint;
  size: bigint;
  left: bigint;
  expiresAt: number;
}

/** What is left, at `now`, in each grant whose expiry has passed (only lots with something left). */
export function expiredBonusLeft(history: readonly BonusEvent[], now: Date): Map<bigint, bigint> {
  const events = [...history].sort((a, b) => a.at.getTime() - b.at.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const lots: Lot[] = [];
  const byId = new Map<bigint, Lot>();
  const order = (a: Lot, b: Lot): number => a.expiresAt - b.expiresAt || (a.id < b.id ? -1 : 1);
  for (const e of events) {
    const t = e.at.getTime();
    switch (e.kind) {
      case 'grant': {
        const lot = { id: e.id, size: e.amountMinor, left: e.amountMinor, expiresAt: e.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY };
        lots.push(lot);
        byId.set(e.id, lot);
        break;
      }
      case 'spend': {
        let need = e.amountMinor;
        // Valid lots first; expired ones only if the expiry job had not run yet when this was spent.
        const valid = lots.filter((l) => l.expiresAt > t).sort(order);
        const expired = lots.filter((l) => l.expiresAt <= t).sort(order);
        for (const l of [...valid, ...expired]) {
          if (need === 0n) break;
          const take = l.left < need ? l.left : need;
          l.left -= take;
          need -= take;
        }
        break;
      }
      case 'return': {
        let give = e.amountMinor;
        for (const l of lots.filter((x) => x.expiresAt > t).sort(order)) {
          if (give === 0n) break;
          const room = l.size - l.left;
          const put = room < give ? room : give;
          l.left += put;
          give -= put;
        }
        if (give > 0n) lots.push({ id: e.id, size: give, left: give, expiresAt: Number.POSITIVE_INFINITY });
        break;
      }
      case 'forfeit': {
        const l = byId.get(e.grantId);
        if (l) l.left -= e.amountMinor < l.left ? e.amountMinor : l.left;
        break;
      }
    }
  }
  const out = new Map<bigint, bigint>();
  for (const l of lots) if (l.expiresAt <= now.getTime() && l.left > 0n) out.set(l.id, l.left);
  return out;
}
