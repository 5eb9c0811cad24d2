/**
 * fast-check arbitraries for SIP: URIs, typed header values and whole requests and
 * responses, valid per the RFC 3261 §25.1 grammar (RFC 3966 for `tel:`, RFC 3986 for other
 * absolute URIs). Messages are assembled from typed values with the package's own
 * builders, so every generated message is canonical: `parse(serialize(m))` equals `m`.
 *
 * ```ts
 * fc.assert(fc.property(Arbitrary.request(), (m) => myProxy.accepts(m)))
 * ```
 */
import * as fc from "fast-check"
import * as Header from "./Header.ts"
import * as Headers from "./Headers.ts"
import * as Message from "./Message.ts"
import type {
  AbsoluteUri,
  AuthValue,
  ContactValue,
  CSeq,
  MediaType,
  NameAddr,
  Param,
  SipRequest,
  SipResponse,
  SipUri,
  TelUri,
  Uri,
  Via,
} from "./Model.ts"
import { decodeEscapes } from "./Uri.ts"

// ---- character classes (RFC 3261 §25.1) ----

const ALPHA = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
const DIGIT = "0123456789"
const ALPHANUM = ALPHA + DIGIT
const MARK = "-_.!~*'()"
const UNRESERVED = ALPHANUM + MARK
const TOKEN = ALPHANUM + "-.!%*_+`'~"
const WORD = TOKEN + '()<>:\\"/[]?{}'
const USER_UNRESERVED = "&=+$,;?/"
const PASSWORD_EXTRA = "&=+$,"
const PARAM_UNRESERVED = "[]/:&+$"
const HNV_UNRESERVED = "[]/?:+$"
const HEX = "0123456789ABCDEF"

const chars = (alphabet: string, minLength: number, maxLength: number): fc.Arbitrary<string> =>
  fc.string({ unit: fc.constantFrom(...alphabet), minLength, maxLength })

/** `%` HEXDIG HEXDIG (upper-case hex, as most stacks write it) */
const escaped: fc.Arbitrary<string> = fc
  .tuple(fc.constantFrom(...HEX), fc.constantFrom(...HEX))
  .map(([a, b]) => `%${a}${b}`)

/** A run of `alphabet` characters with some `%HH` escapes mixed in. */
const escapable = (alphabet: string, minLength: number, maxLength: number): fc.Arbitrary<string> =>
  fc
    .array(fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...alphabet) }, { weight: 1, arbitrary: escaped }), {
      minLength,
      maxLength,
    })
    .map((parts) => parts.join(""))

/** token (§25.1) */
export const token = (maxLength = 12): fc.Arbitrary<string> => chars(TOKEN, 1, maxLength)

// ---- hosts ----

const label: fc.Arbitrary<string> = fc
  .tuple(chars(ALPHANUM, 1, 1), chars(ALPHANUM + "-", 0, 8), chars(ALPHANUM, 0, 1))
  .map(([a, b, c]) => (c === "" ? a : a + b + c))
const topLabel: fc.Arbitrary<string> = fc
  .tuple(chars(ALPHA, 1, 1), chars(ALPHANUM + "-", 0, 6), chars(ALPHANUM, 1, 1))
  .map(([a, b, c]) => a + b + c)

/** hostname (§25.1): labels and a top label that starts with a letter */
export const hostname: fc.Arbitrary<string> = fc
  .tuple(fc.array(label, { minLength: 0, maxLength: 3 }), topLabel)
  .map(([labels, top]) => [...labels, top].join("."))

/** IPv4address (§25.1) */
export const ipv4: fc.Arbitrary<string> = fc.ipV4()

/** IPv6address without brackets (RFC 4291 text forms; lower-case hex) */
export const ipv6: fc.Arbitrary<string> = fc.ipV6()

/** host (§25.1): hostname, IPv4address or IPv6reference (`[...]`) */
export const host: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: hostname },
  { weight: 2, arbitrary: ipv4 },
  { weight: 1, arbitrary: ipv6.map((a) => `[${a}]`) },
)

/** port (§25.1), 1–65535 */
export const port: fc.Arbitrary<number> = fc.integer({ min: 1, max: 65535 })

