// An insertion-ordered set for objects that come and go all the time (the
// open connections of a server), with a `Set`'s iteration rules but without
// its hash table. V8 replaces a Set's table as it grows, shrinks or fills
// with deleted entries, and links each replaced table to its successor for
// the iterators still walking it. Once one replaced table outlives a
// young-generation collection, it holds every later table, and every member
// those tables held, through each following one until a full collection:
// under a churn of thousands of connections a second, every collection
// copied and promoted hundreds of kilobytes of connections long closed (the
// server's registry as a Set cost about 6 µs of collection pauses per
// handshake: bench/RESULTS.md, bench/gc_churn.ts). Here members sit in an
// array; a deleted one leaves a hole, and the holes are closed up once they
// outnumber the members.

/**
 * A `ReadonlySet` of objects that can be added and deleted in O(1)
 * (amortized) and iterated live, as a `Set` is: members added during an
 * iteration are visited, members deleted before their turn are not.
 */
export class LiveSet<T extends WeakKey> implements ReadonlySet<T> {
  // Members in insertion order, with holes where members were deleted.
  #items: (T | undefined)[] = [];
  // Each slot's insertion number, so that an iterator can find its place
  // again after the holes were closed up.
  #seqs: number[] = [];
  #index = new WeakMap<T, number>();
  #size = 0;
  #nextSeq = 0;
  // Bumped each time the holes are closed up (indexes change).
  #compactions = 0;
  // forEach() calls under way: the holes stay until they end.
  #walking = 0;

  /** How many members there are. */
  get size(): number {
    return this.#size;
  }

  /** Whether `item` is a member. */
  has(item: T): boolean {
    return this.#index.has(item);
  }

  /** Adds `item` at the end (no-op for a member). */
  add(item: T): this {
    if (this.#index.has(item)) return this;
    this.#index.set(item, this.#items.length);
    this.#items.push(item);
    this.#seqs.push(this.#nextSeq++);
    this.#size++;
    return this;
  }

  /** Removes `item`; whether it was a member. */
  delete(item: T): boolean {
    const at = this.#index.get(item);
    if (at === undefined) return false;
    this.#index.delete(item);
    this.#items[at] = undefined;
    this.#size--;
    this.#compactIfSparse();
    return true;
  }

  /** The members, in insertion order, iterated live. */
  *values(): SetIterator<T> {
    let compactions = this.#compactions;
    let next = 0;
    let lastSeq = -1;
    while (true) {
      if (compactions !== this.#compactions) {
        compactions = this.#compactions;
        next = this.#firstAfter(lastSeq);
      }
      const items = this.#items;
      while (next < items.length && items[next] === undefined) next++;
      if (next >= items.length) return;
      lastSeq = this.#seqs[next];
      yield items[next++]!;
    }
  }

  /** The members (as `values()`). */
  keys(): SetIterator<T> {
    return this.values();
  }

  /** `[member, member]` pairs, as a `Set`'s entries are. */
  *entries(): SetIterator<[T, T]> {
    for (const item of this.values()) yield [item, item];
  }

  [Symbol.iterator](): SetIterator<T> {
    return this.values();
  }

  /**
   * Calls `callback` for each member, live, as `Set.forEach` does. Faster
   * than iterating: a plain loop over the slots, during which the holes are
   * left open (for broadcasts to thousands).
   */
  forEach(
    callback: (value: T, key: T, set: ReadonlySet<T>) => void,
    thisArg?: unknown,
  ): void {
    this.#walking++;
    try {
      const items = this.#items;
      for (let i = 0; i < items.length; i++) {
        const item = items[i];
        if (item !== undefined) callback.call(thisArg, item, item, this);
      }
    } finally {
      this.#walking--;
      this.#compactIfSparse();
    }
  }

  /** A new `Set` of the members and those of `other`. */
  union<U>(other: ReadonlySetLike<U>): Set<T | U> {
    return new Set<T | U>(this).union(other);
  }

  /** A new `Set` of the members also in `other`. */
  intersection<U>(other: ReadonlySetLike<U>): Set<T & U> {
    return new Set<T>(this).intersection(other);
  }

  /** A new `Set` of the members not in `other`. */
  difference<U>(other: ReadonlySetLike<U>): Set<T> {
    return new Set<T>(this).difference(other);
  }

  /** A new `Set` of what is in exactly one of the two. */
  symmetricDifference<U>(other: ReadonlySetLike<U>): Set<T | U> {
    return new Set<T | U>(this).symmetricDifference(other);
  }

  /** Whether every member is in `other`. */
  isSubsetOf(other: ReadonlySetLike<unknown>): boolean {
    for (const item of this.values()) if (!other.has(item)) return false;
    return true;
  }

  /** Whether every element of `other` is a member. */
  isSupersetOf(other: ReadonlySetLike<unknown>): boolean {
    return new Set<unknown>(this).isSupersetOf(other);
  }

  /** Whether no member is in `other`. */
  isDisjointFrom(other: ReadonlySetLike<unknown>): boolean {
    for (const item of this.values()) if (other.has(item)) return false;
    return true;
  }

  get [Symbol.toStringTag](): string {
    return "LiveSet";
  }

  // Closes up the holes in place, keeping the order, once they outnumber
  // the members (and no forEach() is walking the slots).
  #compactIfSparse(): void {
    const holes = this.#items.length - this.#size;
    if (holes > 16 && holes > this.#size && this.#walking === 0) {
      this.#compact();
    }
  }

  #compact(): void {
    const items = this.#items;
    const seqs = this.#seqs;
    let kept = 0;
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (item === undefined) continue;
      items[kept] = item;
      seqs[kept] = seqs[i];
      this.#index.set(item, kept);
      kept++;
    }
    items.length = kept;
    seqs.length = kept;
    this.#compactions++;
  }

  // The first slot whose insertion number is above `seq`.
  #firstAfter(seq: number): number {
    const seqs = this.#seqs;
    let low = 0;
    let high = seqs.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (seqs[middle] <= seq) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
