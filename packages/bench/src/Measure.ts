/**
 * Fixed-time throughput measurement shared by the benchmarks: warm up, then run `rounds`
 * rounds of `roundMs` each and report the median, so one GC pause or a neighbour's burst
 * on a shared core moves a single round, not the figure.
 *
 * Rates are per second of CPU time consumed by this process (user + system, GC threads
 * included), not of wall-clock time: on cores shared with other work, time spent waiting
 * for a core would otherwise count against whichever contender was running.
 */

import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"

// A full collection before each round, so that no contender pays for another's garbage.
setFlagsFromString("--expose-gc")
const collect = runInNewContext("gc") as () => void

export interface Options {
  readonly warmupMs: number
  readonly rounds: number
  readonly roundMs: number
}

export const defaults: Options = { warmupMs: 1000, rounds: 5, roundMs: 1000 }

export interface Rate {
  /** operations per CPU second, median over the rounds */
  readonly perSecond: number
  /** bytes per second at that median round */
  readonly bytesPerSecond: number
  readonly rounds: ReadonlyArray<number>
}

export interface Contender {
  /** performs operation `i` (0 ≤ i < batch) and returns the bytes it processed */
  readonly step: (i: number) => number
  readonly batch: number
}

const runFor = (c: Contender, ms: number): { ops: number; bytes: number; elapsed: number } => {
  collect()
  let ops = 0
  let bytes = 0
  const cpu = process.cpuUsage()
  const start = performance.now()
  const deadline = start + ms
  let now = start
  // check the clock once per batch: performance.now() is not free
  while (now < deadline) {
    for (let i = 0; i < c.batch; i++) bytes += c.step(i)
    ops += c.batch
    now = performance.now()
  }
  const used = process.cpuUsage(cpu)
  return { ops, bytes, elapsed: (used.user + used.system) / 1e6 }
}

/**
 * Throughput of each contender. Rounds are interleaved (A B C, A B C, …) so that a change
 * in the machine's load during the run affects every contender alike.
 */
export const compare = (contenders: ReadonlyArray<Contender>, options: Options = defaults): Array<Rate> => {
  for (const c of contenders) runFor(c, options.warmupMs)
  const results = contenders.map(() => [] as Array<{ ops: number; bytes: number; elapsed: number }>)
  for (let r = 0; r < options.rounds; r++) {
    for (let k = 0; k < contenders.length; k++) results[k]!.push(runFor(contenders[k]!, options.roundMs))
  }
  return results.map((rs) => {
    const sorted = [...rs].sort((a, b) => a.ops / a.elapsed - b.ops / b.elapsed)
    const mid = sorted[Math.floor(sorted.length / 2)]!
    return {
      perSecond: mid.ops / mid.elapsed,
      bytesPerSecond: mid.bytes / mid.elapsed,
      rounds: sorted.map((x) => x.ops / x.elapsed),
    }
  })
}

/** Right-aligned plain-text table. */
export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join("  ")
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n")
}