// ---- parameters ----

/** Unique parameter names (compared unescaped): §19.1.1 says a given parameter appears at most once. */
const uniqueParams = (
  known: ReadonlyArray<fc.Arbitrary<Param>>,
  other: fc.Arbitrary<Param>,
  maxLength: number,
): fc.Arbitrary<ReadonlyArray<Param>> =>
  fc.uniqueArray(fc.oneof(...known, other), {
    maxLength,
    selector: (p) => decodeEscapes(p[0]).toLowerCase(),
  })

const method: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "SUBSCRIBE") },
  { weight: 4, arbitrary: fc.constantFrom("NOTIFY", "MESSAGE", "INFO", "PRACK", "UPDATE", "REFER", "PUBLISH") },
  { weight: 1, arbitrary: chars(ALPHA.slice(26), 3, 10) },
)

/** Method (§25.1): the RFC 3261 and extension methods, or an upper-case extension token */
export const methodName: fc.Arbitrary<string> = method

const uriParam: fc.Arbitrary<Param> = fc.oneof(
  fc.constantFrom("udp", "tcp", "sctp", "tls", "ws").map((t): Param => ["transport", t]),
  fc.constantFrom("phone", "ip").map((u): Param => ["user", u]),
  method.map((m): Param => ["method", m]),
  fc.integer({ min: 0, max: 255 }).map((t): Param => ["ttl", String(t)]),
  host.map((h): Param => ["maddr", h]),
  fc.constant<Param>(["lr", null]),
)
const KNOWN_URI_PARAMS = ["transport", "user", "method", "ttl", "maddr", "lr"]
// other-param (§25.1): any pname but those with a grammar of their own
const otherUriParam: fc.Arbitrary<Param> = fc
  .tuple(
    escapable(UNRESERVED + PARAM_UNRESERVED, 1, 8),
    fc.option(escapable(UNRESERVED + PARAM_UNRESERVED, 1, 10), { nil: null }),
  )
  .filter(([n]) => !KNOWN_URI_PARAMS.includes(decodeEscapes(n).toLowerCase()))
  .map(([n, v]): Param => [n, v])

const uriHeader: fc.Arbitrary<Param> = fc
  .tuple(escapable(UNRESERVED + HNV_UNRESERVED, 1, 8), escapable(UNRESERVED + HNV_UNRESERVED, 0, 12))
  .map(([n, v]): Param => [n, v])

// ---- URIs ----

/**
 * user (§25.1). A leading "+" is kept for real E.164 numbers: stacks and analysers read
 * such a user part as a telephone-subscriber (§19.1.6), as the RFC's own examples do.
 */
export const user: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: escapable(UNRESERVED + USER_UNRESERVED, 1, 12).filter((u) => !u.startsWith("+")) },
  { weight: 1, arbitrary: chars(DIGIT, 8, 15).map((d) => `+${d}`) },
)

export interface SipUriOptions {
  /** allow `?headers` (not allowed in a Request-URI, §19.1.5) */
  readonly headers?: boolean
  readonly scheme?: "sip" | "sips"
}

/** SIP-URI / SIPS-URI (§19.1.1) */
export const sipUri = (options: SipUriOptions = {}): fc.Arbitrary<SipUri> =>
  fc
    .record({
      scheme:
        options.scheme === undefined ? fc.constantFrom("sip" as const, "sips" as const) : fc.constant(options.scheme),
      user: fc.option(user, { nil: undefined }),
      password: fc.option(escapable(UNRESERVED + PASSWORD_EXTRA, 0, 8), { nil: undefined }),
      host,
      port: fc.option(port, { nil: undefined }),
      params: uniqueParams([uriParam], otherUriParam, 4),
      headers:
        options.headers === true
          ? fc.uniqueArray(uriHeader, { maxLength: 3, selector: (h) => decodeEscapes(h[0]).toLowerCase() })
          : fc.constant([]),
    })
    .map(
      (u): SipUri => ({
        _tag: "SipUri",
        scheme: u.scheme,
        user: u.user,
        // a password only exists after a user (userinfo = user [":" password] "@")
        password: u.user === undefined ? undefined : u.password,
        host: u.host,
        port: u.port,
        params: u.params,
        headers: u.headers,
      }),
    )

