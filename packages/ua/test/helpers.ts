/** Test plumbing: a UA on real loopback sockets, free ports, and child processes bounded in time. */
import { type ChildProcess, spawn } from "node:child_process"
import * as dgram from "node:dgram"
import * as net from "node:net"
import { TransactionLayer } from "@sipfx/transaction"
import { NodeTransport, Resolver, Transport } from "@sipfx/transport"
import { Effect, Layer, type Scope } from "effect"
import { UserAgent } from "../src/index.ts"

/** A port free for both UDP and TCP right now. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const attempt = (left: number) => {
      const s = dgram.createSocket("udp4")
      s.once("error", reject)
      s.bind(0, "127.0.0.1", () => {
        const port = s.address().port
        s.close(() => {
          const server = net.createServer()
          server.once("error", () => (left > 0 ? attempt(left - 1) : reject(new Error("no free port"))))
          server.listen(port, "127.0.0.1", () => server.close(() => resolve(port)))
        })
      })
    }
    attempt(20)
  })

/** A UA on udp+tcp 127.0.0.1:port, built in the current Scope. Test domains resolve to loopback. */
export const realUa = (
  config: UserAgent.Config,
  port: number,
  dns: Record<string, ReadonlyArray<string>> = {},
): Effect.Effect<UserAgent.UserAgent["Service"], unknown, Scope.Scope> =>
  Effect.gen(function* () {
    const transport = yield* NodeTransport.make({ listen: [`udp://127.0.0.1:${port}`, `tcp://127.0.0.1:${port}`] })
    const tl = yield* TransactionLayer.make().pipe(Effect.provideService(Transport, transport))
    const layer = Layer.mergeAll(
      Layer.succeed(Transport, transport),
      Layer.succeed(TransactionLayer.TransactionLayer, tl),
      Resolver.memory(dns),
    )
    return yield* UserAgent.make(config).pipe(Effect.provide(layer))
  })

export interface Exit {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Spawns a process killed after `timeoutMs`; the Scope kills it too. Returns its exit as an Effect. */
export const spawnBounded = (file: string, args: ReadonlyArray<string>, timeoutMs: number, stdinPipe = false) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const child: ChildProcess = spawn(file, [...args], { stdio: [stdinPipe ? "pipe" : "ignore", "pipe", "pipe"] })
      let stdout = ""
      let stderr = ""
      child.stdout?.on("data", (d) => (stdout += String(d)))
      child.stderr?.on("data", (d) => (stderr += String(d)))
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
      const exit = new Promise<Exit>((resolve) =>
        child.on("exit", (code) => {
          clearTimeout(timer)
          resolve({ code, stdout, stderr })
        }),
      )
      return { child, exit: Effect.promise(() => exit) }
    }),
    ({ child }) =>
      Effect.sync(() => {
        if (child.exitCode === null) child.kill("SIGKILL")
      }),
  )
