/**
 * Property tests over generated messages (see `Arbitrary`): the wire format round-trips,
 * the parser is total on any input, the framer is insensitive to chunking, and URI
 * comparison follows RFC 3261 §19.1.4. Runs are bounded so the suite stays fast; set
 * SIPFX_SEED to replay a failure.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import {
  Arbitrary,
  Framer,
  Headers,
  Message,
  ParseError,
  Parser,
  Serializer,
  type SipMessage,
  type SipUri,
  Uri,
} from "../src/index.ts"

const seed = process.env.SIPFX_SEED === undefined ? undefined : Number(process.env.SIPFX_SEED)
const runs = (numRuns: number): fc.Parameters<unknown> => (seed === undefined ? { numRuns } : { numRuns, seed })

const encoder = new TextEncoder()
const decoder = new TextDecoder()

const parseOk = (bytes: Uint8Array): SipMessage => {
  const r = Parser.parse(bytes)
  if (r._tag === "Err") throw new Error(`${r.error.reason} at ${r.error.offset}\n${decoder.decode(bytes)}`)
  return r.message
}

/** A parse result is either a message or a typed error pointing into the input. */
const assertTotal = (bytes: Uint8Array): Parser.Result => {
  const r = Parser.parse(bytes)
  if (r._tag === "Err") {
    expect(r.error).toBeInstanceOf(ParseError)
    expect([400, 505]).toContain(r.error.status)
    expect(r.error.offset).toBeGreaterThanOrEqual(0)
    expect(r.error.offset).toBeLessThanOrEqual(bytes.length)
  } else {
    expect(r.consumed).toBeLessThanOrEqual(bytes.length)
  }
  return r
}

/** serialize ∘ parse is idempotent on whatever the parser accepts. */
const assertFixedPoint = (message: SipMessage): void => {
  const once = Serializer.serialize(message)
  const again = Serializer.serialize(parseOk(once))
  expect(again).toEqual(once)
}

const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

describe("generated messages", () => {
  it("§8.1.1 / §8.2.6 generated requests and responses carry the mandatory fields, once, and a matching CSeq", () => {
    fc.assert(
      fc.property(Arbitrary.message, (m) => {
        expect(Message.check(m)).toBeUndefined()
        // §8.1.1.7: every Via carries a branch with the magic cookie
        for (const via of Message.all(m, Headers.Via)) expect(Message.param(via.params, "branch")).toMatch(/^z9hG4bK/)
      }),
      runs(300),
    )
  })
})

describe("wire round trip", () => {
  it("§7 parse(serialize(m)) equals m for generated requests and responses", () => {
    fc.assert(
      fc.property(Arbitrary.message, (m) => {
        expect(parseOk(Serializer.serialize(m))).toEqual(m)
      }),
      runs(500),
    )
  })

  it("§7 serialize is a fixed point after parse", () => {
    fc.assert(
      fc.property(Arbitrary.message, (m) => {
        const bytes = Serializer.serialize(m)
        expect(Serializer.serialize(parseOk(bytes))).toEqual(bytes)
      }),
      runs(300),
    )
  })

  it("§7.3.1 list headers on one line (comma-separated) parse as the separate fields", () => {
    fc.assert(
      fc.property(Arbitrary.request, (m) => {
        // fold every run of consecutive same-name list fields into one comma-separated line
        const lines: Array<{ name: string; values: Array<string> }> = []
        for (const h of m.headers) {
          const last = lines[lines.length - 1]
          const def = Headers.lookup(h.name)?.def
          if (last !== undefined && last.name === h.name && def?.list === true) last.values.push(h.value)
          else lines.push({ name: h.name, values: [h.value] })
        }
        const head = lines.map((l) => `${l.name}: ${l.values.join(", ")}\r\n`).join("")
        const start = Serializer.head(m).split("\r\n")[0]!
        const bytes = concat([encoder.encode(`${start}\r\n${head}\r\n`), m.body])
        expect(parseOk(bytes)).toEqual(m)
      }),
      runs(200),
    )
  })

  const typed = <A>(name: string, def: Headers.HeaderDef<A>, arb: fc.Arbitrary<A>) =>
    it(`§20 ${name}: parse(format(v)) equals v`, () => {
      fc.assert(
        fc.property(arb, (v) => {
          expect(def.parse(def.format(v))).toEqual(v)
        }),
        runs(300),
      )
    })
  typed("Via (§20.42)", Headers.Via, Arbitrary.via)
  typed("From (§20.20)", Headers.From, Arbitrary.from)
  typed("To (§20.39)", Headers.To, Arbitrary.to())
  typed("Contact (§20.10)", Headers.Contact, Arbitrary.contact)
  typed("Record-Route (§20.30)", Headers.RecordRoute, Arbitrary.route)
  typed("CSeq (§20.16)", Headers.CSeq, Arbitrary.cseq())
  typed("Call-ID (§20.8)", Headers.CallId, Arbitrary.callId)
  typed("Content-Type (§20.15)", Headers.ContentType, Arbitrary.mediaType)
  typed("Authorization (§20.7)", Headers.Authorization, Arbitrary.authorization)

  it("§19.1 Uri.parse(Uri.format(u)) equals u", () => {
    fc.assert(
      fc.property(Arbitrary.uri, (u) => {
        expect(Uri.parse(Uri.format(u))).toEqual(u)
      }),
      runs(500),
    )
  })
})