const telParam: fc.Arbitrary<Param> = fc.oneof(
  chars(DIGIT, 1, 5).map((e): Param => ["ext", e]),
  chars(HEX.toLowerCase() + DIGIT, 1, 6).map((s): Param => ["isub", s]),
  // pname = 1*( alphanum / "-" ) (RFC 3966 §3)
  fc
    .tuple(chars(ALPHANUM + "-", 1, 8), fc.option(chars(ALPHANUM + "-", 1, 8), { nil: null }))
    .filter(([n]) => !["ext", "isub", "phone-context"].includes(n.toLowerCase()))
    .map(([n, v]): Param => [n, v]),
)

/** tel URI (RFC 3966): a global number with visual separators, and parameters */
export const telUri: fc.Arbitrary<TelUri> = fc
  .record({
    digits: fc.array(fc.tuple(chars(DIGIT, 1, 4), fc.constantFrom("", "-", ".")), { minLength: 1, maxLength: 4 }),
    params: uniqueParams([], telParam, 3),
  })
  .map(({ digits, params }): TelUri => {
    const joined = digits.map(([d, sep], i) => (i === digits.length - 1 ? d : d + sep)).join("")
    return { _tag: "TelUri", number: `+${joined}`, params }
  })

/** absoluteURI (§25.1) of another scheme: hierarchical (`http://…`) or opaque (`urn:…`) */
export const absoluteUri: fc.Arbitrary<AbsoluteUri> = fc.oneof(
  fc
    .tuple(fc.constantFrom("http", "https"), hostname, chars(UNRESERVED + ":@&=+$,", 0, 10))
    .map(([scheme, h, path]): AbsoluteUri => ({ _tag: "AbsoluteUri", scheme, value: `//${h}/${path}` })),
  fc
    .tuple(fc.constantFrom("urn", "mailto", "im", "pres"), chars(UNRESERVED + ":@&=+$,", 1, 16))
    .map(([scheme, opaque]): AbsoluteUri => ({ _tag: "AbsoluteUri", scheme, value: opaque })),
)

/** Request-URI (§25.1): a SIP(S) URI without headers, sometimes tel or another absolute URI */
export const requestUri: fc.Arbitrary<Uri> = fc.oneof(
  { weight: 8, arbitrary: sipUri() },
  { weight: 1, arbitrary: telUri },
  { weight: 1, arbitrary: absoluteUri },
)

/** Any URI (§19, RFC 3966), SIP URIs possibly with `?headers` */
export const uri: fc.Arbitrary<Uri> = fc.oneof(
  { weight: 8, arbitrary: sipUri({ headers: true }) },
  { weight: 1, arbitrary: telUri },
  { weight: 1, arbitrary: absoluteUri },
)

// ---- header values (§20) ----

/** display-name text (unquoted, unescaped): token words, or text that needs a quoted-string */
export const displayName: fc.Arbitrary<string> = fc.oneof(
  fc.array(token(8), { minLength: 1, maxLength: 3 }).map((w) => w.join(" ")),
  // qdtext and quoted-pair material (§25.1), UTF-8 included; no CR/LF, no edge whitespace
  fc
    .string({
      unit: fc.oneof(
        { weight: 10, arbitrary: fc.constantFrom(...(ALPHANUM + " ,;:<>@=?/\\\"'")) },
        { weight: 1, arbitrary: fc.constantFrom("é", "ü", "ñ", "日", "本", "€") },
      ),
      minLength: 1,
      maxLength: 16,
    })
    .filter((s) => s.trim() === s && s.length > 0),
)

const genericParamValue: fc.Arbitrary<string> = fc.oneof(token(10), host)

/** generic-param (§25.1) not already in `reserved` */
const genericParam = (reserved: ReadonlyArray<string>): fc.Arbitrary<Param> =>
  fc
    .tuple(token(8), fc.option(genericParamValue, { nil: null }))
    .filter(([n]) => !reserved.includes(n.toLowerCase()))
    .map(([n, v]): Param => [n, v])

