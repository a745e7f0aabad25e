// The digests a view keeps (the whole registry's, or those of the pools and services a partial
// view holds) and what they were at recent versions, to compare with Redis's.
import { withTag } from '../../storage/registry-digest.js';

/** How many recent versions keep the digests the view had at them. */
const HISTORY = 64;

export class ViewDigests {
  private sums = new Map<string, number>();
  /** Per version: the digests of `fields`, then how many nodes the view held. */
  private history = new Map<number, number[]>();

  /** `['digest']` for a whole view; `p:<pool>` and `d:<service>` fields for a partial one. */
  constructor(private fieldList: string[]) {}

  get fields(): string[] {
    return this.fieldList;
  }

  /** Counts a tag value in (`sign` 1) or out (-1) of `fields` (those this view keeps). */
  count(fields: string[], value: number, sign: 1 | -1): void {
    for (const field of fields)
      this.sums.set(field, withTag(this.sums.get(field) ?? 0, value, sign));
  }

  current(): number[] {
    return this.fieldList.map((field) => this.sums.get(field) ?? 0);
  }

  /** The view reached `version` holding `size` nodes: remember its digests and size there. */
  reached(version: number, size: number): void {
    this.history.set(version, [...this.current(), size]);
    if (this.history.size > HISTORY) this.history.delete(this.history.keys().next().value!);
  }

  /** The digests at `version` (and, last, the view's size), if it is recent and was reached here. */
  at(version: number): number[] | undefined {
    return this.history.get(version);
  }

  /** Starts over: no sums (the caller counts the content again), no history, maybe other fields. */
  reset(fields = this.fieldList): void {
    this.fieldList = fields;
    this.sums.clear();
    this.history.clear();
  }
}
