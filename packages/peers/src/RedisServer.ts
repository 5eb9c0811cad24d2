/** A throw-away redis-server (Debian `redis-server`) on a free loopback port, without persistence. */
import { existsSync } from "node:fs"
import { createServer } from "node:net"
import * as Process from "./Process.ts"

export const available = existsSync("/usr/bin/redis-server")

export interface RedisServer {
  readonly url: string
  /** the server's process id (its CPU time is read from /proc by the benchmarks) */
  readonly pid: number | undefined
  readonly stop: () => Promise<void>
}

const tcpPort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer()
    s.once("error", reject)
    s.listen(0, "127.0.0.1", () => {
      const address = s.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      s.close(() => resolve(port))
    })
  })

const once = (port: number, lifetimeMs: number) => {
  const proc = Process.start(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "notice"],
    lifetimeMs,
  )
  return new Promise<Process.Bounded>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.child.kill("SIGKILL")
      reject(new Error(`redis-server did not start: ${proc.output()}`))
    }, 10_000)
    const onData = () => {
      if (!proc.output().includes("Ready to accept connections")) return
      clearTimeout(timer)
      proc.child.stdout?.off("data", onData)
      resolve(proc)
    }
    proc.child.stdout?.on("data", onData)
    void proc.exit.then((exit) => {
      clearTimeout(timer)
      reject(new Error(`redis-server exited with ${exit.code}: ${exit.output}`))
    })
  })
}

/** Starts one; killed after `lifetimeMs` (10 min unless given) in any case. */
export const start = async (lifetimeMs = 600_000): Promise<RedisServer> => {
  // another process may take the port between probe and bind: try a few
  for (let attempt = 0; ; attempt++) {
    const port = await tcpPort()
    try {
      const proc = await once(port, lifetimeMs)
      return {
        url: `redis://127.0.0.1:${port}`,
        pid: proc.child.pid,
        stop: async () => {
          await Process.stop(proc)
        },
      }
    } catch (e) {
      if (attempt >= 4) throw e
    }
  }
}