/** tag (§19.3): a token with enough randomness */
export const tag: fc.Arbitrary<string> = chars(ALPHANUM, 6, 16)

/** name-addr / addr-spec of From, To, Route, … (§20.20) with the given header params */
export const nameAddr = (params: fc.Arbitrary<ReadonlyArray<Param>> = fc.constant([])): fc.Arbitrary<NameAddr> =>
  fc.record({
    displayName: fc.option(displayName, { nil: undefined }),
    uri,
    params,
  })

const withTag = (present: boolean): fc.Arbitrary<ReadonlyArray<Param>> =>
  fc
    .tuple(
      present ? tag.map((t) => [["tag", t] as Param]) : fc.constant([]),
      uniqueParams([], genericParam(["tag"]), 2),
    )
    .map(([t, rest]) => [...t, ...rest])

/** From (§20.20): always has a tag (§8.1.1.3) */
export const from: fc.Arbitrary<NameAddr> = nameAddr(withTag(true))

/** To (§20.39), with or without a tag */
export const to = (hasTag?: boolean): fc.Arbitrary<NameAddr> =>
  hasTag === undefined ? fc.boolean().chain((b) => nameAddr(withTag(b))) : nameAddr(withTag(hasTag))

/** qvalue (§25.1) as written on the wire */
export const qvalue: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom("0", "1", "1.0", "1.000", "0.5"),
  chars(DIGIT, 1, 3).map((d) => `0.${d}`),
)

const contactParams: fc.Arbitrary<ReadonlyArray<Param>> = uniqueParams(
  [
    qvalue.map((q): Param => ["q", q]),
    fc.integer({ min: 0, max: 2 ** 31 - 1 }).map((e): Param => ["expires", String(e)]),
  ],
  genericParam(["q", "expires"]),
  3,
)

/** Contact (§20.10): `*` or a name-addr with q / expires */
export const contact: fc.Arbitrary<ContactValue> = fc.oneof(
  { weight: 1, arbitrary: fc.constant<ContactValue>({ _tag: "Wildcard" }) },
  {
    weight: 8,
    arbitrary: nameAddr(contactParams).map((na): ContactValue => ({ _tag: "Contact", ...na })),
  },
)

/** A Contact that is not `*` (allowed outside REGISTER) */
export const contactAddress: fc.Arbitrary<ContactValue> = nameAddr(contactParams).map(
  (na): ContactValue => ({ _tag: "Contact", ...na }),
)

/** route-param / rec-route (§20.30, §20.34): a SIP URI with `;lr` in angle brackets */
export const route: fc.Arbitrary<NameAddr> = fc.tuple(sipUri(), uniqueParams([], genericParam([]), 1)).map(
  ([u, params]): NameAddr => ({
    displayName: undefined,
    uri: { ...u, params: [...u.params.filter((p) => p[0].toLowerCase() !== "lr"), ["lr", null]] },
    params,
  }),
)

/** branch (§8.1.1.7): the magic cookie and a token */
export const branch: fc.Arbitrary<string> = token(16).map((t) => `z9hG4bK${t}`)

const viaParam: fc.Arbitrary<Param> = fc.oneof(
  fc.oneof(ipv4, ipv6).map((a): Param => ["received", a]),
  fc.option(port.map(String), { nil: null }).map((p): Param => ["rport", p]),
  host.map((h): Param => ["maddr", h]),
  fc.integer({ min: 0, max: 255 }).map((t): Param => ["ttl", String(t)]),
)

/** Via (§20.42): SIP/2.0 over a transport, sent-by, branch first then other via-params */
export const via: fc.Arbitrary<Via> = fc
  .record({
    transport: fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom("UDP", "TCP", "TLS", "SCTP", "WS", "WSS") },
      { weight: 1, arbitrary: chars(ALPHA.slice(26) + DIGIT, 2, 6) },
    ),
    host,
    port: fc.option(port, { nil: undefined }),
    branch,
    params: uniqueParams([viaParam], genericParam(["branch", "received", "rport", "maddr", "ttl"]), 3),
  })
  .map(
    (v): Via => ({
      protocol: "SIP",
      version: "2.0",
      transport: v.transport,
      host: v.host,
      port: v.port,
      params: [["branch", v.branch], ...v.params],
    }),
  )

