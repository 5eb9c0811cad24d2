/**
 * The synchronous steps of RFC 3261 §10.3 on one REGISTER: everything the registrar decides
 * from the request alone. Each function answers a value or a `Rejection` carrying the
 * RFC's response; none throws.
 */
import { Aor, Registration } from "@sipfx/location"
import {
  type ContactValue,
  Header,
  Headers,
  Message,
  type NameAddr,
  type SipRequest,
  type SipUri,
  Uri,
} from "@sipfx/message"
import type { Source } from "@sipfx/transport"
import type { Resolved } from "./Options.ts"
import { Rejection, reject } from "./Rejection.ts"

/** Option tags this registrar implements (§8.2.2.3, RFC 3327). */
export const supported: ReadonlyArray<string> = ["path"]
const supportedSet = new Set(supported)

const count = (request: SipRequest, name: string): number => {
  let n = 0
  for (const h of request.headers) if (h.name === name) n++
  return n
}

/**
 * Before §10.3 proper: the request must be a well-formed REGISTER (§8.2: mandatory headers,
 * 416 for a Request-URI scheme we do not know, §8.2.2.1).
 */
export const validate = (request: SipRequest): Rejection | undefined => {
  const invalid = Message.check(request)
  if (invalid !== undefined) return reject(400, invalid.reason, undefined, `Bad Request (${invalid.reason})`)
  if (request.uri._tag !== "SipUri") return reject(416, `Request-URI scheme ${Uri.format(request.uri).split(":")[0]}`)
  return undefined
}

/** §10.3 step 1: is the Request-URI's domain one of ours? (not a proxy here: 404, §21.4.5) */
export const checkDomain = (request: SipRequest, options: Resolved): Rejection | undefined => {
  const host = (request.uri as SipUri).host.toLowerCase()
  if (options.domains !== undefined && !options.domains.has(host))
    return reject(404, `domain ${host} not served here`, undefined, "Not Found (domain not served here)")
  return undefined
}

/**
 * §10.3 step 2 / §8.2.2.3: every Require option tag must be supported, else 420 listing them
 * in Unsupported. RFC 3327 §5.3: a Path the UA did not declare support for gets 420 too.
 */
export const checkExtensions = (request: SipRequest, options: Resolved): Rejection | undefined => {
  const required = Message.all(request, Headers.Require)
  const unknown = required.filter((tag) => !supportedSet.has(tag.toLowerCase()))
  if (unknown.length > 0)
    return reject(420, `unsupported ${unknown.join(", ")}`, [Header.raw("Unsupported", unknown.join(", "))])
  if (options.requireSupportedPath && count(request, "Path") > 0 && !supportsPath(request))
    return reject(420, "Path without Supported: path (RFC 3327 §5.3)", [Header.raw("Unsupported", "path")])
  return undefined
}

export const supportsPath = (request: SipRequest): boolean => {
  for (const tag of Message.all(request, Headers.Supported)) if (tag.toLowerCase() === "path") return true
  for (const tag of Message.all(request, Headers.Require)) if (tag.toLowerCase() === "path") return true
  return false
}

export interface Target {
  readonly aor: Aor.Aor
  /** the AOR's user part, escapes undone, for §10.3 step 4 */
  readonly user: string | undefined
}

/**
 * §10.3 step 5: the To URI is the address-of-record. It must be SIP or SIPS (RFC 4475 §3.3.4:
 * otherwise 400), in the Request-URI's domain, and, with a closed user list, a known user (404).
 */
export const target = (request: SipRequest, options: Resolved): Target | Rejection => {
  const to: NameAddr | undefined = Message.to(request)
  if (to === undefined) return reject(400, "malformed To")
  const uri = to.uri
  if (uri._tag !== "SipUri") return reject(400, "the To of a REGISTER must be a SIP or SIPS URI (§10.2)")
  const host = uri.host.toLowerCase()
  const ruri = request.uri as SipUri
  // the AOR is valid for the domain when its host is that domain (§10.3 step 5)
  if (host !== ruri.host.toLowerCase() && (options.domains === undefined || !options.domains.has(host)))
    return reject(404, `AOR domain ${host} differs from the Request-URI domain ${ruri.host}`)
  if (options.domains !== undefined && !options.domains.has(host)) return reject(404, `domain ${host} not served`)
  const user = uri.user === undefined ? undefined : Uri.decodeEscapes(uri.user)
  if (options.users !== undefined && (user === undefined || !options.users.has(user)))
    return reject(404, `unknown user ${user ?? "(none)"}`)
  return { aor: Aor.canonical(uri), user }
}

