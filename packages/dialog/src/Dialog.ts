/**
 * Dialog state as plain data (RFC 3261 §12.1) and the pure functions around it: creation on
 * the UAC and UAS side, dialog ids, and in-dialog request construction (§12.2.1.1).
 */
import {
  Header,
  Headers,
  Message,
  type NameAddr,
  type SipRequest,
  type SipResponse,
  type SipUri,
  type Uri,
} from "@sipfx/message"
import { Data } from "effect"

export type Role = "UAC" | "UAS"

/** §12: Call-ID, local tag and remote tag identify a dialog. */
export interface DialogId {
  readonly callId: string
  readonly localTag: string
  readonly remoteTag: string
}

/** The dialog state of §12.1.1 / §12.1.2 (everything but early/confirmed, which the machine keeps). */
export interface DialogData {
  readonly role: Role
  readonly id: DialogId
  /** empty (undefined) on the UAS until it sends its first request (§12.1.1) */
  readonly localSeq: number | undefined
  /** empty (undefined) on the UAC until the peer sends a request (§12.1.2) */
  readonly remoteSeq: number | undefined
  /** From (UAC) or To (UAS) of the initial request, with our tag */
  readonly localParty: NameAddr
  /** To (UAC) or From (UAS), with the peer's tag */
  readonly remoteParty: NameAddr
  readonly remoteTarget: Uri.Uri
  /** in the order requests visit them (already reversed on the UAC side) */
  readonly routeSet: ReadonlyArray<NameAddr>
  readonly secure: boolean
}

/** A message that cannot create a dialog (no tag, no Contact…). */
export class DialogError extends Data.TaggedError("DialogError")<{ readonly reason: string }> {}

const tagOf = (a: NameAddr | undefined): string | undefined => {
  const t = a === undefined ? undefined : Message.param(a.params, "tag")
  return typeof t === "string" && t.length > 0 ? t : undefined
}

const contactUri = (m: SipRequest | SipResponse): Uri.Uri | undefined => {
  const c = Message.first(m, Headers.Contact)
  return c === undefined || c._tag === "Wildcard" ? undefined : c.uri
}

const isSips = (u: Uri.Uri): boolean => u._tag === "SipUri" && u.scheme === "sips"

/** The dialog id as one string (a map key). */
export const key = (id: DialogId): string => `${id.callId}\u0000${id.localTag}\u0000${id.remoteTag}`

/** §12.2.2: the id of the dialog an incoming request belongs to (local tag = To tag). */
export const requestKey = (request: SipRequest): string | undefined => {
  const callId = Message.callId(request)
  const local = Message.toTag(request)
  const remote = Message.fromTag(request)
  return callId === undefined || local === undefined
    ? undefined
    : key({ callId, localTag: local, remoteTag: remote ?? "" })
}

/** The id of the dialog a response to our request belongs to (local tag = From tag). */
export const responseKey = (response: SipResponse): string | undefined => {
  const callId = Message.callId(response)
  const local = Message.fromTag(response)
  const remote = Message.toTag(response)
  return callId === undefined || local === undefined || remote === undefined
    ? undefined
    : key({ callId, localTag: local, remoteTag: remote })
}

/**
 * §12.1.2: the UAC's dialog from a response with a To tag (1xx or 2xx) to `request`.
 * Route set = Record-Route reversed; remote target = the response's Contact.
 */
export const uac = (request: SipRequest, response: SipResponse): DialogData | DialogError => {
  const callId = Message.callId(request)
  const from = Message.from(request)
  const to = Message.to(response)
  const localTag = tagOf(from)
  const remoteTag = tagOf(to)
  const cseq = Message.cseq(request)
  if (callId === undefined || from === undefined || to === undefined || localTag === undefined || cseq === undefined)
    return new DialogError({ reason: "request without Call-ID, From tag or CSeq" })
  if (remoteTag === undefined) return new DialogError({ reason: "response without To tag (§12.1.2)" })
  const target = contactUri(response)
  // §12.1.2: a missing Contact in a 1xx leaves the Request-URI as the best known target
  if (target === undefined && response.status >= 200) return new DialogError({ reason: "2xx without Contact" })
  return {
    role: "UAC",
    id: { callId, localTag, remoteTag },
    localSeq: cseq.seq,
    remoteSeq: undefined,
    localParty: from,
    remoteParty: to,
    remoteTarget: target ?? request.uri,
    routeSet: [...Message.all(response, Headers.RecordRoute)].reverse(),
    secure: isSips(request.uri),
  }
}

/**
 * §12.1.1: the UAS's dialog from a dialog-creating request, with the tag it puts in its To.
 * Route set = Record-Route in order; remote target = the request's Contact.
 */