/** CSeq (§20.16): 31-bit sequence number (§8.1.1.5) and a method */
export const cseq = (forMethod?: string): fc.Arbitrary<CSeq> =>
  fc.record({
    seq: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    method: forMethod === undefined ? method : fc.constant(forMethod),
  })

/** Call-ID (§20.8): word [ "@" word ] */
export const callId: fc.Arbitrary<string> = fc
  .tuple(chars(WORD, 1, 24), fc.option(chars(WORD, 1, 16), { nil: undefined }))
  .map(([a, b]) => (b === undefined ? a : `${a}@${b}`))

/** Content-Type (§20.15) */
export const mediaType: fc.Arbitrary<MediaType> = fc.oneof(
  fc.constantFrom<MediaType>(
    { type: "application", subtype: "sdp", params: [] },
    { type: "text", subtype: "plain", params: [["charset", "UTF-8"]] },
    { type: "application", subtype: "pidf+xml", params: [] },
    { type: "message", subtype: "sipfrag", params: [] },
    { type: "application", subtype: "octet-stream", params: [] },
  ),
  fc
    .tuple(token(10), token(12), uniqueParams([], genericParam([]), 2))
    .map(([type, subtype, params]): MediaType => ({ type, subtype, params })),
)

/** Authorization / Proxy-Authorization with Digest credentials (§20.7, §22.4) */
export const authorization: fc.Arbitrary<AuthValue> = fc
  .record({
    username: chars(UNRESERVED, 1, 12),
    realm: hostname,
    nonce: chars(HEX.toLowerCase(), 16, 32),
    uri: sipUri().map((u) => `${u.scheme}:${u.host}`),
    response: chars(HEX.toLowerCase(), 32, 32),
  })
  .map(
    (c): AuthValue => ({
      scheme: "Digest",
      params: [
        ["username", c.username],
        ["realm", c.realm],
        ["nonce", c.nonce],
        ["uri", c.uri],
        ["response", c.response],
        ["algorithm", "MD5"],
      ],
    }),
  )

// ---- extension headers ----

/** header value text without CR/LF and without edge whitespace (TEXT-UTF8, §25.1) */
const text = (minLength: number, maxLength: number): fc.Arbitrary<string> =>
  fc
    .string({
      unit: fc.oneof(
        { weight: 20, arbitrary: fc.constantFrom(...(ALPHANUM + " -_.!~*'()<>@,;:\\\"/[]?={}+&%$#")) },
        { weight: 1, arbitrary: fc.constantFrom("é", "ß", "日", "€", "\t") },
      ),
      minLength,
      maxLength,
    })
    .map((s) => s.trim())
    .filter((s) => s.length >= minLength)

/** An unknown extension header (§7.3.1): `X-…` / `P-…` name, free text value */
export const extensionHeader: fc.Arbitrary<{ readonly name: string; readonly value: string }> = fc.record({
  name: fc.tuple(fc.constantFrom("X-", "P-", "X-Ext-"), chars(ALPHANUM, 1, 10)).map(([p, n]) => p + n),
  value: text(1, 40),
})

// ---- bodies ----

const sdp: fc.Arbitrary<Uint8Array> = fc
  .record({
    user: token(8),
    sess: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    addr: ipv4,
    port: fc.integer({ min: 1024, max: 65534 }),
  })
  .map(({ user, sess, addr, port }) =>
    new TextEncoder().encode(
      `v=0\r\no=${user} ${sess} ${sess} IN IP4 ${addr}\r\ns=-\r\nc=IN IP4 ${addr}\r\nt=0 0\r\n` +
        `m=audio ${port} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n`,
    ),
  )

const PIDF: MediaType = { type: "application", subtype: "pidf+xml", params: [] }

