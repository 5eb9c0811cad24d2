/**
 * A binding of an address-of-record to a contact (RFC 3261 §10.2.1), with the data the
 * registrar and proxy need: expiry, q, the Call-ID/CSeq that last changed it (§10.3 step 7),
 * Path (RFC 3327), +sip.instance / reg-id (RFC 5626 §6) and the source the REGISTER came
 * from (for contacts behind NAT, RFC 5626 §5).
 */
import type { Aor } from "./Aor.ts"

/** Where the REGISTER that created the binding came from. */
export interface Received {
  /** UDP, TCP, TLS, WS, WSS… */
  readonly transport: string
  readonly address: string
  readonly port: number
  /** the transport's id of the connection (connection-oriented transports) */
  readonly connectionId?: string
}

export interface Binding {
  readonly aor: Aor
  /** the Contact URI as it was registered (text) */
  readonly contact: string
  /** absolute expiry on the service's Clock, in milliseconds */
  readonly expiresAt: number
  /** q-value in [0, 1]; undefined when the Contact had none */
  readonly q: number | undefined
  readonly callId: string
  readonly cseq: number
  /** Path header values of the REGISTER (RFC 3327 §5.3), in order */
  readonly path: ReadonlyArray<string>
  /** +sip.instance (RFC 5626 §4.1), unquoted, e.g. `<urn:uuid:…>` */
  readonly instanceId: string | undefined
  readonly regId: number | undefined
  readonly received: Received | undefined
}

/** Seconds left before a binding expires, rounded up (the `expires` param of a 200 OK, §10.3 step 8). */
export const remaining = (binding: Binding, now: number): number =>
  Math.max(0, Math.ceil((binding.expiresAt - now) / 1000))

// ---- the stored form, shared by the Layers ----

/**
 * Compact record kept per binding: one string and small integers, with the rarely set
 * fields moved to `ext`, so that the common binding is one 5-field object and one string
 * (see README for the figures). `expiresAt` counts from an origin the Layer chooses (the
 * in-memory one uses its start time, so the value stays a small integer for 24 days).
 */
export interface Stored {
  /** `contact LF callId [LF source]`: header values never hold a line feed */
  readonly text: string
  readonly cseq: number
  /** q × 1000, or -1 when absent */
  readonly q: number
  readonly expiresAt: number
  readonly ext: StoredExt | undefined
}

export interface StoredExt {
  readonly path: ReadonlyArray<string>
  readonly instanceId: string | undefined
  readonly regId: number | undefined
}

/**
 * A sequential copy of the string: concatenations (ropes) and slices of a whole message
 * would otherwise keep more memory alive than the binding needs.
 */
export const flat = (s: string): string =>
  s.length < 13 || /[^\u0000-\u00ff]/.test(s) ? s : Buffer.from(s, "latin1").toString("latin1")

/**
 * `flat` for a string just built by concatenation (`a + b`): V8 keeps it as a rope of its
 * parts, and the regexp scan turns it into one sequential copy, so none of the parts (slices
 * of a received message) stays referenced — without the round trip through a Buffer.
 */
const flatConcat = (s: string): string => {
  NON_ASCII.test(s)
  return s
}
const NON_ASCII = /[^\u0000-\u007f]/

export const makeStored = (
  contact: string,
  callId: string,
  cseq: number,
  q: number,
  expiresAt: number,
  source: string | undefined,
  ext: StoredExt | undefined,
): Stored => {
  // always a concatenation of at least 13 characters ("sip:" + "\n" + Call-ID): a rope
  const text = source === undefined ? `${contact}\n${callId}` : `${contact}\n${callId}\n${source}`
  return { text: text.length < 13 ? flat(text) : flatConcat(text), cseq, q, expiresAt, ext }
}

export const contactOf = (s: Stored): string => s.text.slice(0, s.text.indexOf("\n"))

export const callIdOf = (s: Stored): string => {
  const a = s.text.indexOf("\n") + 1
  const b = s.text.indexOf("\n", a)
  return b < 0 ? s.text.slice(a) : s.text.slice(a, b)
}

export const sourceOf = (s: Stored): string | undefined => {
  const b = s.text.indexOf("\n", s.text.indexOf("\n") + 1)
  return b < 0 ? undefined : s.text.slice(b + 1)
}

/** Same expiry and identity, shifted to another time origin. */
export const rebase = (s: Stored, delta: number): Stored =>
  delta === 0 ? s : { text: s.text, cseq: s.cseq, q: s.q, expiresAt: s.expiresAt + delta, ext: s.ext }

