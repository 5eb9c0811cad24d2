import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Header, HeaderCache, Headers, Message, Parser, Serializer, type SipRequest, Uri } from "../src/index.ts"

const bytes = (lines: ReadonlyArray<string>, body = "") => Buffer.from(lines.join("\r\n") + "\r\n\r\n" + body, "utf8")

const base = [
  "INVITE sip:bob@biloxi.example.com SIP/2.0",
  "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds",
  "Max-Forwards: 70",
  'To: "Bob" <sip:bob@biloxi.example.com>',
  "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774",
  "Call-ID: a84b4c76e66710@pc33.atlanta.example.com",
  "CSeq: 314159 INVITE",
  "Contact: <sip:alice@pc33.atlanta.example.com>",
  "Content-Type: application/sdp",
]

const parseOk = (b: Uint8Array, options?: Parser.Options) => {
  const r = Parser.parse(b, options)
  if (r._tag === "Err") throw new Error(`${r.error.reason} @${r.error.offset}`)
  return r
}

const reject = (b: Uint8Array, options?: Parser.Options) => {
  const r = Parser.parse(b, options)
  if (r._tag === "Ok") throw new Error("expected a ParseError")
  return r.error
}

describe("Parser: message structure (RFC 3261 §7)", () => {
  it("§7.1 request line and typed core headers, cached after the receive path", () => {
    const { message } = parseOk(bytes([...base, "Content-Length: 4"], "v=0\n"))
    const m = message as SipRequest
    expect(m.method).toBe("INVITE")
    expect(m.uri).toMatchObject({ user: "bob", host: "biloxi.example.com" })
    expect(Message.branch(m)).toBe("z9hG4bK776asdhds")
    expect(Message.topVia(m)).toMatchObject({ protocol: "SIP", version: "2.0", transport: "UDP", port: undefined })
    expect(Message.fromTag(m)).toBe("1928301774")
    expect(Message.toTag(m)).toBeUndefined()
    expect(Message.from(m)?.displayName).toBe("Alice")
    expect(Message.to(m)?.displayName).toBe("Bob")
    expect(Message.cseq(m)).toEqual({ seq: 314159, method: "INVITE" })
    expect(Message.method(m)).toBe("INVITE")
    expect(Message.maxForwards(m)).toBe(70)
    expect(new TextDecoder().decode(m.body)).toBe("v=0\n")
    // the parse already cached the typed Via: the same object comes back
    expect(Message.topVia(m)).toBe(Message.topVia(m))
  })

  it("§7.5 CRLFs before the start line are ignored", () => {
    const b = Buffer.concat([Buffer.from("\r\n\r\n"), bytes([...base, "Content-Length: 0"])])
    expect(parseOk(b).message._tag).toBe("SipRequest")
  })

  it("§7.3.1 header names are case-insensitive; compact forms map to full names (§7.3.3, RFC 6665, RFC 3515, RFC 4028)", () => {
    const { message } = parseOk(
      bytes([
        "NOTIFY sip:a@example.com SIP/2.0",
        "v: SIP/2.0/TCP h.example.com;branch=z9hG4bK1",
        "f: <sip:b@example.com>;tag=1",
        "t: <sip:a@example.com>;tag=2",
        "i: n1@example.com",
        "CSEQ: 2 NOTIFY",
        "o: presence;id=7",
        "u: presence, dialog",
        "r: <sip:c@example.com>",
        "b: <sip:d@example.com>",
        "x: 1800;refresher=uac",
        "k: 100rel",
        "s: hello",
        "e: gzip",
        "c: text/plain",
        "m: <sip:b@192.0.2.1>",
        "Subscription-State: active;expires=600",
        "l: 0",
      ]),
    )
    expect(message.headers.map((h) => h.name)).toEqual([
      "Via",
      "From",
      "To",
      "Call-ID",
      "CSeq",
      "Event",
      "Allow-Events",
      "Allow-Events",
      "Refer-To",
      "Referred-By",
      "Session-Expires",
      "Supported",
      "Subject",
      "Content-Encoding",
      "Content-Type",
      "Contact",
      "Subscription-State",
      "Content-Length",
    ])
    expect(Message.first(message, Headers.Event)).toEqual({ package: "presence", params: [["id", "7"]] })
    expect(Message.first(message, Headers.SubscriptionState)).toEqual({ state: "active", params: [["expires", "600"]] })
    expect(Message.all(message, Headers.AllowEvents)).toEqual(["presence", "dialog"])
    expect(Message.first(message, Headers.ContentType)).toEqual({ type: "text", subtype: "plain", params: [] })
  })

  it("§7.3.1 list headers split at commas outside quotes and <>; auth and Date headers are not split", () => {
    const { message } = parseOk(
      bytes([
        "REGISTER sip:example.com SIP/2.0",
        "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/UDP b.example.com;branch=z9hG4bK2",
        "From: <sip:a@example.com>;tag=1",
        "To: <sip:a@example.com>",
        "Call-ID: x",
        "CSeq: 1 REGISTER",
        'Contact: "Doe, John" <sip:j,k@a.example.com;x=1>;q=0.5, <sip:j@b.example.com>;expires=60',
        'Authorization: Digest username="a", realm="example.com", nonce="n,1", uri="sip:example.com", response="0123"',
        "Route: <sip:p1.example.com;lr>,<sip:p2.example.com;lr>",
        "Content-Length: 0",
      ]),
    )
    expect(Message.all(message, Headers.Via).map((v) => v.host)).toEqual(["a.example.com", "b.example.com"])
    const contacts = Message.all(message, Headers.Contact)
    expect(contacts).toHaveLength(2)
    expect(contacts[0]).toMatchObject({ displayName: "Doe, John", params: [["q", "0.5"]] })
    expect(contacts[1]).toMatchObject({ params: [["expires", "60"]] })
    expect(Message.all(message, Headers.Route)).toHaveLength(2)
    const auth = Message.first(message, Headers.Authorization)
    expect(auth?.scheme).toBe("Digest")
    expect(auth?.params).toContainEqual(["nonce", "n,1"])
    expect(message.headers.filter((h) => h.name === "Authorization")).toHaveLength(1)
  })

  it("§20.10 Contact '*' wildcard and q-value range", () => {
    const lines = (c: string) =>
      bytes([
        "REGISTER sip:example.com SIP/2.0",
        "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1",
        "Call-ID: x",
        "CSeq: 1 REGISTER",
        `Contact: ${c}`,
        "Content-Length: 0",
      ])
    expect(Message.first(parseOk(lines("*")).message, Headers.Contact)).toEqual({ _tag: "Wildcard" })
    expect(reject(lines("<sip:a@b.example.com>;q=1.5")).header).toBe("Contact")
  })

  it("§20.22 Max-Forwards 0-255, §20.16 CSeq < 2**31, §20.14 Content-Length digits only", () => {
    const withHeader = (h: string) =>
      bytes([...base.filter((l) => !l.startsWith(h.split(":")[0]!)), h, "Content-Length: 0"])
    expect(reject(withHeader("Max-Forwards: 256")).header).toBe("Max-Forwards")
    expect(parseOk(withHeader("Max-Forwards: 255")).message._tag).toBe("SipRequest")
    expect(reject(withHeader("CSeq: 2147483648 INVITE")).header).toBe("CSeq")
    expect(parseOk(withHeader("CSeq: 2147483647 INVITE")).message._tag).toBe("SipRequest")
    expect(reject(bytes([...base, "Content-Length: 0x10"])).header).toBe("Content-Length")
  })

  it("§7.2 status codes 100-699 only; reason may be empty", () => {
    const resp = (line: string) => bytes([line, "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1", "Content-Length: 0"])
    expect(parseOk(resp("SIP/2.0 180 Ringing")).message).toMatchObject({ status: 180, reason: "Ringing" })
    expect(parseOk(resp("SIP/2.0 699")).message).toMatchObject({ status: 699, reason: "" })
    for (const bad of ["SIP/2.0 099 Low", "SIP/2.0 700 High", "SIP/2.0 20 Short", "SIP/2.0 2000 Long"])
      expect(Parser.parse(resp(bad))._tag, bad).toBe("Err")
  })

  it("§8.2.2.1 unsupported SIP version is 505; garbage version is 400", () => {
    expect(reject(bytes(["OPTIONS sip:a@example.com SIP/3.0", "Content-Length: 0"])).status).toBe(505)
    expect(reject(bytes(["OPTIONS sip:a@example.com HTTP/1.1", "Content-Length: 0"])).status).toBe(400)
  })

  it("§25.1 folded header continuation becomes one SP; a header without ':' is rejected with its offset", () => {
    const { message } = parseOk(bytes([...base.slice(0, 2), "Subject: first", "\tsecond", "Content-Length: 0"]))
    expect(Message.header(message, "Subject")).toBe("first second")
    const head = "OPTIONS sip:a@example.com SIP/2.0\r\n"
    const e = reject(Buffer.from(`${head}Bogus line\r\nContent-Length: 0\r\n\r\n`))
    expect(e.offset).toBe(head.length)
  })
})

