/**
 * Typed header values cached per `Header` object. Headers are immutable, so a value parsed
 * once (by the receive-path parser or the first typed access) stays valid for every message
 * that shares the field object, e.g. a proxy's copy of the header list.
 */
import type { Header } from "./Model.ts"

const cache = new WeakMap<Header, unknown>()

export const get = (h: Header): unknown => cache.get(h)

export const has = (h: Header): boolean => cache.has(h)

export const set = (h: Header, value: unknown): void => {
  cache.set(h, value)
}
