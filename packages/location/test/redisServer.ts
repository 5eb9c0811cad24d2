/** Starts a throw-away redis-server on a free loopback port (no persistence). */
import { type ChildProcess, spawn } from "node:child_process"
import { createServer } from "node:net"

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer()
    s.once("error", reject)
    s.listen(0, "127.0.0.1", () => {
      const address = s.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      s.close(() => resolve(port))
    })
  })

export interface RedisServer {
  readonly url: string
  readonly stop: () => Promise<void>
}

const once = (port: number) =>
  new Promise<ChildProcess>((resolve, reject) => {
    const child = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "notice"],
      { stdio: ["ignore", "pipe", "pipe"] },
    )
    let out = ""
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`redis-server did not start: ${out}`))
    }, 10_000)
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString()
      if (out.includes("Ready to accept connections")) {
        clearTimeout(timer)
        resolve(child)
      }
    })
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`redis-server exited with ${code}: ${out}`))
    })
    child.once("error", (e) => {
      clearTimeout(timer)
      reject(e)
    })
  })

export const startRedis = async (): Promise<RedisServer> => {
  // another process may take the port between probe and bind: try a few
  for (let attempt = 0; ; attempt++) {
    const port = await freePort()
    try {
      const child = await once(port)
      return {
        url: `redis://127.0.0.1:${port}`,
        stop: () =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null) return resolve()
            child.once("exit", () => resolve())
            child.kill("SIGTERM")
          }),
      }
    } catch (e) {
      if (attempt >= 4) throw e
    }
  }
}
