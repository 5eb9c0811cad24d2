/**
 * `sipfx serve` as registrar + stateful proxy (RFC 3261 §16): SIPp UASes register through it
 * and a SIPp uac calls them through it; requests for other domains, or towards an address that
 * is neither a registered contact nor a peer, are refused and nothing is sent.
 */
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Ports, RawRequest, ServeProcess, Sipp, Udp } from "@sipfx/peers"

const scenario = (name: string) => fileURLToPath(new URL(`../../proxy/test/fixtures/${name}`, import.meta.url))

const register = async (server: ServeProcess.Serve, user: string, port: number) => {
  // the AOR the uac calls: sip:user@127.0.0.1:<server port> (§10.3 step 5: To names it)
  const answer = await Udp.request(server.udp, (p) =>
    RawRequest.request(
      "REGISTER",
      "sip:127.0.0.1",
      p,
      [`Contact: <sip:${user}@127.0.0.1:${port}>`, "Expires: 300"],
      user,
      server.udp,
    ),
  )
  expect(answer).toMatch(/^SIP\/2\.0 200 /)
}

describe.skipIf(!Sipp.available)("sipfx serve: registrar + proxy (RFC 3261 §16)", () => {
  let server: ServeProcess.Serve
  beforeAll(async () => {
    server = await ServeProcess.start()
  }, 30_000)
  afterAll(async () => {
    expect(await server.stop()).not.toBe(null)
  })

  it("§16.5 / §16.6 / §16.12 two SIPp UASes registered through sipfx serve; a SIPp uac calls each through it", async () => {
    const uasPorts = await Ports.freePorts(2)
    const users = ["bob", "carol"]
    for (let i = 0; i < 2; i++) await register(server, users[i]!, uasPorts[i]!)
    const uases = uasPorts.map((port) =>
      Sipp.run({
        scenario: { file: scenario("uas-answer.xml") },
        localPort: port,
        calls: 3,
        timeoutSeconds: 30,
        killAfterMs: 40_000,
        cwd: "/tmp",
      }),
    )
    await new Promise((r) => setTimeout(r, 300))
    const uacs = users.map((user) =>
      Sipp.run({
        scenario: { file: scenario("uac.xml") },
        target: `127.0.0.1:${server.udp}`,
        service: user,
        calls: 3,
        rate: 5,
        timeoutSeconds: 30,
        killAfterMs: 40_000,
        cwd: "/tmp",
      }),
    )
    for (const r of await Promise.all([...uacs, ...uases])) expect(r.code, r.output).toBe(0)
  }, 60_000)

  it("§16.5 a request for a foreign domain is refused (403) and nothing is sent", async () => {
    const foreign = await Udp.request(server.udp, (p) => RawRequest.request("INVITE", "sip:x@example.net", p, [], "x"))
    expect(foreign).toMatch(/^SIP\/2\.0 403 /)
  }, 20_000)

  it("§16.6 an in-dialog request towards an address that is neither registered nor a peer gets 403; nothing arrives there", async () => {
    const victim = await Udp.listener()
    try {
      const answer = await Udp.request(server.udp, (p) =>
        RawRequest.request("BYE", `sip:victim@127.0.0.1:${victim.port}`, p, [
          `Route: <sip:127.0.0.1:${server.udp};lr>`,
        ]).replace(/\r\nTo: <([^>]*)>/, "\r\nTo: <$1>;tag=dialog1"),
      )
      expect(answer).toMatch(/^SIP\/2\.0 403 /)
      await new Promise((r) => setTimeout(r, 300))
      expect(victim.received).toEqual([])
    } finally {
      victim.close()
    }
  }, 20_000)
})
