import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Process, RawRequest, ServeProcess, Sipp, Udp } from "@sipfx/peers"

const fixtures = fileURLToPath(new URL("../fixtures/", import.meta.url))

/** A run of a scenario file over the users of users.csv, bounded by -m and -timeout (a timeout fails it). */
const sipp = (target: string, scenario: string, transport: "u1" | "t1", calls: number) =>
  Sipp.run({
    scenario: { file: `${fixtures}${scenario}` },
    target,
    injection: `${fixtures}users.csv`,
    transport,
    calls,
    rate: 200,
    limit: 100,
    timeoutSeconds: 30,
    timeoutError: true,
    killAfterMs: 45_000,
    cwd: "/tmp",
  })

describe("sipfx serve with real peers (127.0.0.1)", () => {
  let server: ServeProcess.Serve
  beforeAll(async () => {
    server = await ServeProcess.start(["--min-expires", "60", "--redirect"])
  }, 30_000)
  afterAll(async () => {
    // SIGTERM: the runtime interrupts the Layer and exits cleanly
    expect(await server.stop()).not.toBe(null)
  })

  it("§10.3 SIPp registers, refreshes and removes 300 users over UDP", async () => {
    const r = await sipp(`127.0.0.1:${server.udp}`, "register.xml", "u1", 300)
    expect(r.code, r.output.slice(-2000)).toBe(0)
  }, 60_000)

  it("§10.3 SIPp registers, refreshes and removes 300 users over TCP", async () => {
    const r = await sipp(`127.0.0.1:${server.tcp}`, "register.xml", "t1", 300)
    expect(r.code, r.output.slice(-2000)).toBe(0)
  }, 60_000)

  it("§10.3 steps 6–7 SIPp: 423 with Min-Expires, Contact: * only alone with Expires: 0", async () => {
    const r = await sipp(`127.0.0.1:${server.udp}`, "rules.xml", "u1", 20)
    expect(r.code, r.output.slice(-2000)).toBe(0)
  }, 60_000)

  it("§10.3 sipsak registers a binding, queries it (no Contact) and removes it with *", async () => {
    const target = ["-s", `sip:dave@127.0.0.1:${server.udp}`, "-H", "127.0.0.1", "-vv"]
    const reg = await Process.run("sipsak", ["-U", "-C", "sip:dave@127.0.0.1:5999", ...target, "-x", "300"], 15_000)
    expect(reg.output).toContain("OK")
    expect(reg.code).toBe(0)
    const query = await Process.run("sipsak", ["-U", "-C", "empty", ...target, "-vv", "-x", "300"], 15_000)
    expect(query.output).toMatch(/Contact: <sip:dave@127\.0\.0\.1:5999>;expires=(29\d|300)/)
    const remove = await Process.run("sipsak", ["-U", "-C", "*", ...target, "-x", "0"], 15_000)
    expect(remove.code).toBe(0)
    const after = await Process.run("sipsak", ["-U", "-C", "empty", ...target, "-vv", "-x", "300"], 15_000)
    expect(after.output).toContain("200 OK")
    expect(after.output).not.toContain("sip:dave@127.0.0.1:5999>")
  }, 60_000)

  it("§11.2 OPTIONS gets 200 with Allow/Accept/Supported; §8.2.1 an unserved method gets 405 with Allow", async () => {
    const options = await Udp.request(server.udp, (p) => RawRequest.request("OPTIONS", "sip:127.0.0.1", p))
    expect(options).toMatch(/^SIP\/2\.0 200 /)
    expect(options).toMatch(/\r\nAllow: [^\r]*REGISTER/)
    expect(options).toMatch(/\r\nAccept: application\/sdp/)
    expect(options).toMatch(/\r\nSupported: path/)
    // PUBLISH is served by the presence role now; INFO outside a dialog is served by no role
    const info = await Udp.request(server.udp, (p) => RawRequest.request("INFO", "sip:probe@127.0.0.1", p))
    expect(info).toMatch(/^SIP\/2\.0 405 /)
    expect(info).toMatch(/\r\nAllow: [^\r]*PUBLISH/)
  }, 30_000)

  it("§8.3 INVITE to a registered user is redirected (302) to its contact; unregistered → 404", async () => {
    const reg = await Udp.request(server.udp, (p) =>
      RawRequest.request(
        "REGISTER",
        "sip:127.0.0.1",
        p,
        ["Contact: <sip:erin@127.0.0.1:5998>", "Expires: 120"],
        "erin",
      ),
    )
    expect(reg).toMatch(/^SIP\/2\.0 200 /)
    const invite = await Udp.request(server.udp, (p) =>
      RawRequest.request("INVITE", "sip:erin@127.0.0.1", p, [], "erin"),
    )
    expect(invite).toMatch(/^SIP\/2\.0 302 /)
    expect(invite).toMatch(/\r\nContact: <sip:erin@127\.0\.0\.1:5998>;expires=1[12]\d/)
    const nobody = await Udp.request(server.udp, (p) =>
      RawRequest.request("INVITE", "sip:nobody@127.0.0.1", p, [], "nobody"),
    )
    expect(nobody).toMatch(/^SIP\/2\.0 404 /)
  }, 30_000)
})