describe("Parser: datagrams and streams (§18.3)", () => {
  const body = "v=0\r\n"
  it("§18.3 datagram without Content-Length: body is the rest of the datagram", () => {
    const r = parseOk(bytes(base, body))
    expect(r.message.body.length).toBe(body.length)
    expect(r.consumed).toBe(bytes(base, body).length)
  })

  it("§18.3 datagram: octets after Content-Length are ignored; larger Content-Length is an error", () => {
    const r = parseOk(bytes([...base, "Content-Length: 3"], body))
    expect(new TextDecoder().decode(r.message.body)).toBe("v=0")
    expect(reject(bytes([...base, "Content-Length: 99"], body)).header).toBe("Content-Length")
  })

  it("§18.3 stream: Content-Length is required", () => {
    expect(reject(bytes(base, body), { transport: "stream" }).header).toBe("Content-Length")
    expect(
      parseOk(bytes([...base, `Content-Length: ${body.length}`], body), { transport: "stream" }).consumed,
    ).toBeGreaterThan(0)
  })

  it("the body is a view on the input, not a copy", () => {
    const input = bytes([...base, "Content-Length: 5"], body)
    const r = parseOk(input)
    expect(r.message.body.buffer).toBe(input.buffer)
  })

  it("parseOrFail fails with a ParseError carrying the partial message for a 400", async () => {
    const b = bytes([...base.filter((l) => !l.startsWith("CSeq")), "CSeq: 1 BYE", "Content-Length: 0"])
    const e = await Effect.runPromise(Effect.flip(Parser.parseOrFail(b)))
    expect(e._tag).toBe("ParseError")
    expect(e.partial.method).toBe("INVITE")
    expect(e.partial.callId).toBe("a84b4c76e66710@pc33.atlanta.example.com")
    expect(e.partial.from?.params).toEqual([["tag", "1928301774"]])
    expect(e.partial.via[0]?.host).toBe("pc33.atlanta.example.com")
  })

  it("never throws on random or mutated input (bounded fuzz)", () => {
    const seed = bytes([...base, "Content-Length: 5"], body)
    let state = 12345
    const rand = () => {
      state = (state * 1103515245 + 12345) & 0x7fffffff
      return state
    }
    const deadline = Date.now() + 3000
    let n = 0
    for (; n < 20000 && Date.now() < deadline; n++) {
      let input: Uint8Array
      if (n % 2 === 0) {
        input = new Uint8Array(rand() % 600)
        for (let i = 0; i < input.length; i++) input[i] = rand() & 0xff
      } else {
        input = Uint8Array.from(seed)
        for (let k = rand() % 8; k >= 0; k--) input[rand() % input.length] = rand() & 0xff
      }
      const r = Parser.parse(input)
      expect(r._tag === "Ok" || r.error._tag === "ParseError").toBe(true)
    }
    expect(n).toBeGreaterThan(1000)
  })
})

