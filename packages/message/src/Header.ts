/** Building raw header fields. */
import * as HeaderCache from "./HeaderCache.ts"
import type { HeaderDef } from "./Headers.ts"
import { canonicalName } from "./Headers.ts"
import type { Header } from "./Model.ts"

export type { Header }

/** A field from a typed value: formatted once, the typed value cached for later access. */
export const make = <A>(def: HeaderDef<A>, value: A): Header => {
  return HeaderCache.make(def.name, def.format(value), value)
}

/** A field from raw text; known names are canonicalised (compact forms expanded). */
export const raw = (name: string, value: string): Header => HeaderCache.make(canonicalName(name), value.trim())
