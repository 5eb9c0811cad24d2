/**
 * Dialog information documents (RFC 4235 §4): `application/dialog-info+xml` with a version,
 * full or partial state and one `dialog` element per dialog (or half-dialog): its FSM state
 * with the terminating event and response code, duration, and the local and remote
 * participants (identity, target with Contact parameters). Namespace prefixes and unknown
 * elements are ignored, as for PIDF.
 */
import { Data } from "effect"
import * as Xml from "./Xml.ts"
import { attr, isNode, type Node, text } from "./Xml.ts"

export const contentType = "application/dialog-info+xml"
export const namespace = "urn:ietf:params:xml:ns:dialog-info"

/** the states of the dialog FSM (§3.7.1, Figure 3) */
export type State = "trying" | "proceeding" | "early" | "confirmed" | "terminated"
export const states: ReadonlyArray<State> = ["trying", "proceeding", "early", "confirmed", "terminated"]

/** events of a transition into terminated (§4.1.2) */
export type TerminationEvent = "cancelled" | "rejected" | "replaced" | "local-bye" | "remote-bye" | "error" | "timeout"

export type Direction = "initiator" | "recipient"

export interface Identity {
  readonly uri: string
  readonly display?: string | undefined
}

export interface Target {
  readonly uri: string
  /** Contact parameters as pname/pval (§4.1.6.2: a valueless parameter is "true") */
  readonly params: ReadonlyArray<readonly [string, string]>
}

export interface Participant {
  readonly identity?: Identity | undefined
  readonly target?: Target | undefined
}

export interface Dialog {
  /** unique among the current dialogs of the UA (§4.1.1) */
  readonly id: string
  readonly callId?: string | undefined
  readonly localTag?: string | undefined
  readonly remoteTag?: string | undefined
  readonly direction?: Direction | undefined
  readonly state: State
  readonly event?: TerminationEvent | undefined
  /** the response code of a transition caused by a response to the INVITE (§4.1.2) */
  readonly code?: number | undefined
  /** seconds since the FSM was created (§4.1.3) */
  readonly duration?: number | undefined
  readonly local?: Participant | undefined
  readonly remote?: Participant | undefined
}

export interface Document {
  /** 0, 1, 2, … per subscription (§4.1) */
  readonly version: number
  readonly state: "full" | "partial"
  /** the observed user */
  readonly entity: string
  readonly dialogs: ReadonlyArray<Dialog>
}

export class DialogInfoError extends Data.TaggedError("DialogInfoError")<{ readonly reason: string }> {}

/** Whether a Content-Type names a dialog-info body (parameters ignored). */
export const isDialogInfo = (type: string | undefined): boolean =>
  type?.split(";")[0]?.trim().toLowerCase() === contentType

const parser = Xml.parser(["dialog", "param", "identity"])

const participantOf = (v: unknown): Participant | undefined => {
  if (!isNode(v)) return undefined
  const identities = Array.isArray(v.identity) ? v.identity : []
  const first = identities[0] as unknown
  const uri = text(first)
  const identity = uri === undefined ? undefined : { uri, display: isNode(first) ? attr(first, "display") : undefined }
  const t = v.target
  const targetUri = isNode(t) ? attr(t, "uri") : undefined
  const params = isNode(t) && Array.isArray(t.param) ? (t.param as Array<unknown>) : []
  const target =
    targetUri === undefined
      ? undefined
      : {
          uri: targetUri,
          params: params.flatMap((p): Array<readonly [string, string]> => {
            if (!isNode(p)) return []
            const name = attr(p, "pname")
            return name === undefined ? [] : [[name, attr(p, "pval") ?? "true"]]
          }),
        }
  return { identity, target }
}

