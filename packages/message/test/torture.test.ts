import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { Headers, Message, Parser, Serializer, type SipMessage, type SipRequest, Uri } from "../src/index.ts"

const corpus = new URL("./conformance/", import.meta.url)

interface Entry {
  readonly file: string
  readonly section: string
  readonly title: string
  readonly expect: "parse" | "reject" | "parse-then-semantic-error"
}

const index = (dir: string): ReadonlyArray<Entry> =>
  JSON.parse(readFileSync(new URL(`${dir}/index.json`, corpus), "utf8")) as ReadonlyArray<Entry>

/** RFC 4475 files are datagrams exactly as stored. */
const rfc4475 = (file: string): Uint8Array => readFileSync(new URL(`rfc4475/${file}`, corpus))

/**
 * RFC 5118 files use bare LF: LF -> CRLF, add the missing empty line of the §4.10 pair, and
 * recompute the Content-Length of the SDP ones (see the corpus README).
 */
const rfc5118 = (file: string): Uint8Array => {
  let t = readFileSync(new URL(`rfc5118/${file}`, corpus))
    .toString("latin1")
    .replace(/\n/g, "\r\n")
  if (!t.includes("\r\n\r\n")) t += "\r\n"
  const he = t.indexOf("\r\n\r\n")
  const body = t.slice(he + 4)
  t = t.slice(0, he + 4).replace(/Content-Length: \d+/, `Content-Length: ${body.length}`) + body
  return Buffer.from(t, "latin1")
}

const ok = (bytes: Uint8Array): SipMessage => {
  const r = Parser.parse(bytes)
  if (r._tag === "Err") throw new Error(`unexpected rejection: ${r.error.reason} @${r.error.offset}`)
  return r.message
}

const req = (bytes: Uint8Array): SipRequest => {
  const m = ok(bytes)
  if (m._tag !== "SipRequest") throw new Error("request expected")
  return m
}

const values = (m: SipMessage, name: string) => m.headers.filter((h) => h.name === name).map((h) => h.value)

describe("RFC 4475 torture messages: every file gets its verdict", () => {
  const entries = index("rfc4475")
  it("corpus is complete (50 files, 21 invalid)", () => {
    expect(entries.length).toBe(50)
    expect(entries.filter((e) => e.expect === "reject").length).toBe(21)
  })
  for (const e of entries) {
    it(`RFC 4475 §${e.section} ${e.file} (${e.title}) -> ${e.expect}`, () => {
      const r = Parser.parse(rfc4475(e.file))
      if (e.expect === "reject") {
        expect(r._tag).toBe("Err")
        if (r._tag === "Err") {
          expect(r.error._tag).toBe("ParseError")
          expect(r.error.status).toBe(e.file === "badvers.dat" ? 505 : 400)
          expect(r.error.offset).toBeGreaterThanOrEqual(0)
        }
      } else {
        expect(r._tag, r._tag === "Err" ? r.error.reason : "").toBe("Ok")
        if (r._tag === "Ok") {
          // §7: serialize(parse(x)) is a fixed point of parse/serialize
          const once = Serializer.serialize(r.message)
          const again = Parser.parse(once)
          expect(again._tag).toBe("Ok")
          if (again._tag === "Ok") {
            // a missing Content-Length (RFC 2543 style, inv2543) is added by the serializer
            const m = r.message
            const expected =
              Message.header(m, "Content-Length") === undefined
                ? { ...m, headers: [...m.headers, { name: "Content-Length", value: String(m.body.length) }] }
                : m
            expect(again.message).toEqual(expected)
            expect(Serializer.serialize(again.message)).toEqual(once)
          }
        }
      }
    })
  }
})

