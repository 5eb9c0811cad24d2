/**
 * Real peers against `sipfx serve`: the server as a child process on random loopback ports,
 * SIPp runs bounded by `-m`/`-timeout`, raw UDP requests, and a baresip driver (config folder,
 * ctrl_tcp commands, its output). Every child process is bounded in time and killed by the Scope.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as dgram from "node:dgram"
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Effect, type Scope } from "effect"

const main = fileURLToPath(new URL("../../server/src/main.ts", import.meta.url))
export const fixtures = fileURLToPath(new URL("./fixtures/", import.meta.url))
export const hasSipp = existsSync("/usr/bin/sipp")
export const hasBaresip = existsSync("/usr/bin/baresip")

interface Child {
  readonly child: ChildProcess
  readonly output: () => string
  readonly exit: Effect.Effect<number | null>
}

/** Spawns a process killed after `timeoutMs` (and when the Scope closes). */
export const spawnBounded = (
  file: string,
  args: ReadonlyArray<string>,
  timeoutMs: number,
  options: { readonly stdinPipe?: boolean; readonly cwd?: string } = {},
): Effect.Effect<Child, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const child = spawn(file, [...args], {
        stdio: [options.stdinPipe === true ? "pipe" : "ignore", "pipe", "pipe"],
        cwd: options.cwd,
      })
      let out = ""
      child.stdout?.on("data", (d: Buffer) => (out += d.toString()))
      child.stderr?.on("data", (d: Buffer) => (out += d.toString()))
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
      const exited = new Promise<number | null>((resolve) =>
        child.once("exit", (code) => {
          clearTimeout(timer)
          resolve(code)
        }),
      )
      return { child, output: () => out, exit: Effect.promise(() => exited) }
    }),
    ({ child }) =>
      Effect.sync(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
      }),
  )

export interface Serve {
  readonly udp: number
  readonly tcp: number
  readonly output: () => string
}

/** `sipfx serve` on udp+tcp 127.0.0.1 port 0; answers the ports it reports. */
export const startServe = (args: ReadonlyArray<string> = []): Effect.Effect<Serve, Error, Scope.Scope> =>
  Effect.gen(function* () {
    const serve = yield* spawnBounded(
      process.execPath,
      [main, "serve", "--listen", "udp://127.0.0.1:0,tcp://127.0.0.1:0", ...args],
      120_000,
    )
    for (let i = 0; i < 200; i++) {
      const out = serve.output()
      const udp = /udp:\/\/127\.0\.0\.1:(\d+)/.exec(out)
      const tcp = /tcp:\/\/127\.0\.0\.1:(\d+)/.exec(out)
      if (udp !== null && tcp !== null) return { udp: Number(udp[1]), tcp: Number(tcp[1]), output: serve.output }
      if (serve.child.exitCode !== null) break
      yield* Effect.sleep("100 millis")
    }
    return yield* Effect.fail(new Error(`sipfx serve did not start: ${serve.output()}`))
  })

/** One SIPp run of a scenario file: one call (`-m 1`), bounded by `-timeout`, no stdin. */
export const sipp = (
  scenario: string,
  target: string,
  options: { readonly service: string; readonly transport?: "u1" | "t1"; readonly timeoutSeconds?: number },
): Effect.Effect<{ readonly code: number | null; readonly output: string }, never, Scope.Scope> =>
  Effect.gen(function* () {
    const seconds = options.timeoutSeconds ?? 20
    const run = yield* spawnBounded(
      "sipp",
      [
        target,
        "-sf",
        join(fixtures, scenario),
        "-s",
        options.service,
        "-i",
        "127.0.0.1",
        "-p",
        "0",
        "-t",
        options.transport ?? "u1",
        "-m",
        "1",
        "-timeout",
        `${seconds}s`,
        "-timeout_error",
        "-nostdin",
        "-trace_err",
        "-error_file",
        join(tmpdir(), `sipfx-sipp-${process.pid}-${scenario}-${Date.now()}.log`),
      ],
      (seconds + 10) * 1000,
    )
    const code = yield* run.exit
    return { code, output: run.output() }
  })

