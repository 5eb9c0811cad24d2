/**
 * The `presence` event package (RFC 3856) for the RFC 6665 notifier: the state of a
 * presentity is one PIDF document composed from its publications (RFC 3903) and its
 * registrations (a registered contact is an open tuple); with neither, one closed tuple.
 */
import type { EventPackage } from "@sipfx/event"
import { Aor } from "@sipfx/location"
import type { SipRequest } from "@sipfx/message"
import * as Pidf from "./Pidf.ts"

export interface Sources {
  /** non-expired PUBLISHed documents of the presentity */
  readonly publications: (aor: string) => ReadonlyArray<Pidf.Document>
  /** the registered contacts of the AOR (the location service) */
  readonly registered: (aor: string) => ReadonlyArray<string>
  /** served domains; empty: any */
  readonly domains: ReadonlyArray<string>
}

/** The composed document (RFC 3863 §4.1: tuple ids unique within the document). */
export const compose = (aor: string, sources: Sources): Pidf.Document => {
  const tuples: Array<Pidf.Tuple> = []
  const ids = new Set<string>()
  const add = (t: Pidf.Tuple, fallback: string) => {
    let id = ids.has(t.id) ? fallback : t.id
    for (let n = 1; ids.has(id); n++) id = `${fallback}-${n}`
    ids.add(id)
    tuples.push({ ...t, id })
  }
  const notes: Array<string> = []
  sources.publications(aor).forEach((doc, i) => {
    for (const t of doc.tuples) add(t, `p${i}-${t.id}`)
    notes.push(...doc.notes)
  })
  sources.registered(aor).forEach((contact, i) => {
    add({ id: `reg${i}`, basic: "open", contact: { uri: contact }, notes: [] }, `reg${i}`)
  })
  if (tuples.length === 0) tuples.push({ id: "t0", basic: "closed", notes: [] })
  return { entity: aor, tuples, notes }
}

export const resourceOf =
  (domains: ReadonlyArray<string>) =>
  (request: SipRequest): string | undefined => {
    if (request.uri._tag !== "SipUri" || request.uri.user === undefined) return undefined
    if (domains.length > 0 && !domains.includes(request.uri.host.toLowerCase())) return undefined
    return Aor.canonical(request.uri)
  }

export const make = (
  sources: Sources,
  expires: { readonly min: number; readonly max: number; readonly default: number } = {
    min: 60,
    max: 7200,
    default: 3600,
  },
): EventPackage.EventPackage<Pidf.Document> => ({
  name: "presence",
  contentType: Pidf.contentType,
  accept: [Pidf.contentType, Pidf.legacyContentType],
  defaultExpires: expires.default,
  minExpires: expires.min,
  maxExpires: expires.max,
  resourceOf: resourceOf(sources.domains),
  state: (aor) => compose(aor, sources),
  body: (doc, aor) => Pidf.encode(doc ?? compose(aor, sources)),
  // RFC 3856 §6.7: notify when the document a watcher would see differs
  changed: (a, b) => (a === undefined || b === undefined ? a !== b : Pidf.format(a) !== Pidf.format(b)),
})
