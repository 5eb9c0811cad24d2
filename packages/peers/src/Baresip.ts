/**
 * baresip (Debian `baresip`) with its own config folder, driven through ctrl_tcp. Its stdin is
 * an open pipe (it quits at once on a closed one), `module_path` is set (otherwise it looks for
 * modules in the working directory), and `-t` plus a kill timer bound its life.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, type Scope } from "effect"
import { freePort } from "./Ports.ts"
import * as Process from "./Process.ts"

export const available = existsSync("/usr/bin/baresip")

export interface Baresip {
  readonly sipPort: number
  readonly ctrlPort: number
  /** a ctrl_tcp command (one of baresip's long commands); answers the raw reply */
  readonly command: (command: string, params?: string) => Effect.Effect<string>
  readonly output: () => string
  /** SIGTERM, then its whole output once it has exited */
  readonly stop: Effect.Effect<string>
}

/** The `config` file: a UA with contacts, presence, MESSAGE and ctrl_tcp, audio from/to nowhere. */
export const config = (sipPort: number, ctrlPort: number): string =>
  [
    `sip_listen 127.0.0.1:${sipPort}`,
    // media (SDP c= and RTP) on loopback too: tests never address this machine's other interfaces
    "net_interface 127.0.0.1",
    "module_path /usr/lib/baresip/modules",
    "module stdio.so",
    "module g711.so",
    "module aufile.so",
    "module ausine.so",
    "module_app account.so",
    "module_app contact.so",
    "module_app menu.so",
    "module_app presence.so",
    "module_app ctrl_tcp.so",
    `ctrl_tcp_listen 127.0.0.1:${ctrlPort}`,
    "audio_player aufile,/dev/null",
    "audio_source ausine,440",
    "",
  ].join("\n")

/** One ctrl_tcp command: a netstring carrying `{command, params, token}`; the reply, or what came within 5 s. */
export const command = (ctrlPort: number, cmd: string, params = ""): Promise<string> =>
  new Promise<string>((resolve) => {
    const body = JSON.stringify({ command: cmd, params, token: "t1" })
    const socket = net.connect(ctrlPort, "127.0.0.1", () => socket.write(`${Buffer.byteLength(body)}:${body},`))
    let reply = ""
    const timer = setTimeout(() => socket.destroy(), 5_000)
    socket.on("data", (d: Buffer) => {
      reply += d.toString()
      if (reply.includes('"response":true')) socket.end()
    })
    socket.on("close", () => {
      clearTimeout(timer)
      resolve(reply)
    })
    socket.on("error", () => resolve(reply))
  })

/**
 * baresip on free loopback ports in the current Scope: `account` gives the `accounts` line for
 * its SIP port, `contacts` the `contacts` file. It exits after `seconds` (30 unless given).
 */
export const start = (options: {
  readonly account: (sipPort: number) => string
  readonly contacts?: ReadonlyArray<string>
  readonly seconds?: number
}): Effect.Effect<Baresip, never, Scope.Scope> =>
  Effect.gen(function* () {
    const [sipPort, ctrlPort] = yield* Effect.promise(async () => {
      const sip = await freePort()
      let ctrl = await freePort()
      while (ctrl === sip) ctrl = await freePort()
      return [sip, ctrl] as const
    })
    const dir = mkdtempSync(join(tmpdir(), "sipfx-baresip-"))
    yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
    writeFileSync(join(dir, "config"), config(sipPort, ctrlPort))
    writeFileSync(join(dir, "accounts"), `${options.account(sipPort)}\n`)
    writeFileSync(join(dir, "contacts"), `${(options.contacts ?? []).join("\n")}\n`)
    const seconds = options.seconds ?? 30
    const proc = yield* Process.spawnBounded("baresip", ["-f", dir, "-t", String(seconds)], (seconds + 5) * 1000, {
      stdinPipe: true,
    })
    const stop = Effect.gen(function* () {
      if (proc.child.exitCode === null) proc.child.kill("SIGTERM")
      return (yield* proc.exit).output
    })
    return {
      sipPort,
      ctrlPort,
      command: (cmd, params) => Effect.promise(() => command(ctrlPort, cmd, params)),
      output: proc.output,
      stop,
    }
  })
