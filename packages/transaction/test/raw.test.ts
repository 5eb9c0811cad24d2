import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as Raw from "../src/internal/Raw.ts"

describe("Via reading for matching (§20.42, §17.1.3, §17.2.3)", () => {
  it("§20.42 the fast path and the careful parse agree", () => {
    const token = fc.stringMatching(/^[a-z0-9.-]{1,12}$/)
    fc.assert(
      fc.property(
        fc.constantFrom("UDP", "TCP", "TLS", "WS"),
        token,
        fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined }),
        fc.uniqueArray(
          fc.tuple(fc.constantFrom("branch", "received", "rport", "maddr", "ttl", "x"), fc.option(token)),
          {
            maxLength: 4,
            selector: ([name]) => name,
          },
        ),
        (transport, host, port, params) => {
          const raw = `SIP/2.0/${transport} ${host}${port === undefined ? "" : `:${port}`}${params.map(([n, v]) => `;${n}${v === null ? "" : `=${v}`}`).join("")}`
          const fast = Raw.parseVia(raw)
          const slow = Raw.parseVia(raw.replace("SIP/2.0/", "SIP / 2.0 / "))
          expect(fast).toBeDefined()
          expect({ ...fast, raw: "" }).toEqual({ ...slow, raw: "" })
          expect(Raw.branchOf(raw)).toBe(fast!.branch)
          expect(Raw.sentByOf(raw)).toBe(fast!.sentBy)
        },
      ),
    )
  })

  it("§20.42 IPv6 sent-by, upper-case parameters and bad ports", () => {
    expect(Raw.parseVia("SIP/2.0/UDP [::1]:5070;BRANCH=z9hG4bKx;rport=7")).toMatchObject({
      host: "[::1]",
      port: 5070,
      branch: "z9hG4bKx",
      rport: 7,
    })
    expect(Raw.parseVia("SIP/2.0/UDP host:99999")).toBeUndefined()
    expect(Raw.parseVia("garbage")).toBeUndefined()
    expect(
      Raw.cseq({
        _tag: "SipResponse",
        status: 200,
        reason: "",
        headers: [{ name: "CSeq", value: " 42  INVITE " }],
        body: new Uint8Array(),
      }),
    ).toEqual({ seq: 42, method: "INVITE" })
  })
})