/** The bindings part of a REGISTER: a query (no Contact), or the changes to apply. */
export type Plan =
  | { readonly _tag: "Query" }
  | { readonly _tag: "Update"; readonly changes: Registration.Changes; readonly path: ReadonlyArray<string> }

const DIGITS = /^[0-9]{1,10}$/
const QVALUE = /^(0(\.[0-9]{0,3})?|1(\.0{0,3})?)$/
const MAX_EXPIRES = 0xffffffff

/** §10.2.1.1 / §20.19: a malformed value counts as the default (3600 unless configured). */
const seconds = (text: string | null | undefined, fallback: number): number => {
  if (text === undefined || text === null || !DIGITS.test(text)) return fallback
  return Math.min(Number(text), MAX_EXPIRES)
}

const unquote = (v: string): string => (v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v)

/**
 * §10.3 steps 6 and 7 up to the store: the `*` rules, the expiration of each contact (its
 * `expires` param, else the Expires header, else the default; 423 below the minimum; cut to
 * the maximum) and the binding data (q, Path, RFC 5626 instance and reg-id, source).
 */
export const plan = (request: SipRequest, source: Source | undefined, options: Resolved): Plan | Rejection => {
  const raw = count(request, "Contact")
  if (raw === 0) return { _tag: "Query" }
  const contacts: ReadonlyArray<ContactValue> = Message.all(request, Headers.Contact)
  // a Contact that does not parse must not be half-applied (RFC 4475 regbadct)
  if (contacts.length !== raw) return reject(400, "malformed Contact")
  const expiresHeaders = count(request, "Expires")
  const expiresValue = Message.first(request, Headers.Expires)
  if (expiresHeaders > 0 && expiresValue === undefined) return reject(400, "malformed Expires")
  const callId = Message.callId(request)!
  const cseq = Message.cseq(request)!.seq

  // §10.3 step 6: "*" only alone and with Expires: 0
  if (contacts.some((c) => c._tag === "Wildcard")) {
    if (contacts.length !== 1) return reject(400, "Contact: * must be the only Contact (§10.3 step 6)")
    if (expiresValue !== 0) return reject(400, "Contact: * requires Expires: 0 (§10.3 step 6)")
    return { _tag: "Update", changes: Registration.wildcard(callId, cseq), path: [] }
  }

  const headerExpires = expiresValue ?? options.defaultExpires
  const path = Message.headerValues(request, "Path")
  const received =
    source === undefined
      ? undefined
      : source.connectionId === undefined
        ? { transport: source.protocol, address: source.address, port: source.port }
        : {
            transport: source.protocol,
            address: source.address,
            port: source.port,
            connectionId: source.connectionId,
          }
  const changes: Array<Registration.ContactChange> = []
  for (const c of contacts) {
    if (c._tag !== "Contact") continue
    // RFC 4475 §3.3.4: a scheme we cannot contact is refused rather than stored
    if (c.uri._tag === "AbsoluteUri") return reject(400, `Contact URI scheme ${c.uri.scheme} not supported`)
    let expires = seconds(Message.param(c.params, "expires"), headerExpires)
    // §10.3 step 7: 0 < expires < 1 h and below our minimum → 423 with Min-Expires
    if (expires > 0 && expires < 3600 && expires < options.minExpires)
      return reject(423, `expires ${expires} below ${options.minExpires}`, [
        Header.raw("Min-Expires", String(options.minExpires)),
      ])
    if (expires > options.maxExpires) expires = options.maxExpires
    const qText = Message.param(c.params, "q")
    let q: number | undefined
    if (qText !== undefined) {
      if (qText === null || !QVALUE.test(qText)) return reject(400, `bad q-value ${qText}`)
      q = Number(qText)
    }
    const instance = Message.param(c.params, "+sip.instance")
    const regIdText = Message.param(c.params, "reg-id")
    const regId =
      regIdText !== undefined && regIdText !== null && DIGITS.test(regIdText) ? Number(regIdText) : undefined
    changes.push({
      contact: Uri.format(c.uri),
      expires,
      q,
      path: path.length > 0 ? path : undefined,
      instanceId: instance === undefined || instance === null ? undefined : unquote(instance),
      regId,
      received,
    })
  }
  return { _tag: "Update", changes: Registration.contacts(callId, cseq, changes), path }
}

export const isRejection = (u: unknown): u is Rejection => u instanceof Rejection
