/**
 * Presence Information Data Format (RFC 3863): `application/pidf+xml` documents with tuples
 * (basic open/closed status, contact with priority, notes, timestamp) and presence-level
 * notes. Parsing takes the legacy `application/cpim-pidf+xml` type too and ignores namespace
 * prefixes and unknown extension elements (§4.1.5: "MUST ignore"), as the RFC requires.
 */
import { Data } from "effect"
import * as Xml from "./Xml.ts"
import { type Node, text } from "./Xml.ts"

export const contentType = "application/pidf+xml"
/** RFC 3863 §7 / the CPIM-era type still sent by some clients */
export const legacyContentType = "application/cpim-pidf+xml"
export const namespace = "urn:ietf:params:xml:ns:pidf"

export type Basic = "open" | "closed"

export interface Contact {
  readonly uri: string
  /** 0.0 – 1.0 (§4.1.4) */
  readonly priority?: number | undefined
}

export interface Tuple {
  /** unique within the document (§4.1.1) */
  readonly id: string
  readonly basic: Basic | undefined
  readonly contact?: Contact | undefined
  readonly notes: ReadonlyArray<string>
  /** RFC 3339 date-time (§4.1.7) */
  readonly timestamp?: string | undefined
}

export interface Document {
  /** the presentity, `pres:` or `sip:` URI (§4.1.1) */
  readonly entity: string
  readonly tuples: ReadonlyArray<Tuple>
  readonly notes: ReadonlyArray<string>
}

export class PidfError extends Data.TaggedError("PidfError")<{ readonly reason: string }> {}

/** Whether a Content-Type names a PIDF body (parameters ignored). */
export const isPidf = (type: string | undefined): boolean => {
  const t = type?.split(";")[0]?.trim().toLowerCase()
  return t === contentType || t === legacyContentType
}

const parser = Xml.parser(["tuple", "note"])

const notesOf = (v: unknown): Array<string> =>
  Array.isArray(v) ? v.map(text).filter((s): s is string => s !== undefined && s !== "") : []

/** Parses a PIDF document (RFC 3863 §4). */
export const parse = (body: Uint8Array | string): Document | PidfError => {
  const read = Xml.read(parser, body)
  if (read._tag === "Err") return new PidfError({ reason: read.reason })
  const root = read.root
  const presence = root.presence as Node | undefined
  if (presence === undefined || typeof presence !== "object")
    return new PidfError({ reason: "no <presence> root element" })
  const entity = presence["@entity"]
  if (typeof entity !== "string" || entity === "")
    return new PidfError({ reason: "<presence> without entity (§4.1.1)" })
  const tuples: Array<Tuple> = []
  for (const t of (presence.tuple as Array<Node> | undefined) ?? []) {
    const id = t["@id"]
    if (typeof id !== "string" || id === "") return new PidfError({ reason: "<tuple> without id (§4.1.1)" })
    const status = t.status as Node | undefined
    const basicText = text(status?.basic)?.toLowerCase()
    // §4.1.4: a status with an unknown basic value is kept without basic
    const basic: Basic | undefined = basicText === "open" || basicText === "closed" ? basicText : undefined
    const c = t.contact
    const contactUri = text(c)
    const priorityText = c !== null && typeof c === "object" ? (c as Node)["@priority"] : undefined
    const priority = typeof priorityText === "string" ? Number(priorityText) : undefined
    tuples.push({
      id,
      basic,
      contact:
        contactUri === undefined
          ? undefined
          : { uri: contactUri, priority: priority !== undefined && Number.isFinite(priority) ? priority : undefined },
      notes: notesOf(t.note),
      timestamp: text(t.timestamp),
    })
  }
  return { entity, tuples, notes: notesOf(presence.note) }
}

/** Serialises a document as `application/pidf+xml` (RFC 3863 §4, UTF-8). */
export const format = (doc: Document): string => {
  const tuple = doc.tuples.map((t) => ({
    "@id": t.id,
    status: t.basic === undefined ? {} : { basic: t.basic },
    ...(t.contact === undefined
      ? {}
      : {
          contact:
            t.contact.priority === undefined
              ? t.contact.uri
              : { "#text": t.contact.uri, "@priority": t.contact.priority.toFixed(1) },
        }),
    ...(t.notes.length === 0 ? {} : { note: [...t.notes] }),
    ...(t.timestamp === undefined ? {} : { timestamp: t.timestamp }),
  }))
  const xml = Xml.builder.build({
    presence: {
      "@xmlns": namespace,
      "@entity": doc.entity,
      ...(tuple.length === 0 ? {} : { tuple }),
      ...(doc.notes.length === 0 ? {} : { note: [...doc.notes] }),
    },
  }) as string
  return `<?xml version="1.0" encoding="UTF-8"?>\n${xml}`
}

const enc = new TextEncoder()
export const encode = (doc: Document): Uint8Array => enc.encode(format(doc))

/** open when any tuple is open (the usual reading of a composed document) */
export const isOpen = (doc: Document | undefined): boolean => doc?.tuples.some((t) => t.basic === "open") ?? false

/** A one-tuple document. */
export const simple = (entity: string, basic: Basic, extra: Partial<Omit<Tuple, "basic">> = {}): Document => ({
  entity,
  tuples: [
    { id: extra.id ?? "t0", basic, contact: extra.contact, notes: extra.notes ?? [], timestamp: extra.timestamp },
  ],
  notes: [],
})