export const encodeReceived = (r: Received | undefined): string | undefined =>
  r === undefined ? undefined : `${r.transport} ${r.address} ${r.port}${r.connectionId ? ` ${r.connectionId}` : ""}`

export const decodeReceived = (s: string | undefined): Received | undefined => {
  if (s === undefined) return undefined
  const a = s.indexOf(" ")
  const b = a < 0 ? -1 : s.indexOf(" ", a + 1)
  const c = b < 0 ? -1 : s.indexOf(" ", b + 1)
  const transport = a < 0 ? s : s.slice(0, a)
  const address = a < 0 ? "" : s.slice(a + 1, b < 0 ? s.length : b)
  const port = b < 0 ? 0 : Number(s.slice(b + 1, c < 0 ? s.length : c))
  if (c < 0) return { transport, address, port }
  const d = s.indexOf(" ", c + 1)
  return { transport, address, port, connectionId: s.slice(c + 1, d < 0 ? s.length : d) }
}

const noPath: ReadonlyArray<string> = []

/** The public view of a stored binding; `origin` is the Layer's time origin. */
export const toBinding = (aor: Aor, s: Stored, origin = 0): Binding => ({
  aor,
  contact: contactOf(s),
  expiresAt: s.expiresAt + origin,
  q: s.q < 0 ? undefined : s.q / 1000,
  callId: callIdOf(s),
  cseq: s.cseq,
  path: s.ext?.path ?? noPath,
  instanceId: s.ext?.instanceId,
  regId: s.ext?.regId,
  received: decodeReceived(sourceOf(s)),
})

/**
 * Contact identity within an AOR. RFC 5626 §6: a Contact with +sip.instance and reg-id is
 * keyed by them (a new flow replaces the old one); otherwise by the URI (§10.3 step 7).
 * The two kinds never meet: a contact key never holds a line feed.
 */
export const storedKey = (s: Stored): string =>
  s.ext !== undefined && s.ext.instanceId !== undefined && s.ext.regId !== undefined
    ? flowKey(s.ext.instanceId, s.ext.regId)
    : contactKey(contactOf(s))

export const flowKey = (instanceId: string, regId: number): string => `\n${instanceId}\n${regId}`

/**
 * A comparison key for a contact URI after RFC 3261 §19.1.4: scheme, host and parameters are
 * case-insensitive and parameter order does not matter; user and password stay case-sensitive.
 * (Stricter than §19.1.4 for a parameter present in one URI only: two such contacts are kept
 * apart, so distinct registrations are never merged.) A URI already in that form (lower-case
 * scheme and host, no parameters or headers: the common Contact) is its own key.
 */
export const contactKey = (uri: string): string => {
  const text = uri.trim()
  const colon = text.indexOf(":")
  if (colon < 0) return text
  const written = text.slice(0, colon)
  const scheme = written.toLowerCase()
  if (scheme !== "sip" && scheme !== "sips") return scheme === written ? text : `${scheme}:${text.slice(colon + 1)}`
  // '@' appears in no URI part but userinfo (§25.1), while ';' and '?' may appear in the user
  const at = text.indexOf("@", colon + 1)
  const hostAt = at < 0 ? colon + 1 : at + 1
  const semi = text.indexOf(";", hostAt)
  const question = text.indexOf("?", hostAt)
  const cut = semi < 0 ? (question < 0 ? text.length : question) : question < 0 ? semi : Math.min(semi, question)
  const writtenHost = text.slice(hostAt, cut)
  const hostport = writtenHost.toLowerCase()
  if (cut === text.length)
    return scheme === written && hostport === writtenHost
      ? text
      : `${scheme}:${text.slice(colon + 1, hostAt)}${hostport}`
  const userinfo = text.slice(colon + 1, hostAt)
  const tail = text.slice(cut)
  const q = tail.indexOf("?")
  const params = (q < 0 ? tail : tail.slice(0, q))
    .split(";")
    .filter((p) => p.length > 0)
    .map((p) => p.toLowerCase())
    .sort()
  const headers =
    q < 0
      ? ""
      : `?${tail
          .slice(q + 1)
          .split("&")
          .sort()
          .join("&")}`
  return `${scheme}:${userinfo}${hostport}${params.length > 0 ? `;${params.join(";")}` : ""}${headers}`
}
