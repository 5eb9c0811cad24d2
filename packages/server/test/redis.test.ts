import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { request, type Server, startRedis, startServe, udpExchange } from "./process.ts"

describe("two sipfx serve instances sharing one Redis location service", () => {
  let redis: Awaited<ReturnType<typeof startRedis>>
  let a: Server
  let b: Server
  beforeAll(async () => {
    redis = await startRedis()
    ;[a, b] = await Promise.all([
      startServe(["--location", redis.url]),
      // the second one takes its location from the environment (SIPFX_LOCATION)
      startServe([], { SIPFX_LOCATION: redis.url }),
    ])
  }, 40_000)
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()])
    await redis?.stop()
  })

  it("§10.3 + §8.3: a REGISTER via one instance is seen by the other's redirect (302 with the contact)", async () => {
    const reg = await udpExchange(a.udp, (p) =>
      request("REGISTER", "sip:127.0.0.1", p, ["Contact: <sip:frank@127.0.0.1:5997>;q=0.5", "Expires: 300"], "frank"),
    )
    expect(reg).toMatch(/^SIP\/2\.0 200 /)
    const invite = await udpExchange(b.udp, (p) => request("INVITE", "sip:frank@127.0.0.1", p, [], "frank"))
    expect(invite).toMatch(/^SIP\/2\.0 302 /)
    expect(invite).toMatch(/\r\nContact: <sip:frank@127\.0\.0\.1:5997>;q=0\.5;expires=(29\d|300)\r\n/)
    // removal through the second instance is seen by the first
    const remove = await udpExchange(b.udp, (p) =>
      request("REGISTER", "sip:127.0.0.1", p, ["Contact: <sip:frank@127.0.0.1:5997>", "Expires: 0"], "frank"),
    )
    expect(remove).toMatch(/^SIP\/2\.0 200 /)
    const gone = await udpExchange(a.udp, (p) => request("INVITE", "sip:frank@127.0.0.1", p, [], "frank"))
    expect(gone).toMatch(/^SIP\/2\.0 404 /)
  }, 30_000)
})
