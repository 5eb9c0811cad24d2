import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { RawRequest, RedisServer, ServeProcess, Udp } from "@sipfx/peers"

describe("two sipfx serve instances sharing one Redis location service", () => {
  let redis: RedisServer.RedisServer
  let a: ServeProcess.Serve
  let b: ServeProcess.Serve
  beforeAll(async () => {
    redis = await RedisServer.start()
    ;[a, b] = await Promise.all([
      // the first is the default registrar + proxy, responsible for the domain 127.0.0.1
      ServeProcess.start(["--location", redis.url, "--domain", "127.0.0.1"]),
      // the second one is a redirect server and takes its location from the environment (SIPFX_LOCATION)
      ServeProcess.start(["--redirect"], { env: { SIPFX_LOCATION: redis.url } }),
    ])
  }, 40_000)
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()])
    await redis?.stop()
  })

  it("§10.3 + §8.3: a REGISTER via one instance is seen by the other's redirect (302 with the contact), its removal by the first's proxy (480)", async () => {
    const reg = await Udp.request(a.udp, (p) =>
      RawRequest.request(
        "REGISTER",
        "sip:127.0.0.1",
        p,
        ["Contact: <sip:frank@127.0.0.1:5997>;q=0.5", "Expires: 300"],
        "frank",
      ),
    )
    expect(reg).toMatch(/^SIP\/2\.0 200 /)
    const invite = await Udp.request(b.udp, (p) => RawRequest.request("INVITE", "sip:frank@127.0.0.1", p, [], "frank"))
    expect(invite).toMatch(/^SIP\/2\.0 302 /)
    expect(invite).toMatch(/\r\nContact: <sip:frank@127\.0\.0\.1:5997>;q=0\.5;expires=(29\d|300)\r\n/)
    // removal through the second instance is seen by the first
    const remove = await Udp.request(b.udp, (p) =>
      RawRequest.request(
        "REGISTER",
        "sip:127.0.0.1",
        p,
        ["Contact: <sip:frank@127.0.0.1:5997>", "Expires: 0"],
        "frank",
      ),
    )
    expect(remove).toMatch(/^SIP\/2\.0 200 /)
    // §16.5: the proxy of frank's domain finds an empty target set
    const gone = await Udp.request(a.udp, (p) => RawRequest.request("INVITE", "sip:frank@127.0.0.1", p, [], "frank"))
    expect(gone).toMatch(/^SIP\/2\.0 480 /)
  }, 30_000)
})
