import { spawn } from "node:child_process"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { createConnection, createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { request, type Server, startServe, udpExchange } from "./process.ts"

const freeTcpPort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })

/** netstring-framed JSON command to baresip's ctrl_tcp; answers the raw reply text */
const ctrl = (port: number, command: string) =>
  new Promise<string>((resolve, reject) => {
    const socket = createConnection(port, "127.0.0.1")
    const body = JSON.stringify({ command, params: "", token: "t1" })
    let out = ""
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`ctrl_tcp: no answer (${out})`))
    }, 5_000)
    socket.on("data", (d: Buffer) => {
      out += d.toString()
      if (out.includes('"response":true')) {
        clearTimeout(timer)
        socket.end()
        resolve(out)
      }
    })
    socket.on("error", reject)
    socket.write(`${Buffer.byteLength(body)}:${body},`)
  })

describe("baresip registers to sipfx serve", () => {
  let server: Server
  let dir: string
  let stopBaresip: () => void = () => {}
  let ctrlPort = 0
  let sipPort = 0
  beforeAll(async () => {
    server = await startServe()
    dir = await mkdtemp(join(tmpdir(), "sipfx-baresip-"))
    ctrlPort = await freeTcpPort()
    sipPort = await freeTcpPort()
    await writeFile(
      join(dir, "config"),
      [
        `sip_listen 127.0.0.1:${sipPort}`,
        // without it baresip looks for its modules in the working directory
        "module_path /usr/lib/baresip/modules",
        "module stdio.so",
        "module account.so",
        "module menu.so",
        "module g711.so",
        "module ctrl_tcp.so",
        `ctrl_tcp_listen 127.0.0.1:${ctrlPort}`,
        "audio_player aufile,/dev/null",
        "audio_source aufile,/dev/null",
        "",
      ].join("\n"),
    )
    await writeFile(
      join(dir, "accounts"),
      `<sip:grace@127.0.0.1:${server.udp};transport=udp>;regint=300;answermode=auto;pubint=0\n`,
    )
    // stdin must be a pipe that stays open (peers.md)
    const child = spawn("baresip", ["-f", dir, "-t", "50"], { stdio: ["pipe", "pipe", "pipe"] })
    child.stdout.on("data", () => {})
    child.stderr.on("data", () => {})
    stopBaresip = () => {
      if (child.exitCode === null) child.kill("SIGTERM")
    }
  }, 30_000)
  afterAll(async () => {
    stopBaresip()
    await server?.stop()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  it("§10.2 baresip's REGISTER gives a binding: our registrar lists it and baresip reports OK", async () => {
    let bindings = ""
    for (let i = 0; i < 40; i++) {
      await new Promise((r) => setTimeout(r, 250))
      // baresip's To (the AOR) carries the registrar's port, and §19.1.4 keeps a port significant
      bindings = await udpExchange(server.udp, (p) =>
        request("REGISTER", "sip:127.0.0.1", p, [], "grace").replace(
          "To: <sip:grace@127.0.0.1>",
          `To: <sip:grace@127.0.0.1:${server.udp}>`,
        ),
      )
      // baresip 1.0 registers `grace-0x…@` (a per-instance user part), older ones `grace@`
      if (/\r\nContact: <sip:grace(-[^@]*)?@127\.0\.0\.1:\d+/.test(bindings)) break
    }
    expect(bindings).toMatch(
      new RegExp(`\\r\\nContact: <sip:grace(-[^@]*)?@127\\.0\\.0\\.1:${sipPort}[^>]*>;expires=(2\\d\\d|300)`),
    )
    const reply = await ctrl(ctrlPort, "reginfo")
    expect(reply).toMatch(/grace@127\.0\.0\.1/)
    expect(reply).toMatch(/OK/)
  }, 30_000)
})
