/** Starts `sipfx serve` as a child process on random loopback ports and reads the ports it logs. */
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

export const main = fileURLToPath(new URL("../src/main.ts", import.meta.url))
export const fixtures = fileURLToPath(new URL("../fixtures/", import.meta.url))

export interface Server {
  readonly udp: number
  readonly tcp: number
  readonly output: () => string
  readonly stop: () => Promise<number | null>
}

export const startServe = (args: ReadonlyArray<string> = [], env: Record<string, string> = {}): Promise<Server> =>
  new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(
      process.execPath,
      [main, "serve", "--listen", "udp://127.0.0.1:0,tcp://127.0.0.1:0", ...args],
      { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } },
    )
    let out = ""
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`sipfx serve did not start: ${out}`))
    }, 20_000)
    const onData = (d: Buffer) => {
      out += d.toString()
      const udp = /udp:\/\/127\.0\.0\.1:(\d+)/.exec(out)
      const tcp = /tcp:\/\/127\.0\.0\.1:(\d+)/.exec(out)
      if (udp && tcp) {
        clearTimeout(timer)
        resolve({
          udp: Number(udp[1]),
          tcp: Number(tcp[1]),
          output: () => out,
          stop: () =>
            new Promise((done) => {
              if (child.exitCode !== null) return done(child.exitCode)
              const kill = setTimeout(() => child.kill("SIGKILL"), 5_000)
              child.once("exit", (code) => {
                clearTimeout(kill)
                done(code)
              })
              child.kill("SIGTERM")
            }),
        })
      }
    }
    child.stdout?.on("data", onData)
    child.stderr?.on("data", onData)
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`sipfx serve exited with ${code}: ${out}`))
    })
  })

/** Runs a command to completion with a time bound; answers its exit code and output. */
export const run = (cmd: string, args: ReadonlyArray<string>, timeoutMs = 60_000, cwd?: string) =>
  new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], cwd })
    let out = ""
    child.stdout.on("data", (d: Buffer) => (out += d.toString()))
    child.stderr.on("data", (d: Buffer) => (out += d.toString()))
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
    child.once("exit", (code) => {
      clearTimeout(timer)
      resolve({ code, out })
    })
  })

/** One UDP request/response exchange (raw text), for checks outside the peers. */
export const udpExchange = async (port: number, build: (localPort: number) => string): Promise<string> => {
  const dgram = await import("node:dgram")
  const socket = dgram.createSocket("udp4")
  await new Promise<void>((r) => socket.bind(0, "127.0.0.1", () => r()))
  const local = socket.address().port
  try {
    return await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no answer")), 5_000)
      socket.on("message", (m) => {
        const text = m.toString("latin1")
        if (/^SIP\/2\.0 1\d\d /.test(text)) return
        clearTimeout(timer)
        resolve(text)
      })
      socket.send(Buffer.from(build(local), "latin1"), port, "127.0.0.1")
    })
  } finally {
    socket.close()
  }
}

let n = 0
export const request = (
  method: string,
  target: string,
  localPort: number,
  extra: ReadonlyArray<string> = [],
  user = "probe",
) =>
  [
    `${method} ${target} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${localPort};branch=z9hG4bK-probe-${process.pid}-${++n};rport`,
    "Max-Forwards: 70",
    `To: <sip:${user}@127.0.0.1>`,
    `From: <sip:probe@127.0.0.1>;tag=p${n}`,
    `Call-ID: probe-${process.pid}-${n}@127.0.0.1`,
    `CSeq: ${n} ${method}`,
    ...extra,
    "Content-Length: 0",
    "",
    "",
  ].join("\r\n")

/** A throw-away redis-server on a free loopback port, without persistence. */
export const startRedis = async (): Promise<{ url: string; stop: () => Promise<void> }> => {
  const net = await import("node:net")
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const a = s.address() as { port: number }
      s.close(() => resolve(a.port))
    })
  })
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  )
  await new Promise<void>((resolve, reject) => {
    let out = ""
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000)
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString()
      if (out.includes("Ready to accept connections")) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.once("exit", (code) => reject(new Error(`redis-server exited ${code}: ${out}`)))
  })
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once("exit", () => resolve())
        child.kill("SIGTERM")
      }),
  }
}
