/** `sipfx serve` (packages/server) as a child process on random loopback ports. */
import { fileURLToPath } from "node:url"
import { Effect, type Scope } from "effect"
import * as Process from "./Process.ts"

export const main = fileURLToPath(new URL("../../server/src/main.ts", import.meta.url))

export interface Serve {
  readonly udp: number
  readonly tcp: number
  readonly output: () => string
  /** SIGTERM (SIGKILL 5 s later); answers the exit code, null when it had to be killed */
  readonly stop: () => Promise<number | null>
}

export interface Options {
  /** added to the environment */
  readonly env?: Readonly<Record<string, string>>
  /** it must report its ports within this (20 s unless given) */
  readonly startMs?: number
  /** killed after this in any case (10 min unless given) */
  readonly lifetimeMs?: number
}

const ports = (out: string) => {
  const udp = /udp:\/\/127\.0\.0\.1:(\d+)/.exec(out)
  const tcp = /tcp:\/\/127\.0\.0\.1:(\d+)/.exec(out)
  return udp !== null && tcp !== null ? { udp: Number(udp[1]), tcp: Number(tcp[1]) } : undefined
}

/** `sipfx serve --listen udp://127.0.0.1:0,tcp://127.0.0.1:0 ARGS`; resolves with the ports it logs. */
export const start = (args: ReadonlyArray<string> = [], options: Options = {}): Promise<Serve> => {
  const proc = Process.start(
    process.execPath,
    [main, "serve", "--listen", "udp://127.0.0.1:0,tcp://127.0.0.1:0", ...args],
    options.lifetimeMs ?? 600_000,
    { env: options.env },
  )
  return new Promise<Serve>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.child.kill("SIGKILL")
      reject(new Error(`sipfx serve did not start: ${proc.output()}`))
    }, options.startMs ?? 20_000)
    const onData = () => {
      const found = ports(proc.output())
      if (found === undefined) return
      clearTimeout(timer)
      proc.child.stdout?.off("data", onData)
      proc.child.stderr?.off("data", onData)
      resolve({ ...found, output: proc.output, stop: () => Process.stop(proc) })
    }
    proc.child.stdout?.on("data", onData)
    proc.child.stderr?.on("data", onData)
    void proc.exit.then((exit) => {
      clearTimeout(timer)
      reject(new Error(`sipfx serve exited with ${exit.code}: ${exit.output}`))
    })
  })
}

/** `start` in the current Scope: stopped when it closes. */
export const scoped = (
  args: ReadonlyArray<string> = [],
  options: Options = {},
): Effect.Effect<Serve, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () => start(args, options),
      catch: (e) => (e instanceof Error ? e : new Error(String(e))),
    }),
    (serve) => Effect.promise(() => serve.stop()),
  )
