/**
 * Typed header values cached per `Header` object. Headers are immutable, so a value parsed
 * once (by the receive-path parser or the first typed access) stays valid for every message
 * that shares the field object, e.g. a proxy's copy of the header list.
 *
 * Fields made by this package are `CachedHeader` instances that keep the value in a private
 * slot (invisible to structural equality and JSON, and much cheaper than a WeakMap on the
 * receive path); plain `{ name, value }` objects made elsewhere fall back to a WeakMap.
 */
import type { Header } from "./Model.ts"

const weak = new WeakMap<Header, unknown>()

export class CachedHeader implements Header {
  readonly name: string
  readonly value: string
  #typed: unknown

  constructor(name: string, value: string, typed?: unknown) {
    this.name = name
    this.value = value
    this.#typed = typed
  }

  static read(h: Header): unknown {
    return #typed in h ? (h as CachedHeader).#typed : weak.get(h)
  }

  static write(h: Header, value: unknown): void {
    if (#typed in h) (h as CachedHeader).#typed = value
    else weak.set(h, value)
  }
}

export const get = (h: Header): unknown => CachedHeader.read(h)

export const has = (h: Header): boolean => CachedHeader.read(h) !== undefined

export const set = (h: Header, value: unknown): void => CachedHeader.write(h, value)

/** A header field that carries its typed value. */
export const make = (name: string, value: string, typed?: unknown): Header => new CachedHeader(name, value, typed)