/** A PIDF presence document (RFC 3863) */
const pidf: fc.Arbitrary<Uint8Array> = fc
  .record({ user: chars(ALPHANUM, 1, 10), host: hostname, open: fc.boolean(), note: chars(ALPHANUM + " .,-", 0, 30) })
  .map(({ user, host, open, note }) =>
    new TextEncoder().encode(
      `<?xml version="1.0" encoding="UTF-8"?>\n<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:${user}@${host}">\n` +
        `  <tuple id="t1"><status><basic>${open ? "open" : "closed"}</basic></status><note>${note}</note></tuple>\n</presence>\n`,
    ),
  )

/** media types with no meaning to any analyser, for arbitrary octets */
const opaqueType: fc.Arbitrary<MediaType> = fc.oneof(
  fc.constant<MediaType>({ type: "application", subtype: "octet-stream", params: [] }),
  fc
    .tuple(token(10), token(12), uniqueParams([], genericParam([]), 2))
    .map(([type, subtype, params]): MediaType => ({ type: `x-${type}`, subtype: `x-${subtype}`, params })),
)

/** A message body and its Content-Type: SDP, PIDF, UTF-8 text, or arbitrary octets (CR, LF and NUL included) with an opaque type */
export const body: fc.Arbitrary<{ readonly contentType: MediaType; readonly bytes: Uint8Array } | undefined> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(undefined) },
  {
    weight: 2,
    arbitrary: sdp.map((bytes) => ({ contentType: { type: "application", subtype: "sdp", params: [] }, bytes })),
  },
  {
    weight: 1,
    arbitrary: fc
      .string({ maxLength: 64, unit: "grapheme" })
      .filter((s) => s.length > 0)
      .map((s) => ({
        contentType: { type: "text", subtype: "plain", params: [["charset", "UTF-8"]] as ReadonlyArray<Param> },
        bytes: new TextEncoder().encode(s),
      })),
  },
  { weight: 1, arbitrary: pidf.map((bytes) => ({ contentType: PIDF, bytes })) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(opaqueType, fc.uint8Array({ minLength: 1, maxLength: 600 }))
      .map(([contentType, bytes]) => ({ contentType, bytes })),
  },
)

// ---- whole messages (§7.1, §7.2, §8.1.1) ----

type Group = ReadonlyArray<Header.Header>

const one = <A>(def: Headers.HeaderDef<A>, value: A): Group => [Header.make(def, value)]
const many = <A>(def: Headers.HeaderDef<A>, values: ReadonlyArray<A>): Group => values.map((v) => Header.make(def, v))

const optional = (arb: fc.Arbitrary<Group>, freq = 2): fc.Arbitrary<Group> =>
  fc.oneof({ weight: freq, arbitrary: arb }, { weight: 1, arbitrary: fc.constant([]) })

const textValue: fc.Arbitrary<string> = text(1, 30)

const extensions: fc.Arbitrary<ReadonlyArray<Group>> = fc.array(
  extensionHeader.map((h): Group => [Header.raw(h.name, h.value)]),
  { maxLength: 3 },
)

/** Header groups common to requests and the optional ones of responses; shuffled as groups. */
const shuffled = (groups: ReadonlyArray<Group>): fc.Arbitrary<ReadonlyArray<Header.Header>> =>
  fc.shuffledSubarray([...groups], { minLength: groups.length, maxLength: groups.length }).map((gs) => gs.flat())