/** Parses a dialog information document (RFC 4235 §4.1). */
export const parse = (body: Uint8Array | string): Document | DialogInfoError => {
  const read = Xml.read(parser, body)
  if (read._tag === "Err") return new DialogInfoError({ reason: read.reason })
  const root = read.root
  const info = root["dialog-info"]
  if (!isNode(info)) return new DialogInfoError({ reason: "no <dialog-info> root element" })
  // §4.1: version, state and entity are mandatory; a version fits a non-negative 32-bit integer
  const versionText = attr(info, "version")
  const version = versionText !== undefined && /^\d{1,10}$/.test(versionText) ? Number(versionText) : Number.NaN
  if (!(version >= 0 && version <= 0xffffffff))
    return new DialogInfoError({ reason: `bad or missing version: ${versionText}` })
  const state = attr(info, "state")
  if (state !== "full" && state !== "partial")
    return new DialogInfoError({ reason: `state must be full or partial: ${state}` })
  const entity = attr(info, "entity")
  if (entity === undefined || entity === "") return new DialogInfoError({ reason: "<dialog-info> without entity" })
  const dialogs: Array<Dialog> = []
  for (const d of (info.dialog as Array<unknown> | undefined) ?? []) {
    if (!isNode(d)) return new DialogInfoError({ reason: "<dialog> without id (§4.1.1)" })
    const id = attr(d, "id")
    if (id === undefined || id === "") return new DialogInfoError({ reason: "<dialog> without id (§4.1.1)" })
    // §4.1.2: state is the one mandatory sub-element
    const s = text(d.state)?.toLowerCase()
    if (s === undefined || !states.includes(s as State))
      return new DialogInfoError({ reason: `<dialog id="${id}"> without a known state: ${s}` })
    const direction = attr(d, "direction")
    const code = isNode(d.state) ? attr(d.state, "code") : undefined
    const duration = text(d.duration)
    dialogs.push({
      id,
      callId: attr(d, "call-id"),
      localTag: attr(d, "local-tag"),
      remoteTag: attr(d, "remote-tag"),
      direction: direction === "initiator" || direction === "recipient" ? direction : undefined,
      state: s as State,
      event: isNode(d.state) ? (attr(d.state, "event") as TerminationEvent | undefined) : undefined,
      code: code !== undefined && /^\d{3}$/.test(code) ? Number(code) : undefined,
      duration: duration !== undefined && /^\d+$/.test(duration) ? Number(duration) : undefined,
      local: participantOf(d.local),
      remote: participantOf(d.remote),
    })
  }
  return { version, state, entity, dialogs }
}

const participantNode = (p: Participant): Node => ({
  ...(p.identity === undefined
    ? {}
    : {
        identity:
          p.identity.display === undefined
            ? [p.identity.uri]
            : [{ "#text": p.identity.uri, "@display": p.identity.display }],
      }),
  ...(p.target === undefined
    ? {}
    : {
        target: {
          "@uri": p.target.uri,
          ...(p.target.params.length === 0
            ? {}
            : { param: p.target.params.map(([pname, pval]) => ({ "@pname": pname, "@pval": pval })) }),
        },
      }),
})

/** Serialises a document (RFC 4235 §4, UTF-8). */
export const format = (doc: Document): string => {
  const dialog = doc.dialogs.map((d) => ({
    "@id": d.id,
    ...(d.callId === undefined ? {} : { "@call-id": d.callId }),
    ...(d.localTag === undefined ? {} : { "@local-tag": d.localTag }),
    ...(d.remoteTag === undefined ? {} : { "@remote-tag": d.remoteTag }),
    ...(d.direction === undefined ? {} : { "@direction": d.direction }),
    state:
      d.event === undefined && d.code === undefined
        ? d.state
        : {
            "#text": d.state,
            ...(d.event === undefined ? {} : { "@event": d.event }),
            ...(d.code === undefined ? {} : { "@code": String(d.code) }),
          },
    ...(d.duration === undefined ? {} : { duration: String(d.duration) }),
    ...(d.local === undefined ? {} : { local: participantNode(d.local) }),
    ...(d.remote === undefined ? {} : { remote: participantNode(d.remote) }),
  }))
  const xml = Xml.builder.build({
    "dialog-info": {
      "@xmlns": namespace,
      "@version": String(doc.version),
      "@state": doc.state,
      "@entity": doc.entity,
      ...(dialog.length === 0 ? {} : { dialog }),
    },
  }) as string
  return `<?xml version="1.0" encoding="UTF-8"?>\n${xml}`
}

const enc = new TextEncoder()
export const encode = (doc: Document): Uint8Array => enc.encode(format(doc))

/**
 * The subscriber's table of dialogs (§4.3): a document one version higher or more is applied
 * (full state replaces the table, partial state updates rows by id, terminated rows are
 * dropped); an older version is discarded. `resubscribe` says a partial document skipped
 * versions, so a refresh SUBSCRIBE should fetch full state.
 */
export interface Table {
  readonly version: number
  readonly entity: string
  readonly dialogs: ReadonlyMap<string, Dialog>
}

export type Applied =
  | { readonly _tag: "Applied"; readonly table: Table; readonly resubscribe: boolean }
  | { readonly _tag: "Discarded"; readonly table: Table }

export const apply = (table: Table | undefined, doc: Document): Applied => {
  if (table !== undefined && doc.version <= table.version) return { _tag: "Discarded", table }
  const skipped = table !== undefined && doc.version > table.version + 1
  const rows = new Map(doc.state === "full" || table === undefined ? [] : table.dialogs)
  for (const d of doc.dialogs) {
    // §4.3: a row whose state is now terminated MAY be removed
    if (d.state === "terminated") rows.delete(d.id)
    else rows.set(d.id, d)
  }
  return {
    _tag: "Applied",
    table: { version: doc.version, entity: doc.entity, dialogs: rows },
    resubscribe: skipped && doc.state === "partial",
  }
}