describe("RFC 5118 IPv6 torture messages", () => {
  for (const e of index("rfc5118")) {
    it(`RFC 5118 §${e.section} ${e.file} -> ${e.expect}`, () => {
      const r = Parser.parse(rfc5118(e.file))
      expect(r._tag, r._tag === "Err" ? r.error.reason : "").toBe(e.expect === "reject" ? "Err" : "Ok")
    })
  }

  it("§4.1 ipv6-good: IPv6 reference in Request-URI, Via and Contact", () => {
    const m = req(rfc5118("ipv6-good"))
    expect(m.uri).toMatchObject({ _tag: "SipUri", host: "[2001:db8::10]", port: undefined })
    expect(Message.topVia(m)).toMatchObject({ host: "[2001:db8::9:1]", port: undefined })
    expect(Message.first(m, Headers.Contact)).toMatchObject({ uri: { host: "[2001:db8::1]" } })
  })

  it("§4.2 ipv6-bad: an unbracketed IPv6 address in the Request-URI is rejected with 400", () => {
    const r = Parser.parse(rfc5118("ipv6-bad"))
    expect(r._tag === "Err" && r.error.status).toBe(400)
  })

  it("§4.3/§4.4 port ambiguity: [2001:db8::10:5070] has no port, [2001:db8::10]:5070 has one", () => {
    expect(req(rfc5118("port-ambiguous")).uri).toMatchObject({ host: "[2001:db8::10:5070]", port: undefined })
    expect(req(rfc5118("port-unambiguous")).uri).toMatchObject({ host: "[2001:db8::10]", port: 5070 })
  })

  it("§4.5 Via received with and without IPv6 delimiters", () => {
    const a = Message.topVia(req(rfc5118("via-received-param-with-delim")))!
    const b = Message.topVia(req(rfc5118("via-received-param-no-delim")))!
    expect(a.params).toContainEqual(["received", "[2001:db8::9:255]"])
    expect(b.params).toContainEqual(["received", "2001:db8::9:255"])
  })

  it("§4.7 multiple IP addresses in Via: IPv6 with port, IPv4, IPv6 with received", () => {
    const vias = Message.all(req(rfc5118("mult-ip-in-header")), Headers.Via)
    expect(vias.map((v) => [v.host, v.port])).toEqual([
      ["[2001:db8::9:1]", 6050],
      ["192.0.2.1", undefined],
      ["[2001:db8::9:255]", undefined],
    ])
  })

  it("§4.6 SDP with IPv6 addresses: body kept exactly (Content-Length recomputed on conversion)", () => {
    const bytes = rfc5118("ipv6-in-sdp")
    const m = req(bytes)
    expect(Buffer.from(m.body).toString("latin1")).toContain("IN IP6 2001:db8::20")
    expect(m.body.length).toBe(Number(Message.header(m, "Content-Length")))
  })

  it("§4.9 IPv4-mapped IPv6 addresses in Via and Contact", () => {
    const m = req(rfc5118("ipv4-mapped-ipv6"))
    expect(Message.topVia(m)).toMatchObject({ host: "[::ffff:192.0.2.10]", port: 19823 })
  })

  it("§4.10 policy: the 3-colon form is tolerated and compares equal to the 2-colon form (RFC 5954)", () => {
    const three = req(rfc5118("ipv6-bug-abnf-3-colons")).uri
    const two = req(rfc5118("ipv6-correct-abnf-2-colons")).uri
    expect(three).toMatchObject({ host: "[2001:db8:::192.0.2.1]" })
    expect(Uri.equals(three, two)).toBe(true)
    // ":::" is only tolerated before an embedded IPv4 address
    expect(Uri.decode("sip:[2001:db8:::1]")).toMatchObject({ _tag: "UriError" })
  })
})

