/**
 * Smoke test of `pnpm bench parse`: the corpus goes once through every parser and each one
 * must extract the right fields, so that the benchmark compares parsers doing the same work.
 */
import { describe, expect, it } from "@effect/vitest"
import { compare } from "../src/Measure.ts"
import { corpusMismatches, rejections } from "../src/parse/Bench.ts"
import { corpus } from "../src/parse/Corpus.ts"
import { all, sipfx } from "../src/parse/Parsers.ts"
import { invalid } from "../src/parse/Torture.ts"

describe("parse benchmark corpus", () => {
  it("§8.1.1 / §20 every message carries the fields a transaction layer reads", () => {
    expect(corpus.length).toBe(9)
    for (const s of corpus) {
      expect(s.expect.callId.length, s.name).toBeGreaterThan(0)
      expect(s.expect.branch.startsWith("z9hG4bK"), s.name).toBe(true) // §8.1.1.7 magic cookie
    }
  })

  for (const parser of all) {
    it(`§7 / §18.3 ${parser.name} decodes From/To tags, top Via branch, CSeq, Call-ID, Contact and body of every message`, () => {
      expect(corpusMismatches(parser)).toEqual([])
    })
  }

  it("RFC 4475 §3.1.2 / §3.3 the 21 invalid torture messages are all rejected by sipfx", () => {
    expect(invalid().length).toBe(21)
    const r = rejections(sipfx)
    expect(r.accepted).toEqual([])
    expect(r.threw).toBe(0)
    expect(r.rejected).toBe(21)
  })

  it("§7 a corrupted copy of a corpus message is not decoded as the original", () => {
    // the check above must be able to fail: break the top Via of the INVITE
    const invite = corpus[0]!
    const text = Buffer.from(invite.bytes).toString("latin1").replace("z9hG4bK721e418c4.1", "z9hG4bKother")
    const bad = { ...invite, bytes: Buffer.from(text, "latin1") }
    for (const parser of all) expect(corpusMismatches(parser, [bad]), parser.name).toEqual([invite.name])
  })

  it("measures every contender in interleaved rounds", () => {
    let calls = 0
    const rates = compare(
      [
        {
          batch: 1,
          step: () => {
            calls++
            return 10
          },
        },
        { batch: 1, step: () => 20 },
      ],
      { warmupMs: 5, rounds: 3, roundMs: 10 },
    )
    expect(rates).toHaveLength(2)
    for (const r of rates) {
      expect(r.rounds).toHaveLength(3)
      expect(r.perSecond).toBeGreaterThan(0)
    }
    expect(rates[1]!.bytesPerSecond / rates[1]!.perSecond).toBeCloseTo(20)
    expect(calls).toBeGreaterThan(0)
  })
})