/** A request of the given method (§8.1.1): mandatory fields, realistic optional ones, extension headers, a body. */
export const requestOf = (forMethod: string): fc.Arbitrary<SipRequest> =>
  fc
    .record({
      uri: requestUri,
      vias: fc.array(via, { minLength: 1, maxLength: 4 }),
      maxForwards: fc.integer({ min: 0, max: 70 }),
      routes: fc.array(route, { maxLength: 3 }),
      from,
      to: to(),
      callId,
      cseq: cseq(forMethod),
      contact:
        forMethod === "REGISTER"
          ? fc.oneof(
              { weight: 6, arbitrary: fc.array(contactAddress, { maxLength: 3 }) },
              { weight: 1, arbitrary: fc.constant<ReadonlyArray<ContactValue>>([{ _tag: "Wildcard" }]) },
            )
          : fc.array(contactAddress, { maxLength: 1 }),
      expires: optional(
        fc.integer({ min: 0, max: 2 ** 31 - 1 }).map((e) => one(Headers.Expires, e)),
        1,
      ),
      supported: optional(
        fc
          .uniqueArray(fc.constantFrom("replaces", "timer", "100rel", "path", "outbound", "gruu"), {
            minLength: 1,
            maxLength: 3,
          })
          .map((ts) => many(Headers.Supported, ts)),
      ),
      allow: optional(fc.uniqueArray(method, { minLength: 1, maxLength: 6 }).map((ms) => many(Headers.Allow, ms))),
      authorization: optional(
        authorization.map((a) => one(Headers.Authorization, a)),
        1,
      ),
      userAgent: optional(textValue.map((t) => one(Headers.UserAgent, t))),
      subject: optional(
        textValue.map((t) => one(Headers.Subject, t)),
        1,
      ),
      extensions,
      body,
    })
    .chain((r) => {
      const wildcard = r.contact.some((c) => c._tag === "Wildcard")
      const groups: Array<Group> = [
        one(Headers.MaxForwards, r.maxForwards),
        many(Headers.Route, r.routes),
        one(Headers.From, r.from),
        one(Headers.To, r.to),
        one(Headers.CallId, r.callId),
        one(Headers.CSeq, r.cseq),
        many(Headers.Contact, r.contact),
        // §10.2.2: "Contact: *" only with "Expires: 0"
        wildcard ? one(Headers.Expires, 0) : r.expires,
        r.supported,
        r.allow,
        r.authorization,
        r.userAgent,
        r.subject,
        ...r.extensions,
      ]
      if (r.body !== undefined) groups.push(one(Headers.ContentType, r.body.contentType))
      return shuffled(groups).map((middle) =>
        Message.request({
          method: forMethod,
          uri: r.uri,
          // Via first as a proxy would leave it (§16.6 step 8); Content-Length last
          headers: [
            ...many(Headers.Via, r.vias),
            ...middle,
            Header.make(Headers.ContentLength, r.body?.bytes.length ?? 0),
          ],
          body: r.body?.bytes ?? new Uint8Array(0),
        }),
      )
    })

/** Requests of every common method and extension methods */
export const request: fc.Arbitrary<SipRequest> = method.chain(requestOf)

/** status-code (§7.2): the common codes of §21 and any other in 100–699 */
export const status: fc.Arbitrary<number> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(100, 180, 183, 200, 202, 302, 401, 403, 404, 407, 408, 486, 487, 500, 503, 603),
  },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 699 }) },
)

/** Reason-Phrase (§25.1): the RFC's phrase, or free text (UTF-8 included) */
export const reason = (code: number): fc.Arbitrary<string> =>
  fc.oneof(fc.constant(Message.reasonPhrase(code)), text(0, 30))

/** A response to a generated request (not ACK), built by `Message.response` (§8.2.6) */
export const response: fc.Arbitrary<SipResponse> = method
  .filter((m) => m !== "ACK")
  .chain(requestOf)
  .chain((req) =>
    fc
      .record({
        status,
        toTag: tag,
        contact: fc.array(contactAddress, { maxLength: 2 }),
        recordRoutes: fc.array(route, { maxLength: 3 }),
        extensions,
        body,
      })
      .chain((r) =>
        reason(r.status).map((phrase) => {
          const extra: Array<Header.Header> = [
            ...many(Headers.RecordRoute, r.recordRoutes),
            ...many(Headers.Contact, r.contact),
            ...r.extensions.flat(),
          ]
          if (r.body !== undefined) extra.push(Header.make(Headers.ContentType, r.body.contentType))
          extra.push(Header.make(Headers.ContentLength, r.body?.bytes.length ?? 0))
          return Message.response(req, r.status, phrase, {
            toTag: r.toTag,
            headers: extra,
            ...(r.body === undefined ? {} : { body: r.body.bytes }),
          })
        }),
      ),
  )

/** Requests and responses */
export const message: fc.Arbitrary<SipRequest | SipResponse> = fc.oneof(request, response)