describe("the parser is total", () => {
  it("§7 never throws on arbitrary octets", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        assertTotal(bytes)
      }),
      runs(1000),
    )
  })

  // SIP-looking noise reaches deeper than random octets
  const sipish = fc
    .array(
      fc.constantFrom(
        "INVITE ",
        "SIP/2.0",
        " 200 OK",
        "sip:",
        "@",
        ":",
        ";",
        ",",
        "<",
        ">",
        '"',
        "\\",
        "=",
        "\r\n",
        "\r\n\r\n",
        " ",
        "\t",
        "Via: ",
        "SIP/2.0/UDP ",
        "branch=z9hG4bK",
        "Content-Length: ",
        "l: ",
        "CSeq: ",
        "1",
        "99999999999",
        "[::1]",
        "example.com",
        "%",
        "\u0000",
        "é",
      ),
      { maxLength: 80 },
    )
    .map((parts) => encoder.encode(parts.join("")))

  it("§7 never throws on SIP-looking noise", () => {
    fc.assert(
      fc.property(sipish, (bytes) => {
        assertTotal(bytes)
      }),
      runs(1000),
    )
  })

  type Mutation =
    | { readonly kind: "flip"; readonly at: number; readonly byte: number }
    | { readonly kind: "insert"; readonly at: number; readonly bytes: Uint8Array }
    | { readonly kind: "delete"; readonly at: number; readonly length: number }
    | { readonly kind: "duplicateLine"; readonly line: number }

  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
    fc.record({
      kind: fc.constant("insert" as const),
      at: fc.nat(),
      bytes: fc.oneof(
        fc.uint8Array({ minLength: 1, maxLength: 8 }),
        fc.constantFrom(":", ",", ";", "\r\n", " ", '"', "<", ">", "\r\n ").map((s) => encoder.encode(s)),
      ),
    }),
    fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 16 }) }),
    fc.record({ kind: fc.constant("duplicateLine" as const), line: fc.nat() }),
  )

  const mutate = (bytes: Uint8Array, m: Mutation): Uint8Array => {
    const at = bytes.length === 0 ? 0 : ("at" in m ? m.at : 0) % bytes.length
    switch (m.kind) {
      case "flip": {
        const out = bytes.slice()
        out[at] = m.byte
        return out
      }
      case "insert":
        return concat([bytes.subarray(0, at), m.bytes, bytes.subarray(at)])
      case "delete":
        return concat([bytes.subarray(0, at), bytes.subarray(Math.min(bytes.length, at + m.length))])
      case "duplicateLine": {
        // a header line (not the start line), repeated right after itself
        const text = Buffer.from(bytes).toString("latin1")
        const head = text.slice(0, text.indexOf("\r\n\r\n") + 2).split("\r\n")
        const k = 1 + (m.line % Math.max(1, head.length - 2))
        head.splice(k, 0, head[k]!)
        return concat([Buffer.from(head.join("\r\n"), "latin1"), bytes.subarray(text.indexOf("\r\n\r\n") + 2)])
      }
    }
  }

  it("§7 never throws on mutated valid messages (byte flips, insertion, deletion, duplicated headers)", () => {
    fc.assert(
      fc.property(Arbitrary.message, fc.array(mutation, { minLength: 1, maxLength: 4 }), (m, ms) => {
        const bytes = ms.reduce(mutate, Serializer.serialize(m))
        const r = assertTotal(bytes)
        if (r._tag === "Ok") assertFixedPoint(r.message)
      }),
      runs(1000),
    )
  })

  it("§18.3 a datagram shorter than its message is rejected, never misread", () => {
    fc.assert(
      fc.property(Arbitrary.message, fc.nat(), (m, cut) => {
        const bytes = Serializer.serialize(m)
        const truncated = bytes.subarray(0, cut % bytes.length)
        expect(assertTotal(truncated)._tag).toBe("Err")
      }),
      runs(500),
    )
  })

  it("§20.14 a second Content-Length is rejected: framing would be ambiguous (RFC 4475 §3.3.9)", () => {
    fc.assert(
      fc.property(Arbitrary.message, fc.integer({ min: 0, max: 9 }), (m, delta) => {
        const text = Serializer.head(m).replace("\r\n\r\n", `\r\nContent-Length: ${m.body.length + delta}\r\n\r\n`)
        const bytes = concat([encoder.encode(text), m.body, new Uint8Array(delta)])
        expect(assertTotal(bytes)._tag).toBe("Err")
      }),
      runs(200),
    )
  })
})