describe("RFC 4475 §3.1.1 valid messages: the values a parser must get right", () => {
  it("§3.1.1.1 wsinv: folding, escaped quotes, compact and case-mixed names, leading zeros, opaque unknown header", () => {
    const m = req(rfc4475("wsinv.dat"))
    expect(m.method).toBe("INVITE")
    expect(Message.toTag(m)).toBe("1918181833n")
    expect(Message.fromTag(m)).toBe("98asjd8")
    expect(Message.from(m)?.displayName).toBe('J Rosenberg \\"')
    expect(Message.first(m, Headers.MaxForwards)).toBe(68)
    expect(Message.cseq(m)).toEqual({ seq: 9, method: "INVITE" })
    expect(Message.first(m, Headers.ContentLength)).toBe(150)
    // three Via values (one line with two comma-separated values), LWS around '/' tolerated
    const vias = Message.all(m, Headers.Via)
    expect(vias.map((v) => [v.transport, v.host, Message.param(v.params, "branch")])).toEqual([
      ["UDP", "192.0.2.2", "390skdjuw"],
      ["TCP", "spindle.example.com", "z9hG4bK9ikj8"],
      ["UDP", "192.168.255.111", "z9hG4bK30239"],
    ])
    expect(values(m, "Subject")).toEqual([""])
    // folded LWS became one SP; the unknown header is kept opaque, in order
    expect(values(m, "NewFangledHeader")).toEqual(["newfangled value continued newfangled value"])
    expect(values(m, "UnknownHeaderWithUnusualValue")).toEqual([";;,,;;,;"])
    const contact = Message.first(m, Headers.Contact)
    expect(contact).toMatchObject({ _tag: "Contact", displayName: 'Quoted string ""' })
    expect(contact?._tag === "Contact" && contact.params).toEqual([
      ["newparam", "newvalue"],
      ["secondparam", null],
      ["q", "0.33"],
    ])
    expect(Message.first(m, Headers.Route)?.uri).toMatchObject({
      params: [
        ["lr", null],
        ["unknownwith", "value"],
        ["unknown-no-value", null],
      ],
    })
    // serialized in full form
    const text = Serializer.toString(m)
    expect(text).toContain("\r\nContact: ")
    expect(text).toContain("\r\nSubject: \r\n")
    expect(text).not.toMatch(/\r\n[mvs]:/)
  })

  it("§3.1.1.2 intmeth: unusual method, Call-ID word characters, UTF-8 parameter and header", () => {
    const m = req(rfc4475("intmeth.dat"))
    expect(m.method).toBe("!interesting-Method0123456789_*+`.%indeed'~")
    expect(Message.callId(m)).toBe("intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{")
    expect(m.uri).toMatchObject({
      user: "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*",
      password: "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)",
    })
    expect(Message.from(m)?.displayName).toBe("token1~` token2'+_ token3*%!.-")
    expect(Message.header(m, "extensionHeader-!.%*+_`'~")).toBe("\uFEFF大停電")
  })

  it("§3.1.1.3 esc01: escapes kept as on the wire, equal to their unescaped forms (§19.1.4)", () => {
    const m = req(rfc4475("esc01.dat"))
    expect(m.uri).toMatchObject({ user: "sips%3Auser%40example.com", host: "example.net" })
    const to = Message.to(m)!.uri
    expect(to).toMatchObject({ user: "%75se%72" })
    expect(Uri.equals(to, Uri.parse("sip:user@example.com"))).toBe(true)
    const contact = Message.first(m, Headers.Contact)
    expect(
      contact?._tag === "Contact" &&
        Uri.equals(contact.uri, Uri.parse("sip:caller@host5.example.net;lr;name=value%25%34%31")),
    ).toBe(true)
  })

  it("§3.1.1.4 escnull: %00 in user parts, two distinct Contacts", () => {
    const m = req(rfc4475("escnull.dat"))
    const contacts = Message.all(m, Headers.Contact)
    expect(contacts.length).toBe(2)
    const [a, b] = contacts.map((c) => (c._tag === "Contact" ? c.uri : undefined))
    expect(Uri.equals(a!, b!)).toBe(false)
  })

  it("§3.1.1.5 esc02: % in a method token and a header name that is not Contact", () => {
    const m = req(rfc4475("esc02.dat"))
    expect(m.method).toBe("RE%47IST%45R")
    expect(Message.all(m, Headers.Contact).length).toBe(2)
    expect(values(m, "C%6Fntact")).toEqual(["<sip:alias2@host2.example.com>"])
    expect(Message.from(m)?.displayName).toBe("%Z%45")
  })

  it("§3.1.1.6 lwsdisp: no LWS between display name and <", () => {
    expect(Message.from(req(rfc4475("lwsdisp.dat")))).toMatchObject({ displayName: "caller", params: [["tag", "323"]] })
  })

  it("§3.1.1.7 longreq: long values are kept whole", () => {
    const m = req(rfc4475("longreq.dat"))
    expect(Message.to(m)?.displayName?.length).toBeGreaterThan(100)
    // 34 Via fields under every spelling of the name (compact, any case, LWS before ':')
    const vias = Message.all(m, Headers.Via)
    expect(vias.length).toBe(values(m, "Via").length)
    expect(vias.slice(0, 3).map((v) => v.host)).toEqual(["sip33.example.com", "sip32.example.com", "sip31.example.com"])
    expect(Message.from(m)?.uri).toMatchObject({ user: expect.stringMatching(/^(amazinglylongcallername){5}$/) })
    expect(Message.callId(m)).toMatch(/^longreq\.one(really){20}longcallid$/)
    const long = m.headers.find((h) => h.name.startsWith("Unknown-LongLong"))
    expect(long?.value.length).toBeGreaterThan(100)
  })

  it("§3.1.1.8 dblreq: octets after Content-Length are ignored in a datagram (§18.3)", () => {
    const bytes = rfc4475("dblreq.dat")
    const r = Parser.parse(bytes)
    expect(r._tag).toBe("Ok")
    if (r._tag !== "Ok") return
    expect(r.message._tag === "SipRequest" && r.message.method).toBe("REGISTER")
    expect(r.message.body.length).toBe(0)
    expect(r.consumed).toBeLessThan(bytes.length)
  })

  it("§3.1.1.9 semiuri: semicolons in the user part, Accept list split per value", () => {
    const m = req(rfc4475("semiuri.dat"))
    expect(m.uri).toMatchObject({ user: "user;par=u%40example.net", host: "example.com", params: [] })
    expect(values(m, "Accept")).toEqual([
      "application/sdp",
      "application/pkcs7-mime",
      "multipart/mixed",
      "multipart/signed",
      "message/sip",
      "message/sipfrag",
    ])
  })

  it("§3.1.1.10 transports: known and unknown Via transports", () => {
    const vias = Message.all(req(rfc4475("transports.dat")), Headers.Via)
    expect(vias.map((v) => v.transport)).toEqual(["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"])
  })

  it("§3.1.1.11 mpart01: binary body bytes exact (NULs, bare CR/LF)", () => {
    const bytes = rfc4475("mpart01.dat")
    const m = req(bytes)
    const n = Number(Message.header(m, "Content-Length"))
    expect(m.body.length).toBe(n)
    expect(Buffer.from(m.body).equals(Buffer.from(bytes.subarray(bytes.length - n)))).toBe(true)
    expect(m.body.includes(0)).toBe(true)
  })

  it("§3.1.1.12 unreason: UTF-8 reason phrase decoded", () => {
    const m = ok(rfc4475("unreason.dat"))
    expect(m._tag === "SipResponse" && m.reason).toBe("= 2**3 * 5**2 но сто девяносто девять - простое")
    expect(m._tag === "SipResponse" && m.status).toBe(200)
  })

  it("§3.1.1.13 noreason: empty reason phrase", () => {
    const m = ok(rfc4475("noreason.dat"))
    expect(m).toMatchObject({ _tag: "SipResponse", status: 100, reason: "" })
  })

  it("§3.4.1 inv2543: no Content-Length in a datagram, body is the rest of it", () => {
    const bytes = rfc4475("inv2543.dat")
    const m = req(bytes)
    expect(Message.header(m, "Content-Length")).toBeUndefined()
    expect(Buffer.from(m.body).toString("latin1").startsWith("v=0\r\n")).toBe(true)
    expect(m.body.length).toBe(bytes.length - (Buffer.from(bytes).indexOf("\r\n\r\n") + 4))
  })
})