/** A request over UDP from a fresh port: answers the first final response (raw text). */
export const udpRequest = (port: number, build: (localPort: number) => string): Effect.Effect<string> =>
  Effect.promise(async () => {
    const socket = dgram.createSocket("udp4")
    await new Promise<void>((r) => socket.bind(0, "127.0.0.1", () => r()))
    try {
      return await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("no answer")), 5_000)
        socket.on("message", (m) => {
          const text = m.toString("latin1")
          if (/^SIP\/2\.0 1\d\d /.test(text)) return
          clearTimeout(timer)
          resolve(text)
        })
        socket.send(Buffer.from(build(socket.address().port), "latin1"), port, "127.0.0.1")
      })
    } finally {
      socket.close()
    }
  })

let seq = 0
/** REGISTER `user@127.0.0.1:port` with a contact at `localPort` (RFC 3261 §10.2). */
export const register = (port: number, user: string, expires = 300): Effect.Effect<string> =>
  udpRequest(port, (local) => {
    const n = ++seq
    return [
      `REGISTER sip:127.0.0.1:${port} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bK-reg-${process.pid}-${n};rport`,
      "Max-Forwards: 70",
      `To: <sip:${user}@127.0.0.1:${port}>`,
      `From: <sip:${user}@127.0.0.1:${port}>;tag=r${n}`,
      `Call-ID: reg-${process.pid}-${n}@127.0.0.1`,
      `CSeq: ${n} REGISTER`,
      `Contact: <sip:${user}@127.0.0.1:${local}>`,
      `Expires: ${expires}`,
      "Content-Length: 0",
      "",
      "",
    ].join("\r\n")
  })

/** A port free for both UDP and TCP right now (baresip needs fixed ones in its config). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once("error", reject)
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => {
        const u = dgram.createSocket("udp4")
        u.once("error", () => freePort().then(resolve, reject))
        u.bind(port, "127.0.0.1", () => u.close(() => resolve(port)))
      })
    })
  })

export interface Baresip {
  readonly sipPort: number
  /** a ctrl_tcp command (a long command of baresip's menu); answers the raw reply */
  readonly command: (command: string, params?: string) => Effect.Effect<string>
  readonly output: () => string
  readonly stop: Effect.Effect<string>
}

/**
 * baresip with its own config folder: the modules a UA with contacts, presence and MESSAGE
 * needs, ctrl_tcp on a free port, an `accounts` line and a `contacts` file.
 */
export const baresip = (options: {
  readonly account: (sipPort: number) => string
  readonly contacts?: ReadonlyArray<string>
  readonly seconds?: number
}): Effect.Effect<Baresip, never, Scope.Scope> =>
  Effect.gen(function* () {
    const [sipPort, ctrlPort] = yield* Effect.promise(() => Promise.all([freePort(), freePort()]))
    const dir = mkdtempSync(join(tmpdir(), "sipfx-baresip-"))
    yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
    writeFileSync(
      join(dir, "config"),
      [
        `sip_listen 127.0.0.1:${sipPort}`,
        // without module_path baresip looks for modules in the working directory
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
      ].join("\n"),
    )
    writeFileSync(join(dir, "accounts"), `${options.account(sipPort)}\n`)
    writeFileSync(join(dir, "contacts"), `${(options.contacts ?? []).join("\n")}\n`)
    const seconds = options.seconds ?? 30
    // stdin must be an open pipe, or baresip quits at once
    const proc = yield* spawnBounded("baresip", ["-f", dir, "-t", String(seconds)], (seconds + 5) * 1000, {
      stdinPipe: true,
    })
    const command = (cmd: string, params = "") =>
      Effect.promise(
        () =>
          new Promise<string>((resolve) => {
            const body = JSON.stringify({ command: cmd, params, token: "t1" })
            const socket = net.connect(ctrlPort, "127.0.0.1", () => socket.write(`${Buffer.byteLength(body)}:${body},`))
            let reply = ""
            const timer = setTimeout(() => socket.destroy(), 3_000)
            socket.on("data", (d) => {
              reply += String(d)
              if (reply.includes('"response":true')) socket.end()
            })
            socket.on("close", () => {
              clearTimeout(timer)
              resolve(reply)
            })
            socket.on("error", () => resolve(reply))
          }),
      )
    const stop = Effect.gen(function* () {
      if (proc.child.exitCode === null) proc.child.kill("SIGTERM")
      yield* proc.exit
      return proc.output()
    })
    return { sipPort, command, output: proc.output, stop }
  })