describe("stream framing", () => {
  const chunked = (bytes: Uint8Array, cuts: ReadonlyArray<number>): Array<Uint8Array> => {
    const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
    const out: Array<Uint8Array> = []
    let from = 0
    for (const p of [...points, bytes.length]) {
      if (p > from) out.push(bytes.slice(from, p))
      from = p
    }
    return out
  }

  it("§18.3 any chunking of a concatenation of messages yields the same messages", () => {
    fc.assert(
      fc.property(
        fc.array(Arbitrary.message, { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (messages, cuts) => {
          const stream = concat(messages.map((m) => Serializer.serialize(m)))
          const framer = Framer.make({ maxMessageSize: 1 << 20 })
          const results = chunked(stream, cuts).flatMap((c) => framer.push(c))
          expect(results.map((r) => (r._tag === "Message" ? r.message : r._tag))).toEqual(messages)
          expect(framer.buffered()).toBe(0)
        },
      ),
      runs(300),
    )
  })

  it("RFC 5626 §3.5.1 CRLF keep-alives between messages are reported, whatever the chunking", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(Arbitrary.message, fc.boolean()), { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (items, cuts) => {
          const ping = encoder.encode("\r\n\r\n")
          const stream = concat(
            items.flatMap(([m, p]) => (p ? [ping, Serializer.serialize(m)] : [Serializer.serialize(m)])),
          )
          const framer = Framer.make({ maxMessageSize: 1 << 20 })
          const results = chunked(stream, cuts).flatMap((c) => framer.push(c))
          const expected = items.flatMap(([m, p]) => (p ? ["ping", m] : [m]))
          expect(
            results.map((r) => (r._tag === "Message" ? r.message : r._tag === "KeepAlive" && r.pong ? "ping" : r._tag)),
          ).toEqual(expected)
        },
      ),
      runs(200),
    )
  })
})