describe("RFC 4475 §3.3 application-layer semantics", () => {
  it("§3.3.12 cparam01: params after an addr-spec Contact are header params (§20.10)", () => {
    const c = Message.first(req(rfc4475("cparam01.dat")), Headers.Contact)
    expect(c).toMatchObject({ _tag: "Contact", params: [["unknownparam", null]], uri: { params: [] } })
  })

  it("§3.3.13 cparam02: inside <> the param belongs to the URI", () => {
    const c = Message.first(req(rfc4475("cparam02.dat")), Headers.Contact)
    expect(c).toMatchObject({ _tag: "Contact", params: [], uri: { params: [["unknownparam", null]] } })
  })

  it("§3.3.14 regescrt: the escaped Route header stays in the Contact URI", () => {
    const c = Message.first(req(rfc4475("regescrt.dat")), Headers.Contact)
    expect(c).toMatchObject({ uri: { headers: [["Route", "%3Csip:sip.example.com%3E"]] } })
  })

  it("§3.3.1 insuf: missing To, From, Call-ID -> validate answers 400", () => {
    const e = Message.check(req(rfc4475("insuf.dat")))
    expect(e).toMatchObject({ _tag: "ValidationError", status: 400 })
  })

  it("§3.3.8 multi01: repeated single-valued fields -> validate answers 400", () => {
    const e = Message.check(req(rfc4475("multi01.dat")))
    expect(e?.status).toBe(400)
    expect(["Max-Forwards", "CSeq", "Call-ID", "To", "From"]).toContain(e?.header)
  })

  it("§3.3.9 mcl01: several Content-Length values are rejected", () => {
    const r = Parser.parse(rfc4475("mcl01.dat"))
    expect(r._tag === "Err" && r.error.header).toBe("Content-Length")
  })

  it("§8.1.1 a well-formed request passes validation", () => {
    expect(Message.check(req(rfc4475("esc01.dat")))).toBeUndefined()
  })
})