describe("Serializer and builders (§7, §8.1.1, §8.2.6)", () => {
  it("§7.3.3 serializes full names and a correct Content-Length", () => {
    const { message } = parseOk(
      bytes(["OPTIONS sip:a@example.com SIP/2.0", "v: SIP/2.0/UDP h.example.com;branch=z9hG4bK1", "l: 0"]),
    )
    expect(Serializer.toString(message)).toBe(
      "OPTIONS sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h.example.com;branch=z9hG4bK1\r\nContent-Length: 0\r\n\r\n",
    )
  })

  it("§8.1.1 builds a request from typed headers and the serializer fixes Content-Length", () => {
    const m = Message.request({
      method: "MESSAGE",
      uri: Uri.parse("sip:bob@example.com"),
      headers: [
        Header.make(Headers.Via, {
          protocol: "SIP",
          version: "2.0",
          transport: "TCP",
          host: "192.0.2.1",
          port: 5060,
          params: [["branch", "z9hG4bKabc"]],
        }),
        Header.make(Headers.From, {
          displayName: 'A "B"',
          uri: Uri.parse("sip:a@example.com"),
          params: [["tag", "t1"]],
        }),
        Header.make(Headers.To, { displayName: undefined, uri: Uri.parse("sip:bob@example.com"), params: [] }),
        Header.make(Headers.CallId, "c1@example.com"),
        Header.make(Headers.CSeq, { seq: 1, method: "MESSAGE" }),
        Header.make(Headers.MaxForwards, 70),
        Header.raw("content-length", "999"),
      ],
      body: new TextEncoder().encode("héllo"),
    })
    const wire = Serializer.serialize(m)
    const text = new TextDecoder().decode(wire)
    expect(text).toContain('\r\nFrom: "A \\"B\\"" <sip:a@example.com>;tag=t1\r\n')
    expect(text).toContain("\r\nContent-Length: 6\r\n\r\nhéllo")
    const back = parseOk(wire, { transport: "stream" }).message
    expect(Message.from(back)?.displayName).toBe('A "B"')
    expect(Message.topVia(back)).toMatchObject({ host: "192.0.2.1", port: 5060, transport: "TCP" })
  })

  it("§8.2.6.2 response copies Via, From, Call-ID, CSeq and adds the To tag", () => {
    const req = parseOk(bytes([...base, "Content-Length: 0"])).message as SipRequest
    const res = Message.response(req, 180, undefined, { toTag: "as83kd" })
    expect(res).toMatchObject({ _tag: "SipResponse", status: 180, reason: "Ringing" })
    expect(Message.toTag(res)).toBe("as83kd")
    expect(Message.branch(res)).toBe(Message.branch(req))
    expect(Message.callId(res)).toBe(Message.callId(req))
    expect(Message.cseq(res)).toEqual(Message.cseq(req))
    expect(Message.header(res, "Contact")).toBeUndefined()
    expect(Message.header(res, "Max-Forwards")).toBeUndefined()
  })

  it("§8.2.6.2 the tagged To of a response carries the value its text parses to (name-addr and addr-spec forms)", () => {
    for (const to of ['"Bob" <sip:bob@example.com>;x=1', "sip:bob@example.com"]) {
      const req = parseOk(bytes([...base.filter((l) => !l.startsWith("To:")), `To: ${to}`, "Content-Length: 0"]))
        .message as SipRequest
      const res = Message.response(req, 200, undefined, { toTag: "t1" })
      const field = res.headers.find((h) => h.name === "To")!
      expect(HeaderCache.has(field)).toBe(true)
      expect(Message.to(res)).toEqual(Headers.To.parse(field.value))
      expect(Message.toTag(res)).toBe("t1")
      const wire = parseOk(Serializer.serialize(res)).message
      expect(Message.to(wire)).toEqual(Message.to(res))
    }
  })

  it("§16.6 editing: prepend a Via, remove the top Route, replace Max-Forwards", () => {
    const req = parseOk(
      bytes([...base, "Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>", "Content-Length: 0"]),
    ).message as SipRequest
    const via = Header.make(Headers.Via, {
      protocol: "SIP",
      version: "2.0",
      transport: "UDP",
      host: "proxy.example.com",
      port: undefined,
      params: [["branch", "z9hG4bKp1"]],
    })
    let fwd = Message.prependHeader(req, via)
    fwd = Message.removeFirst(fwd, Headers.Route)
    fwd = Message.setHeader(fwd, Header.make(Headers.MaxForwards, 69))
    expect(Message.branch(fwd)).toBe("z9hG4bKp1")
    expect(Message.all(fwd, Headers.Via)).toHaveLength(2)
    expect(Message.all(fwd, Headers.Route).map((r) => Uri.format(r.uri))).toEqual(["sip:p2.example.com;lr"])
    expect(Message.maxForwards(fwd)).toBe(69)
    expect(Message.maxForwards(req)).toBe(70)
  })

  it("lazily parsed headers: malformed values give undefined or a HeaderError", async () => {
    const req = parseOk(bytes([...base, "RSeq: abc", "RAck: 776656 1 INVITE", "Content-Length: 0"])).message
    expect(Message.first(req, Headers.RSeq)).toBeUndefined()
    expect(Message.first(req, Headers.RAck)).toEqual({ rseq: 776656, cseq: 1, method: "INVITE" })
    const e = await Effect.runPromise(Effect.flip(Message.get(req, Headers.RSeq)))
    expect(e).toMatchObject({ _tag: "HeaderError", header: "RSeq" })
    const missing = await Effect.runPromise(Effect.flip(Message.get(req, Headers.SipETag)))
    expect(missing).toMatchObject({ _tag: "MissingHeader", header: "SIP-ETag" })
  })

  it("§20.30/§20.34 Route and Record-Route are parsed on first access: a malformed element is a HeaderError there", async () => {
    const req = parseOk(
      bytes([
        ...base,
        "Record-Route: <sip:p1.example.com;lr>, <sip:p2 .example.com;lr>",
        "Route: <sip:p3.example.com;lr>",
      ]),
    ).message
    expect(Message.all(req, Headers.RecordRoute).map((r) => Uri.format(r.uri))).toEqual(["sip:p1.example.com;lr"])
    const e = await Effect.runPromise(
      Effect.flip(Message.get(Message.removeFirst(req, Headers.RecordRoute), Headers.RecordRoute)),
    )
    expect(e).toMatchObject({ _tag: "HeaderError", header: "Record-Route" })
    expect(Message.first(req, Headers.Route)?.uri).toEqual(Uri.parse("sip:p3.example.com;lr"))
  })
})
