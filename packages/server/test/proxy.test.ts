/**
 * `sipfx serve` as registrar + stateful proxy (RFC 3261 §16): SIPp UASes register through it
 * and a SIPp uac calls them through it; requests for other domains, or towards an address that
 * is neither a registered contact nor a peer, are refused and nothing is sent.
 */
import * as dgram from "node:dgram"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { request, run, type Server, startServe, udpExchange } from "./process.ts"

const hasSipp = existsSync("/usr/bin/sipp")
const scenario = (name: string) => fileURLToPath(new URL(`../../proxy/test/fixtures/${name}`, import.meta.url))

/** A UDP socket on a random loopback port that records what reaches it. */
const listener = async () => {
  const socket = dgram.createSocket("udp4")
  const received: Array<string> = []
  socket.on("message", (m) => received.push(m.toString("latin1")))
  await new Promise<void>((r) => socket.bind(0, "127.0.0.1", () => r()))
  return { port: socket.address().port, received, close: () => socket.close() }
}

/** A port free right now (SIPp binds it next). */
const freePort = async () => {
  const l = await listener()
  l.close()
  return l.port
}

const register = async (server: Server, user: string, port: number) => {
  // the AOR the uac calls: sip:user@127.0.0.1:<server port> (§10.3 step 5: To names it)
  const answer = await udpExchange(server.udp, (p) =>
    request("REGISTER", "sip:127.0.0.1", p, [`Contact: <sip:${user}@127.0.0.1:${port}>`, "Expires: 300"], user).replace(
      `To: <sip:${user}@127.0.0.1>`,
      `To: <sip:${user}@127.0.0.1:${server.udp}>`,
    ),
  )
  expect(answer).toMatch(/^SIP\/2\.0 200 /)
}

describe.skipIf(!hasSipp)("sipfx serve: registrar + proxy (RFC 3261 §16)", () => {
  let server: Server
  beforeAll(async () => {
    server = await startServe()
  }, 30_000)
  afterAll(async () => {
    expect(await server.stop()).not.toBe(null)
  })

  it("§16.5 / §16.6 / §16.12 two SIPp UASes registered through sipfx serve; a SIPp uac calls each through it", async () => {
    const uasPorts = [await freePort(), await freePort()]
    const users = ["bob", "carol"]
    for (let i = 0; i < 2; i++) await register(server, users[i]!, uasPorts[i]!)
    const uases = uasPorts.map((port) =>
      run(
        "sipp",
        ["-sf", scenario("uas-answer.xml"), "-i", "127.0.0.1", "-p", String(port), "-m", "3", "-nostdin"].concat([
          "-timeout",
          "30s",
        ]),
        40_000,
        "/tmp",
      ),
    )
    await new Promise((r) => setTimeout(r, 300))
    const uacs = users.map((user) =>
      run(
        "sipp",
        [`127.0.0.1:${server.udp}`, "-sf", scenario("uac.xml"), "-s", user, "-i", "127.0.0.1", "-p", "0"].concat([
          "-m",
          "3",
          "-r",
          "5",
          "-nostdin",
          "-timeout",
          "30s",
        ]),
        40_000,
        "/tmp",
      ),
    )
    for (const r of await Promise.all([...uacs, ...uases])) expect(r.code, r.out).toBe(0)
  }, 60_000)

  it("§16.5 a request for a foreign domain is refused (403) and nothing is sent", async () => {
    const foreign = await udpExchange(server.udp, (p) => request("INVITE", "sip:x@example.net", p, [], "x"))
    expect(foreign).toMatch(/^SIP\/2\.0 403 /)
  }, 20_000)

  it("§16.6 an in-dialog request towards an address that is neither registered nor a peer gets 403; nothing arrives there", async () => {
    const victim = await listener()
    try {
      const answer = await udpExchange(server.udp, (p) =>
        request("BYE", `sip:victim@127.0.0.1:${victim.port}`, p, [`Route: <sip:127.0.0.1:${server.udp};lr>`]).replace(
          /\r\nTo: <([^>]*)>/,
          "\r\nTo: <$1>;tag=dialog1",
        ),
      )
      expect(answer).toMatch(/^SIP\/2\.0 403 /)
      await new Promise((r) => setTimeout(r, 300))
      expect(victim.received).toEqual([])
    } finally {
      victim.close()
    }
  }, 20_000)
})
