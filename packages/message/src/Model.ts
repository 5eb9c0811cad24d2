/**
 * The SIP message model (RFC 3261 §7). Messages are plain immutable data so that
 * structural equality holds (`parse(serialize(m))` deep-equals `m`).
 *
 * Headers are kept as an ordered list of raw fields; typed views are parsed on demand
 * by the definitions in `Headers.ts` and cached per field object (see `HeaderCache`),
 * so a proxy that copies the list and prepends a Via keeps every parsed value.
 */

/** URI parameter or header as it appears: name, and value or `null` for a bare flag (`;lr`). */
export type Param = readonly [name: string, value: string | null]

/** `sip:` / `sips:` URI (RFC 3261 §19.1). Components are kept escaped, as on the wire. */
export interface SipUri {
  readonly _tag: "SipUri"
  readonly scheme: "sip" | "sips"
  readonly user: string | undefined
  readonly password: string | undefined
  /** host name, IPv4 address, or IPv6 reference with brackets (`[::1]`, RFC 5118) */
  readonly host: string
  readonly port: number | undefined
  readonly params: ReadonlyArray<Param>
  readonly headers: ReadonlyArray<Param>
}

/** `tel:` URI (RFC 3966): the subscriber number and its parameters. */
export interface TelUri {
  readonly _tag: "TelUri"
  readonly number: string
  readonly params: ReadonlyArray<Param>
}

/** Any other absolute URI (RFC 3986 / RFC 3261 §25.1 absoluteURI), kept opaque. */
export interface AbsoluteUri {
  readonly _tag: "AbsoluteUri"
  readonly scheme: string
  /** everything after `scheme:` */
  readonly value: string
}

export type Uri = SipUri | TelUri | AbsoluteUri

/** A raw header field: canonical name (full form, RFC spelling for known headers) and trimmed value. */
export interface Header {
  readonly name: string
  readonly value: string
}

export interface SipRequest {
  readonly _tag: "SipRequest"
  readonly method: string
  readonly uri: Uri
  readonly headers: ReadonlyArray<Header>
  readonly body: Uint8Array
}

export interface SipResponse {
  readonly _tag: "SipResponse"
  readonly status: number
  readonly reason: string
  readonly headers: ReadonlyArray<Header>
  readonly body: Uint8Array
}

export type SipMessage = SipRequest | SipResponse

// ---- typed header values (RFC 3261 §20, §25.1) ----

/** name-addr or addr-spec with header parameters (From, To, Contact, Route, Record-Route, …). */
export interface NameAddr {
  /** display name unquoted and unescaped; `undefined` when absent */
  readonly displayName: string | undefined
  readonly uri: Uri
  readonly params: ReadonlyArray<Param>
}

/** Via (§20.42): sent-protocol, sent-by and via-params. */
export interface Via {
  /** protocol name and version, normally "SIP" / "2.0" */
  readonly protocol: string
  readonly version: string
  /** transport, upper-cased: UDP, TCP, TLS, SCTP, WS, WSS or another token */
  readonly transport: string
  readonly host: string
  readonly port: number | undefined
  /** all via-params in order, including branch/received/rport/maddr/ttl */
  readonly params: ReadonlyArray<Param>
}

/** CSeq (§20.16) */
export interface CSeq {
  readonly seq: number
  readonly method: string
}

/** Contact (§20.10): `*` or a list of name-addr with `q` / `expires` params. */
export type ContactValue = { readonly _tag: "Wildcard" } | ({ readonly _tag: "Contact" } & NameAddr)

/** WWW-Authenticate / Proxy-Authenticate / Authorization / Proxy-Authorization (§20.7, §25.1). */
export interface AuthValue {
  /** e.g. "Digest" */
  readonly scheme: string
  /** auth-params with quotes removed; order kept */
  readonly params: ReadonlyArray<readonly [name: string, value: string]>
}

/** Subscription-State (RFC 6665 §8.2.3). */
export interface SubscriptionState {
  readonly state: string
  readonly params: ReadonlyArray<Param>
}

/** Event (RFC 6665 §8.2.1): package, optional template, params (`id`). */
export interface EventValue {
  readonly package: string
  readonly params: ReadonlyArray<Param>
}

/** Content-Type (§20.15): media type and params. */
export interface MediaType {
  readonly type: string
  readonly subtype: string
  readonly params: ReadonlyArray<Param>
}

/** RAck (RFC 3262 §7.2) */
export interface RAck {
  readonly rseq: number
  readonly cseq: number
  readonly method: string
}
