import { type AddressInfo, connect, createServer } from "node:net"
import { describe, expect, it } from "vitest"
import { Framer, Message, type SipRequest } from "../src/index.ts"

const msg = (n: number, body = "") =>
  Buffer.from(
    [
      `MESSAGE sip:bob@example.com SIP/2.0`,
      `Via: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK-${n}`,
      "From: <sip:alice@example.com>;tag=a",
      "To: <sip:bob@example.com>",
      `Call-ID: framer-${n}@example.com`,
      `CSeq: ${n} MESSAGE`,
      "Max-Forwards: 70",
      `Content-Length: ${Buffer.byteLength(body)}`,
      "",
      body,
    ].join("\r\n"),
  )

const seqs = (results: ReadonlyArray<Framer.FrameResult>) =>
  results.flatMap((r) => (r._tag === "Message" ? [Message.cseq(r.message)!.seq] : []))

describe("Framer: stream framing (RFC 3261 §18.3)", () => {
  it("§18.3 splits back-to-back messages and reassembles any chunking", () => {
    const stream = Buffer.concat([msg(1, "hello"), msg(2), msg(3, "x".repeat(300))])
    for (const size of [1, 2, 3, 7, 64, 1000, stream.length]) {
      const framer = Framer.make()
      const out: Array<Framer.FrameResult> = []
      for (let i = 0; i < stream.length; i += size) out.push(...framer.push(stream.subarray(i, i + size)))
      expect(seqs(out), `chunk size ${size}`).toEqual([1, 2, 3])
      const first = out[0]
      expect(first?._tag === "Message" && new TextDecoder().decode(first.message.body)).toBe("hello")
      expect(framer.buffered()).toBe(0)
    }
  })

  it("§18.3 emitted messages stay intact when later chunks arrive", () => {
    const framer = Framer.make()
    const a = msg(1, "first-body")
    const b = msg(2, "second-body")
    const joined = Buffer.concat([a, b])
    const cut = a.length + 10
    const out = [...framer.push(joined.subarray(0, cut)), ...framer.push(joined.subarray(cut))]
    expect(out.map((r) => (r._tag === "Message" ? new TextDecoder().decode(r.message.body) : r._tag))).toEqual([
      "first-body",
      "second-body",
    ])
  })

  it("RFC 5626 §3.5.1 CRLFCRLF ping is answered with a CRLF pong; a lone CRLF is a pong", () => {
    const framer = Framer.make()
    const out = framer.push(Buffer.concat([Buffer.from("\r\n\r\n"), msg(1), Buffer.from("\r\n"), msg(2)]))
    expect(out.map((r) => r._tag)).toEqual(["KeepAlive", "Message", "KeepAlive", "Message"])
    const [ping, , pong] = out
    expect(ping?._tag === "KeepAlive" && Array.from(ping.pong ?? [])).toEqual([13, 10])
    expect(pong?._tag === "KeepAlive" && pong.pong).toBeUndefined()
  })

  it("RFC 5626 §3.5.1 a ping split across chunks is still one ping", () => {
    const framer = Framer.make()
    expect(framer.push(Buffer.from("\r\n"))).toEqual([])
    expect(framer.push(Buffer.from("\r\n")).map((r) => r._tag)).toEqual(["KeepAlive"])
  })

  it("§18.3 a missing Content-Length on a stream is a framing error; the framer stays failed", () => {
    const framer = Framer.make()
    const noLength = Buffer.from("OPTIONS sip:a@example.com SIP/2.0\r\nCall-ID: x\r\n\r\n")
    const out = framer.push(noLength)
    expect(out).toMatchObject([{ _tag: "Error", error: { _tag: "FrameError", reason: "MissingContentLength" } }])
    expect(framer.push(msg(1))[0]?._tag).toBe("Error")
  })

  it("§18.3 conflicting or negative Content-Length values are framing errors", () => {
    const bad = (cl: string) => Framer.make().push(Buffer.from(`OPTIONS sip:a@example.com SIP/2.0\r\n${cl}\r\n\r\n`))[0]
    expect(bad("Content-Length: -1")).toMatchObject({ error: { reason: "BadContentLength" } })
    expect(bad("Content-Length: 1\r\nl: 2")).toMatchObject({ error: { reason: "BadContentLength" } })
  })

  it("max header bytes and max message size are enforced before buffering more", () => {
    const small = Framer.make({ maxHeaderBytes: 256 })
    const noEnd = Buffer.from(`OPTIONS sip:a@example.com SIP/2.0\r\nX-Pad: ${"p".repeat(400)}`)
    expect(small.push(noEnd)).toMatchObject([{ _tag: "Error", error: { reason: "HeaderTooLarge" } }])
    const capped = Framer.make({ maxMessageSize: 1000 })
    expect(capped.push(msg(1, "b".repeat(2000)).subarray(0, 400))).toMatchObject([
      { _tag: "Error", error: { reason: "MessageTooLarge" } },
    ])
  })

  it("a well-framed but invalid message is reported as Invalid and the stream goes on", () => {
    const framer = Framer.make()
    const invalid = Buffer.from(
      "OPTIONS sip:a@example.com SIP/2.0\r\nCSeq: 99999999999 OPTIONS\r\nContent-Length: 0\r\n\r\n",
    )
    const out = framer.push(Buffer.concat([invalid, msg(2)]))
    expect(out.map((r) => r._tag)).toEqual(["Invalid", "Message"])
    expect(out[0]?._tag === "Invalid" && out[0].error.status).toBe(400)
  })

  it("§18.3 frames messages received over a real TCP connection on 127.0.0.1", async () => {
    const total = 200
    const received: Array<number> = []
    const server = createServer((socket) => {
      const framer = Framer.make()
      socket.on("data", (chunk) => {
        for (const r of framer.push(chunk)) if (r._tag === "Message") received.push(Message.cseq(r.message)!.seq)
        if (received.length === total) socket.end()
      })
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const { port } = server.address() as AddressInfo
    try {
      await new Promise<void>((resolve, reject) => {
        const client = connect(port, "127.0.0.1", () => {
          // odd write sizes so that messages straddle TCP segments
          const all = Buffer.concat(Array.from({ length: total }, (_, i) => msg(i + 1, i % 3 === 0 ? "body-" + i : "")))
          for (let i = 0; i < all.length; i += 97) client.write(all.subarray(i, i + 97))
        })
        client.on("close", () => resolve())
        client.on("error", reject)
        setTimeout(() => reject(new Error("timeout")), 5000).unref()
      })
    } finally {
      server.close()
    }
    expect(received).toEqual(Array.from({ length: total }, (_, i) => i + 1))
  })

  it("§18.3 framed requests keep their typed values", () => {
    const [r] = Framer.make().push(msg(7, "abc"))
    const m = r?._tag === "Message" ? (r.message as SipRequest) : undefined
    expect(m?.method).toBe("MESSAGE")
    expect(Message.branch(m!)).toBe("z9hG4bK-7")
  })
})
