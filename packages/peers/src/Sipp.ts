/**
 * SIPp (Debian `sip-tester`) runs that always end: every run has `-m` (calls), `-timeout`
 * (global, seconds) and `-nostdin`, and a kill timer behind them.
 */
import { existsSync } from "node:fs"
import type { Effect, Scope } from "effect"
import * as Process from "./Process.ts"

export const available = existsSync("/usr/bin/sipp")

export interface Options {
  /** a built-in scenario (`-sn`) or a scenario file (`-sf`) */
  readonly scenario: { readonly builtin: "uac" | "uas" } | { readonly file: string }
  /** `host:port` to send to (uac side) */
  readonly target?: string
  /** `-p`, 0 (any) unless given */
  readonly localPort?: number
  readonly transport?: "u1" | "t1"
  /** `-m`: SIPp exits after this many calls */
  readonly calls: number
  /** `-timeout`: SIPp gives up after this many seconds */
  readonly timeoutSeconds: number
  /** `-timeout_error`: a global timeout is a failure (exit code ≠ 0) */
  readonly timeoutError?: boolean
  /** `-s` */
  readonly service?: string
  /** `-r` calls per second */
  readonly rate?: number
  /** `-l` simultaneous calls */
  readonly limit?: number
  /** `-inf` */
  readonly injection?: string
  /** `-trace_err -error_file FILE` */
  readonly errorFile?: string
  readonly extra?: ReadonlyArray<string>
  /** the kill timer; `timeoutSeconds` + 10 s unless given */
  readonly killAfterMs?: number
  /** SIPp writes its logs in the working directory */
  readonly cwd?: string
}

/** The command line for `options`. */
export const args = (options: Options): Array<string> => {
  const a: Array<string> = []
  if (options.target !== undefined) a.push(options.target)
  if ("builtin" in options.scenario) a.push("-sn", options.scenario.builtin)
  else a.push("-sf", options.scenario.file)
  if (options.injection !== undefined) a.push("-inf", options.injection)
  if (options.service !== undefined) a.push("-s", options.service)
  a.push("-i", "127.0.0.1", "-p", String(options.localPort ?? 0))
  if (options.transport !== undefined) a.push("-t", options.transport)
  a.push("-m", String(options.calls))
  if (options.rate !== undefined) a.push("-r", String(options.rate))
  if (options.limit !== undefined) a.push("-l", String(options.limit))
  a.push("-timeout", `${options.timeoutSeconds}s`)
  if (options.timeoutError === true) a.push("-timeout_error")
  a.push("-nostdin")
  if (options.errorFile !== undefined) a.push("-trace_err", "-error_file", options.errorFile)
  if (options.extra !== undefined) a.push(...options.extra)
  return a
}

const killAfter = (options: Options) => options.killAfterMs ?? (options.timeoutSeconds + 10) * 1000

/** Runs SIPp to its end. */
export const run = (options: Options): Promise<Process.Exit> =>
  Process.run("sipp", args(options), killAfter(options), { cwd: options.cwd })

/** Starts SIPp in the current Scope (killed when it closes). */
export const spawn = (options: Options): Effect.Effect<Process.Scoped, never, Scope.Scope> =>
  Process.spawnBounded("sipp", args(options), killAfter(options), { cwd: options.cwd })
