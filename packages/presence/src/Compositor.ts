/**
 * The event state compositor of RFC 3903 (§6) for presence: publications per presentity,
 * each under an entity-tag. PUBLISH without SIP-If-Match creates one; with it, refreshes
 * (no body), modifies (a body) or removes (Expires: 0) the one the tag names — 412 when the
 * tag is unknown or expired. Every success answers a fresh SIP-ETag (§6 step 6 and 7).
 * Publications expire on their own; `onChange` is told the presentity whose state moved.
 */
import { randomBytes } from "node:crypto"
import type { Runner } from "@sipfx/event"
import * as Pidf from "./Pidf.ts"

export interface Publication {
  readonly etag: string
  readonly document: Pidf.Document
  readonly expiresAt: number
}

export type Outcome =
  | { readonly _tag: "Ok"; readonly etag: string; readonly expires: number }
  | { readonly _tag: "Removed" }
  | {
      readonly _tag: "Reject"
      readonly status: 400 | 412 | 415 | 423
      readonly reason?: string
      readonly minExpires?: number
    }

export interface Options {
  readonly minExpires: number
  readonly maxExpires: number
  readonly defaultExpires: number
}

export const defaults: Options = { minExpires: 60, maxExpires: 7200, defaultExpires: 3600 }

interface Entry {
  etag: string
  document: Pidf.Document
  expiresAt: number
  cancel: () => void
}

export class Compositor {
  private readonly byEntity = new Map<string, Map<string, Entry>>()
  private readonly byEtag = new Map<string, { readonly entity: string; readonly entry: Entry }>()
  private readonly options: Options
  private readonly timers: Runner.Timers
  private readonly now: () => number
  private readonly onChange: (entity: string) => void

  constructor(options: Options, timers: Runner.Timers, now: () => number, onChange: (entity: string) => void) {
    this.options = options
    this.timers = timers
    this.now = now
    this.onChange = onChange
  }

  /** Publications of a presentity that have not expired. */
  publications(entity: string): ReadonlyArray<Publication> {
    return [...(this.byEntity.get(entity)?.values() ?? [])].map((e) => ({
      etag: e.etag,
      document: e.document,
      expiresAt: e.expiresAt,
    }))
  }

  /**
   * One PUBLISH (RFC 3903 §6): `ifMatch` the SIP-If-Match value, `expires` the Expires header,
   * `body`/`contentType` the body.
   */
  publish(
    entity: string,
    request: {
      readonly ifMatch: string | undefined
      readonly expires: number | undefined
      readonly body: Uint8Array
      readonly contentType: string | undefined
    },
  ): Outcome {
    const o = this.options
    let expires = request.expires ?? o.defaultExpires
    // §6 step 5: too brief → 423 with Min-Expires; too long → lowered
    if (expires > 0 && expires < o.minExpires) return { _tag: "Reject", status: 423, minExpires: o.minExpires }
    expires = Math.min(expires, o.maxExpires)
    let document: Pidf.Document | undefined
    if (request.body.length > 0) {
      // §6 step 3: the body must be of a type the package allows
      if (!Pidf.isPidf(request.contentType)) return { _tag: "Reject", status: 415 }
      const parsed = Pidf.parse(request.body)
      if (parsed instanceof Pidf.PidfError) return { _tag: "Reject", status: 400, reason: "Bad PIDF" }
      document = parsed
    }
    if (request.ifMatch === undefined) {
      // §6 step 4: an initial publication needs a body and a non-zero expiry
      if (document === undefined || expires === 0) return { _tag: "Reject", status: 400, reason: "Missing Body" }
      return this.store(entity, undefined, document, expires)
    }
    const found = this.byEtag.get(request.ifMatch)
    // §6 step 4: an unknown (or expired) entity-tag → 412 Conditional Request Failed
    if (found === undefined || found.entity !== entity) return { _tag: "Reject", status: 412 }
    if (expires === 0) {
      this.drop(entity, found.entry)
      this.onChange(entity)
      return { _tag: "Removed" }
    }
    return this.store(entity, found.entry, document ?? found.entry.document, expires)
  }

  private store(entity: string, previous: Entry | undefined, document: Pidf.Document, expires: number): Outcome {
    if (previous !== undefined) this.drop(entity, previous)
    const etag = randomBytes(8).toString("hex")
    const entry: Entry = { etag, document, expiresAt: this.now() + expires * 1000, cancel: () => {} }
    entry.cancel = this.timers.after(expires * 1000, () => {
      // §6: an expired publication is removed from the composed state
      if (this.byEtag.get(etag)?.entry !== entry) return
      this.drop(entity, entry)
      this.onChange(entity)
    })
    let map = this.byEntity.get(entity)
    if (map === undefined) this.byEntity.set(entity, (map = new Map()))
    map.set(etag, entry)
    this.byEtag.set(etag, { entity, entry })
    const changed = previous === undefined || Pidf.format(previous.document) !== Pidf.format(document)
    if (changed) this.onChange(entity)
    return { _tag: "Ok", etag, expires }
  }

  private drop(entity: string, entry: Entry): void {
    entry.cancel()
    this.byEtag.delete(entry.etag)
    const map = this.byEntity.get(entity)
    map?.delete(entry.etag)
    if (map !== undefined && map.size === 0) this.byEntity.delete(entity)
  }
}
