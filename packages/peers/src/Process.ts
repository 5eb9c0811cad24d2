/** Child processes bounded in time: every peer runs under a kill timer and dies with its Scope. */
import { type ChildProcess, spawn } from "node:child_process"
import { Effect, type Scope } from "effect"

export interface Exit {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
  /** stdout and stderr interleaved as they arrived */
  readonly output: string
}

export interface Options {
  /** stdin as an open pipe (baresip quits at once on a closed stdin) */
  readonly stdinPipe?: boolean | undefined
  readonly cwd?: string | undefined
  /** added to this process's environment */
  readonly env?: Readonly<Record<string, string>> | undefined
}

export interface Bounded {
  readonly child: ChildProcess
  readonly output: () => string
  readonly exit: Promise<Exit>
}

/** Spawns `file` and SIGKILLs it after `timeoutMs`; `exit` settles when it is gone. */
export const start = (file: string, args: ReadonlyArray<string>, timeoutMs: number, options: Options = {}): Bounded => {
  const child = spawn(file, [...args], {
    stdio: [options.stdinPipe === true ? "pipe" : "ignore", "pipe", "pipe"],
    cwd: options.cwd,
    env: options.env === undefined ? undefined : { ...process.env, ...options.env },
  })
  let stdout = ""
  let stderr = ""
  let output = ""
  child.stdout?.on("data", (d: Buffer) => {
    stdout += d.toString()
    output += d.toString()
  })
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString()
    output += d.toString()
  })
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
  const exit = new Promise<Exit>((resolve) => {
    const done = (code: number | null) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr, output })
    }
    child.once("exit", done)
    // a missing binary: no exit event follows
    child.once("error", (e) => {
      output += String(e)
      if (child.exitCode === null && child.pid === undefined) done(null)
    })
  })
  return { child, output: () => output, exit }
}

/** Runs a command to completion within `timeoutMs`. */
export const run = (
  file: string,
  args: ReadonlyArray<string>,
  timeoutMs = 60_000,
  options: Options = {},
): Promise<Exit> => start(file, args, timeoutMs, options).exit

/** SIGTERM, then SIGKILL after `graceMs`; answers the exit code. */
export const stop = async (bounded: Bounded, graceMs = 5_000): Promise<number | null> => {
  const { child } = bounded
  if (child.exitCode === null && child.signalCode === null) {
    const kill = setTimeout(() => child.kill("SIGKILL"), graceMs)
    child.kill("SIGTERM")
    const exit = await bounded.exit
    clearTimeout(kill)
    return exit.code
  }
  return (await bounded.exit).code
}

export interface Scoped {
  readonly child: ChildProcess
  readonly output: () => string
  readonly exit: Effect.Effect<Exit>
}

/** `start` in the current Scope: closing the Scope SIGKILLs the process if it still runs. */
export const spawnBounded = (
  file: string,
  args: ReadonlyArray<string>,
  timeoutMs: number,
  options: Options = {},
): Effect.Effect<Scoped, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const bounded = start(file, args, timeoutMs, options)
      return { child: bounded.child, output: bounded.output, exit: Effect.promise(() => bounded.exit) }
    }),
    ({ child }) =>
      Effect.sync(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
      }),
  )