describe("RFC 4475 §3.1.2 invalid messages: typed errors saying what and where", () => {
  it("§3.1.2.16 badvers: SIP/7.0 -> 505 with the partial message for the answer", () => {
    const r = Parser.parse(rfc4475("badvers.dat"))
    expect(r._tag).toBe("Err")
    if (r._tag !== "Err") return
    expect(r.error.status).toBe(505)
    expect(r.error.partial.method).toBe("OPTIONS")
    expect(r.error.partial.callId).toBeDefined()
    expect(r.error.partial.via.length).toBe(1)
  })

  it("§3.1.2.4 scalar02: CSeq >= 2**31 rejected (§8.1.1.5), partial keeps Via/From/To", () => {
    const r = Parser.parse(rfc4475("scalar02.dat"))
    if (r._tag !== "Err") throw new Error("expected rejection")
    expect(r.error.header).toBe("CSeq")
    expect(r.error.partial.via.length).toBe(1)
    expect(r.error.partial.from).toBeDefined()
    expect(r.error.partial.to).toBeDefined()
    expect(r.error.partial.cseq).toBeUndefined()
  })

  const cases: ReadonlyArray<readonly [string, string | undefined]> = [
    ["badinv01.dat", "Via"],
    ["clerr.dat", "Content-Length"],
    ["ncl.dat", "Content-Length"],
    ["quotbal.dat", "To"],
    ["baddate.dat", "Date"],
    ["regbadct.dat", "Contact"],
    ["badaspec.dat", "To"],
    ["mismatch01.dat", "CSeq"],
    ["mismatch02.dat", "CSeq"],
    ["ltgtruri.dat", undefined],
    ["lwsruri.dat", undefined],
    ["escruri.dat", undefined],
  ]
  for (const [file, header] of cases) {
    it(`§3.1.2 ${file}: rejected, blaming ${header ?? "the start line"}`, () => {
      const r = Parser.parse(rfc4475(file))
      if (r._tag !== "Err") throw new Error("expected rejection")
      expect(r.error.header).toBe(header)
    })
  }
})
