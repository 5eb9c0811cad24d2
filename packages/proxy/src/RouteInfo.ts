/**
 * Route information (RFC 3261 §16.4 on receipt, §16.6 step 6 before sending, §16.12 loose
 * routing). Pure functions over immutable messages.
 */
import { Header, Headers, Message, type NameAddr, type SipRequest, type SipUri, type Uri } from "@sipfx/message"

type AnyUri = Uri.Uri

import * as Self from "./Self.ts"

const hasLr = (uri: AnyUri): boolean => uri._tag === "SipUri" && uri.params.some(([k]) => k.toLowerCase() === "lr")

/** Our Record-Route URIs carry `lr` and no user part, so a strict router's copy is recognisable. */
export const isOurRecordRoute = (self: Self.Self, uri: AnyUri): boolean =>
  uri._tag === "SipUri" && uri.user === undefined && hasLr(uri) && Self.isUs(self, uri)

const routeIndexes = (request: SipRequest): Array<number> => {
  const out: Array<number> = []
  request.headers.forEach((h, i) => {
    if (h.name === "Route") out.push(i)
  })
  return out
}

/**
 * §16.4: (a) a Request-URI we placed in Record-Route means the previous hop is a strict router:
 * the last Route value becomes the Request-URI; (b) a first Route naming us is removed.
 */
export const preprocess = (self: Self.Self, request: SipRequest): SipRequest => {
  let r = request
  if (isOurRecordRoute(self, r.uri)) {
    const routes = routeIndexes(r)
    const last = routes[routes.length - 1]
    if (last !== undefined) {
      const value = Message.all({ ...r, headers: [r.headers[last]!] }, Headers.Route)[0]
      if (value !== undefined)
        r = { ...r, uri: value.uri, headers: [...r.headers.slice(0, last), ...r.headers.slice(last + 1)] }
    }
  }
  const first = Message.first(r, Headers.Route)
  if (first !== undefined && Self.isUs(self, first.uri)) r = Message.removeFirst(r, Headers.Route)
  return r
}

/**
 * §16.6 step 6: push the routes local policy mandates (e.g. a binding's Path, RFC 3327) ahead
 * of the existing ones; then, if the first Route is a strict router (no `lr`), put the
 * Request-URI last in Route and the first Route into the Request-URI.
 */
export const postprocess = (
  request: SipRequest,
  pushed: ReadonlyArray<NameAddr> = [],
): { readonly request: SipRequest; readonly strict: boolean } => {
  let r = request
  if (pushed.length > 0) {
    const fields = pushed.map((a) => Header.make(Headers.Route, a))
    const i = r.headers.findIndex((h) => h.name === "Route")
    const at = i < 0 ? r.headers.findIndex((h) => h.name !== "Via") : i
    const headers = r.headers.slice()
    headers.splice(at < 0 ? headers.length : at, 0, ...fields)
    r = { ...r, headers }
  }
  const first = Message.first(r, Headers.Route)
  if (first === undefined || hasLr(first.uri)) return { request: r, strict: false }
  const moved = Header.make(Headers.Route, { displayName: undefined, uri: r.uri, params: [] })
  r = Message.removeFirst(r, Headers.Route)
  return { request: { ...r, uri: first.uri, headers: [...r.headers, moved] }, strict: true }
}

/** §16.6 step 7: the URI RFC 3263 is applied to — the Request-URI after a strict-router fix-up, else the first Route. */
export const nextHopUri = (forwarded: { readonly request: SipRequest; readonly strict: boolean }): AnyUri =>
  forwarded.strict
    ? forwarded.request.uri
    : (Message.first(forwarded.request, Headers.Route)?.uri ?? forwarded.request.uri)

/** §16.6 step 2: parameters not allowed in a Request-URI (§19.1.1 table: method, URI headers) go. */
export const asRequestUri = (uri: AnyUri): AnyUri => {
  if (uri._tag !== "SipUri") return uri
  if (uri.headers.length === 0 && !uri.params.some(([k]) => k.toLowerCase() === "method")) return uri
  const clean: SipUri = { ...uri, headers: [], params: uri.params.filter(([k]) => k.toLowerCase() !== "method") }
  return clean
}