describe("URI comparison (§19.1.4)", () => {
  const sipUri = Arbitrary.sipUri({ headers: true })

  it("§19.1.4 equality is reflexive, and symmetric over any pair", () => {
    fc.assert(
      fc.property(Arbitrary.uri, Arbitrary.uri, (a, b) => {
        expect(Uri.equals(a, a)).toBe(true)
        expect(Uri.equals(Uri.parse(Uri.format(a)), a)).toBe(true)
        expect(Uri.equals(a, b)).toBe(Uri.equals(b, a))
      }),
      runs(500),
    )
  })

  const upper = (s: string) => s.toUpperCase()
  const escapeUnreserved = (s: string, pick: number): string => {
    // escape the pick-th alphanumeric character outside an existing escape (§19.1.4: escaped = unescaped)
    const idx: Array<number> = []
    for (let i = 0; i < s.length; i++) {
      if (s[i] === "%") i += 2
      else if (/[A-Za-z0-9]/.test(s[i]!)) idx.push(i)
    }
    if (idx.length === 0) return s
    const i = idx[pick % idx.length]!
    return s.slice(0, i) + "%" + s.charCodeAt(i).toString(16).toUpperCase() + s.slice(i + 1)
  }

  it("§19.1.4 scheme and host compare case-insensitively", () => {
    fc.assert(
      fc.property(sipUri, (u) => {
        const text = Uri.format(u)
        const variant = upper(u.scheme) + text.slice(u.scheme.length)
        expect(Uri.equals(Uri.parse(variant), u)).toBe(true)
        const shouted: SipUri = { ...u, host: upper(u.host) }
        expect(Uri.equals(shouted, u)).toBe(true)
        expect(Uri.equals(Uri.parse(Uri.format(shouted)), u)).toBe(true)
      }),
      runs(500),
    )
  })

  it("§19.1.4 escaped and unescaped unreserved characters are equal in user and password", () => {
    fc.assert(
      fc.property(sipUri, fc.nat(), (u, pick) => {
        if (u.user === undefined) return
        const escaped: SipUri = {
          ...u,
          user: escapeUnreserved(u.user, pick),
          password: u.password === undefined ? undefined : escapeUnreserved(u.password, pick),
        }
        expect(Uri.equals(Uri.parse(Uri.format(escaped)), u)).toBe(true)
      }),
      runs(500),
    )
  })

  it("§19.1.4 the user part is case-sensitive", () => {
    fc.assert(
      fc.property(sipUri, (u) => {
        if (u.user === undefined || u.user.toLowerCase() === u.user.toUpperCase()) return
        // the hex digits of an escape are not case-sensitive, so change only the letters outside escapes
        const flipped = u.user.replace(/%[0-9A-Fa-f]{2}|[a-zA-Z]/g, (c) =>
          c.length === 1 ? (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()) : c,
        )
        if (Uri.decodeEscapes(flipped) === Uri.decodeEscapes(u.user)) return
        expect(Uri.equals({ ...u, user: flipped }, u)).toBe(false)
      }),
      runs(300),
    )
  })

  it("§19.1.4 URI parameters compare independently of their order", () => {
    fc.assert(
      fc.property(sipUri, fc.nat(), (u, rot) => {
        const n = u.params.length
        const k = n === 0 ? 0 : rot % n
        const rotated: SipUri = { ...u, params: [...u.params.slice(k), ...u.params.slice(0, k)] }
        expect(Uri.equals(Uri.parse(Uri.format(rotated)), u)).toBe(true)
        const reordered: SipUri = { ...u, headers: [...u.headers].reverse() }
        expect(Uri.equals(reordered, u)).toBe(true)
      }),
      runs(500),
    )
  })

  it("§19.1.4 an explicit port differs from none, and a different transport param differs", () => {
    fc.assert(
      fc.property(sipUri, (u) => {
        const withPort: SipUri = { ...u, port: u.port === undefined ? 5060 : undefined }
        expect(Uri.equals(withPort, u)).toBe(false)
        const t = Uri.param(u, "transport")
        const other = t === "tcp" ? "udp" : "tcp"
        const retransported: SipUri = {
          ...u,
          params: [...u.params.filter(([p]) => p.toLowerCase() !== "transport"), ["transport", other]],
        }
        expect(Uri.equals(retransported, u)).toBe(false)
      }),
      runs(300),
    )
  })
})
