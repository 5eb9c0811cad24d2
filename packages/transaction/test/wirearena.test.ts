import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { WireArena } from "../src/index.ts"

type Op = { readonly _tag: "Put"; readonly size: number } | { readonly _tag: "Release"; readonly pick: number }

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ _tag: fc.constant("Put" as const), size: fc.integer({ min: 0, max: 24 }) }) },
  { weight: 2, arbitrary: fc.record({ _tag: fc.constant("Release" as const), pick: fc.nat() }) },
)

interface Held {
  readonly chunk: WireArena.Chunk
  readonly at: number
  readonly bytes: Uint8Array
}

describe("WireArena", () => {
  it("§17.2.2 every range still held reads back the octets put there, whatever was released and reused since", () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 200, maxLength: 1500 }), (ops) => {
        // small chunks and a small free list, so that chunks fill, empty and come back often
        const arena = new WireArena.WireArena(256, 2)
        const held: Array<Held> = []
        let n = 0
        const intact = (h: Held) => {
          const read = arena.read(h.chunk, h.at, h.bytes.length)
          return read.every((b, i) => b === h.bytes[i])
        }
        for (const o of ops) {
          if (o._tag === "Put") {
            const bytes = Uint8Array.from({ length: o.size }, () => n++ & 0xff)
            const chunk = arena.put(bytes)
            held.push({ chunk, at: arena.at, bytes })
            // the ranges a write could have hit
            for (const h of held) if (h.chunk === chunk && !intact(h)) return false
          } else if (held.length > 0) {
            const [h] = held.splice(o.pick % held.length, 1)
            arena.release(h!.chunk)
          }
          if (arena.freeChunks > 2) return false
        }
        return held.every(intact)
      }),
    )
  })

  it("a chunk is reused once full and released by every holder; a large message gets one of its own", () => {
    const arena = new WireArena.WireArena(160, 4) // messages over 10 octets get their own chunk
    const ten = (fill: number) => new Uint8Array(10).fill(fill)
    const first = Array.from({ length: 16 }, (_, i) => arena.put(ten(i)))
    expect(new Set(first).size).toBe(1) // 16 × 10 octets: one chunk, full
    const a = first[0]!
    const b = arena.put(ten(16)) // does not fit: a new chunk
    expect(b).not.toBe(a)
    for (const c of first.slice(1)) arena.release(c)
    expect(arena.freeChunks).toBe(0) // one range of `a` still held
    arena.release(a)
    expect(arena.freeChunks).toBe(1)
    arena.release(b) // the chunk being filled: not free while it is
    expect(arena.freeChunks).toBe(1)
    for (let i = 0; i < 15; i++) arena.put(ten(i)) // fills `b`
    expect(arena.put(ten(0))).toBe(a) // the free chunk comes back
    const large = arena.put(new Uint8Array(11))
    expect(large.bytes.length).toBe(11)
    arena.release(large)
    expect(arena.freeChunks).toBe(0) // not kept: not of the arena's chunk size
  })

  it("read gives a copy: a send still queued keeps its octets when the range is rewritten", () => {
    const arena = new WireArena.WireArena()
    const chunk = arena.put(Uint8Array.of(1, 2, 3))
    const sent = arena.read(chunk, arena.at, 3)
    chunk.bytes.fill(9)
    expect([...sent]).toEqual([1, 2, 3])
  })
})