export const uas = (request: SipRequest, localTag: string): DialogData | DialogError => {
  const callId = Message.callId(request)
  const from = Message.from(request)
  const to = Message.to(request)
  const cseq = Message.cseq(request)
  const target = contactUri(request)
  if (callId === undefined || from === undefined || to === undefined || cseq === undefined)
    return new DialogError({ reason: "request without Call-ID, From, To or CSeq" })
  if (target === undefined) return new DialogError({ reason: "dialog-creating request without Contact (§8.1.1.8)" })
  return {
    role: "UAS",
    // an RFC 2543 peer may send no From tag: the remote tag is then empty (§12.1.1)
    id: { callId, localTag, remoteTag: tagOf(from) ?? "" },
    localSeq: undefined,
    remoteSeq: cseq.seq,
    localParty: { ...to, params: [...to.params.filter(([n]) => n.toLowerCase() !== "tag"), ["tag", localTag]] },
    remoteParty: from,
    remoteTarget: target,
    routeSet: Message.all(request, Headers.RecordRoute),
    secure: isSips(request.uri) && request.headers.some((h) => h.name === "Via" && /\/TLS\s/i.test(h.value)),
  }
}

/** §12.1.2 / §13.2.2.4: route set and remote target recomputed from a 2xx (UAC side). */
export const confirmFrom = (d: DialogData, response: SipResponse): DialogData => {
  if (d.role !== "UAC") return d
  const target = contactUri(response)
  return {
    ...d,
    remoteParty: Message.to(response) ?? d.remoteParty,
    remoteTarget: target ?? d.remoteTarget,
    routeSet: [...Message.all(response, Headers.RecordRoute)].reverse(),
  }
}

/** §12.2: the remote target after a target refresh request or its 2xx response. */
export const retarget = (d: DialogData, m: SipRequest | SipResponse): DialogData => {
  const target = contactUri(m)
  return target === undefined ? d : { ...d, remoteTarget: target }
}

const isLooseRouter = (a: NameAddr): boolean =>
  a.uri._tag === "SipUri" && Message.param(a.uri.params, "lr") !== undefined

/** §19.1.5: a Request-URI may not carry method or header components; strip them. */
const requestUriOf = (u: Uri.Uri): Uri.Uri => (u._tag === "SipUri" && u.headers.length > 0 ? { ...u, headers: [] } : u)

export interface RequestOptions {
  /** the CSeq number (the machine's local sequence after `sendRequest`; the INVITE's for ACK/CANCEL) */
  readonly seq: number
  readonly body?: Uint8Array | undefined
  readonly contentType?: string | undefined
  /** our Contact (target refresh requests, §12.2.1.1) */
  readonly contact?: NameAddr | undefined
  readonly headers?: ReadonlyArray<Header.Header> | undefined
  /** the top Via; the transport layer fills it in otherwise */
  readonly via?: Header.Header | undefined
}

export interface Outgoing {
  readonly request: SipRequest
  /** §8.1.2: the URI to resolve for the first hop (first route, or the Request-URI) */
  readonly next: Uri.Uri
}

/**
 * §12.2.1.1: a request within the dialog. To/From from the remote/local parties with tags,
 * Call-ID, CSeq; Request-URI and Route from the route set and remote target, with the
 * strict-router form when the first route lacks `lr`.
 */
export const request = (d: DialogData, method: string, options: RequestOptions): Outgoing => {
  let uri: Uri.Uri
  let routes: ReadonlyArray<NameAddr>
  let next: Uri.Uri
  const first = d.routeSet[0]
  if (first === undefined) {
    uri = requestUriOf(d.remoteTarget)
    routes = []
    next = uri
  } else if (isLooseRouter(first)) {
    uri = requestUriOf(d.remoteTarget)
    routes = d.routeSet
    next = first.uri
  } else {
    // strict router: its URI becomes the Request-URI, the remote target the last Route
    uri = requestUriOf(first.uri)
    routes = [...d.routeSet.slice(1), { displayName: undefined, uri: d.remoteTarget, params: [] }]
    next = uri
  }
  const headers: Array<Header.Header> = []
  if (options.via !== undefined) headers.push(options.via)
  for (const r of routes) headers.push(Header.make(Headers.Route, r))
  headers.push(Header.make(Headers.MaxForwards, 70))
  headers.push(Header.make(Headers.From, d.localParty))
  headers.push(Header.make(Headers.To, d.remoteParty))
  headers.push(Header.make(Headers.CallId, d.id.callId))
  headers.push(Header.make(Headers.CSeq, { seq: options.seq, method }))
  if (options.contact !== undefined && method !== "ACK" && method !== "CANCEL" && method !== "BYE")
    headers.push(Header.make(Headers.Contact, { _tag: "Contact", ...options.contact }))
  if (options.headers !== undefined) headers.push(...options.headers)
  const body = options.body ?? new Uint8Array(0)
  if (body.length > 0 && options.contentType !== undefined)
    headers.push({ name: "Content-Type", value: options.contentType })
  return { request: Message.request({ method, uri, headers, body }), next }
}

/** A SipUri's host and port, for logs and tests. */
export const hostPort = (u: Uri.Uri): string =>
  u._tag === "SipUri" ? `${(u as SipUri).host}${u.port === undefined ? "" : `:${u.port}`}` : ""
