/**
 * A soak: SIPp at a fixed call rate for a long run while the proxy's memory is sampled every
 * `every` seconds — resident memory of the process tree, Kamailio's shared memory counted once
 * (`memoryOf`) and, for the
 * sipfx proxy, its JS heap (`proxy-server.ts … memory` answers SIGUSR2). Growth is the slope of a
 * least-squares fit over the second half of the run: transactions linger 32 s after they end
 * (RFC 3261 §17.1.1.2 Timer D, §17.2.1 Timer L, §17.2.2 Timer J), so memory rises for the
 * first ~40 s whatever the code does, and only what follows says whether it keeps rising.
 */
import type { ChildProcess } from "node:child_process"
import { readdir, readFile, rm } from "node:fs/promises"
import { lastStat, loadAverage, type Step, sippStep, socketDrops, treeCpuSeconds, udpDrops } from "./Peers.ts"

const mb = (bytes: number) => bytes / (1024 * 1024)

/** The PIDs of a process and its direct children (Kamailio forks its workers from the main process). */
const tree = async (pid: number): Promise<Array<number>> => {
  const out = [pid]
  for (const entry of await readdir("/proc").catch(() => [] as Array<string>)) {
    if (!/^\d+$/.test(entry)) continue
    const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "")
    if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid) out.push(Number(entry))
  }
  return out
}

const kb = (text: string, field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0)

/**
 * MiB: `VmRSS` of the process, and the resident memory of its tree with shared memory counted
 * once: Σ (Pss_Anon + Pss_Shmem) over the tree (pages shared among the tree's processes divided
 * among them, so they add up to one copy) plus the main process's file pages (the workers map the
 * same binary). For one process that is its VmRSS; other programs that map the same libraries
 * do not move it, as they would a plain Pss.
 */
export const memoryOf = async (pid: number) => {
  const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "")
  let shared = 0
  const pids = await tree(pid)
  for (const p of pids) {
    const rollup = await readFile(`/proc/${p}/smaps_rollup`, "utf8").catch(() => "")
    shared += kb(rollup, "Pss_Anon") + kb(rollup, "Pss_Shmem")
  }
  return {
    rss: kb(status, "VmRSS") / 1024,
    tree: (shared + kb(status, "RssFile")) / 1024,
    processes: pids.length,
  }
}

interface Heap {
  readonly heapUsed: number
  readonly afterMajorGc: number
  readonly majorGcs: number
  /** GC pauses since the previous sample: total and longest (ms), and the longest one's kind */
  readonly gcMs: number
  readonly gcMaxMs: number
  readonly gcMaxKind: string
}

/** Asks `proxy-server.ts … memory` for its heap (SIGUSR2) and reads its answer line; nothing after 2 s. */
const heapOf = (proxy: ChildProcess): Promise<Heap | undefined> =>
  new Promise((resolve) => {
    let buffer = ""
    const done = (h: Heap | undefined) => {
      clearTimeout(timer)
      proxy.stdout?.off("data", on)
      resolve(h)
    }
    const on = (d: Buffer) => {
      buffer += d.toString()
      const line = /^memory (\{.*\})$/m.exec(buffer)
      if (line !== null) {
        const m = JSON.parse(line[1]!) as Heap
        done({ ...m, heapUsed: mb(m.heapUsed), afterMajorGc: mb(m.afterMajorGc) })
      }
    }
    const timer = setTimeout(() => done(undefined), 2_000)
    proxy.stdout?.on("data", on)
    proxy.kill("SIGUSR2") // by PID
  })

export interface Sample {
  /** seconds since the SIPp run started */
  readonly t: number
  /** VmRSS of the main process, MiB */
  readonly rss: number
  /** resident memory of the process tree, shared memory once (`memoryOf`), MiB */
  readonly tree: number
  readonly processes: number
  readonly heap: Heap | undefined
  readonly successful: number
  readonly failed: number
  readonly retransmissions: number
  /** datagrams the kernel dropped for full receive buffers since the start, machine-wide */
  readonly drops: number
  /** … and on the proxy's own socket */
  readonly proxyDrops: number
  /** proxy CPU share over the last interval, % of one core */
  readonly cpu: number
}

/** Least-squares slope of y over x, with its standard error (NaN below 3 points). */
export const slope = (xs: ReadonlyArray<number>, ys: ReadonlyArray<number>) => {
  const n = xs.length
  if (n < 3) return { slope: Number.NaN, se: Number.NaN }
  const mx = xs.reduce((a, b) => a + b, 0) / n
  const my = ys.reduce((a, b) => a + b, 0) / n
  let sxx = 0
  let sxy = 0
  for (let i = 0; i < n; i++) {
    sxx += (xs[i]! - mx) ** 2
    sxy += (xs[i]! - mx) * (ys[i]! - my)
  }
  const b = sxy / sxx
  let sse = 0
  for (let i = 0; i < n; i++) sse += (ys[i]! - my - b * (xs[i]! - mx)) ** 2
  return { slope: b, se: Math.sqrt(sse / (n - 2) / sxx) }
}

const mean = (ys: ReadonlyArray<number>) => ys.reduce((a, b) => a + b, 0) / ys.length

export interface Trend {
  readonly first: number
  readonly last: number
  /** MiB per minute over the fit window */
  readonly slope: number
  readonly se: number
  readonly growth: boolean
}

/**
 * Mean of the first and of the last minute, and the slope over the second half of the run
 * (from 60 s at the earliest; `run` gives its end when `samples` are a subset). Growth when the slope is above `tolerance` MiB/min and more than
 * twice its standard error: a sawtooth GC heap needs both to tell a trend from noise.
 */
export const trend = (
  samples: ReadonlyArray<Sample>,
  value: (s: Sample) => number,
  tolerance: number,
  run: ReadonlyArray<Sample> = samples,
): Trend => {
  const points = samples.filter((s) => Number.isFinite(value(s)))
  const end = run.length === 0 ? 0 : run[run.length - 1]!.t
  const from = Math.max(end / 2, 60)
  const fit = points.filter((s) => s.t >= from)
  const { slope: b, se } = slope(
    fit.map((s) => s.t / 60),
    fit.map(value),
  )
  return {
    first: mean(points.filter((s) => s.t <= 60).map(value)),
    last: mean(points.filter((s) => s.t >= end - 60).map(value)),
    slope: b,
    se,
    growth: b > tolerance && b > 2 * se,
  }
}

const f1 = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : "-")

const formatSample = (s: Sample) =>
  `  +${String(Math.round(s.t)).padStart(5)} s  ${String(s.successful).padStart(8)} ok ${String(s.failed).padStart(5)} failed ${String(s.retransmissions).padStart(6)} retrans  ` +
  `${String(s.proxyDrops).padStart(5)} drops (${s.drops} all)  RSS ${f1(s.tree).padStart(6)} MiB${s.processes === 1 ? "" : ` (${s.processes} processes, main ${f1(s.rss)})`}` +
  (s.heap === undefined
    ? ""
    : `  heap ${f1(s.heap.heapUsed).padStart(6)} MiB (after major GC ${f1(s.heap.afterMajorGc)}, ${s.heap.majorGcs} major GCs)` +
      `  GC ${s.heap.gcMs.toFixed(0).padStart(4)} ms, longest ${s.heap.gcMaxMs.toFixed(0)} ms ${s.heap.gcMaxKind}`) +
  `  CPU ${s.cpu.toFixed(0).padStart(3)}%`

export interface SoakResult {
  readonly name: string
  /** calls asked for: rate × seconds */
  readonly calls: number
  readonly step: Step
  readonly samples: ReadonlyArray<Sample>
  readonly memory: Trend
  readonly heap: Trend | undefined
}

/**
 * One SIPp run of `rate × seconds` calls through `proxy` (a fresh uas at `target`), sampling
 * every `every` s until SIPp ends. `heap` when the proxy is `proxy-server.ts … memory`.
 */
export const soak = async (options: {
  readonly name: string
  readonly proxy: ChildProcess
  readonly proxyPort: number
  readonly target: string
  readonly scenario: ReadonlyArray<string>
  readonly via: ReadonlyArray<string>
  readonly rate: number
  readonly seconds: number
  readonly every: number
  readonly heap: boolean
  readonly tolerance: number
}): Promise<SoakResult> => {
  const { name, proxy, rate, seconds, every } = options
  const pid = proxy.pid!
  const statFile = `/tmp/sipfx-soak-${process.pid}-${Date.now()}.csv`
  const samples: Array<Sample> = []
  console.log(
    `\n${name}: soak at ${rate} calls/s for ${seconds} s (samples every ${every} s), load ${await loadAverage()}`,
  )
  const t0 = performance.now()
  let cpu0 = await treeCpuSeconds(pid)
  const drops0 = await udpDrops()
  const proxyDrops0 = await socketDrops(options.proxyPort)
  let tPrev = t0
  const sample = async () => {
    const now = performance.now()
    const cpu = await treeCpuSeconds(pid)
    const stat = lastStat(await readFile(statFile, "utf8").catch(() => ""))
    const s: Sample = {
      t: (now - t0) / 1000,
      ...(await memoryOf(pid)),
      heap: options.heap ? await heapOf(proxy) : undefined,
      successful: Number(stat["SuccessfulCall(C)"] ?? 0),
      failed: Number(stat["FailedCall(C)"] ?? 0),
      retransmissions: Number(stat["Retransmissions(C)"] ?? 0),
      drops: (await udpDrops()) - drops0,
      proxyDrops: (await socketDrops(options.proxyPort)) - proxyDrops0,
      cpu: (100 * (cpu - cpu0)) / Math.max(1e-3, (now - tPrev) / 1000),
    }
    cpu0 = cpu
    tPrev = now
    samples.push(s)
    console.log(formatSample(s))
  }
  let running = true
  const run = sippStep(options.target, options.scenario, rate, seconds, options.via, 8_000, statFile).finally(() => {
    running = false
  })
  // sample on a fixed grid from the start, until SIPp ends
  for (let k = 1; running; k++) {
    const wait = t0 + k * every * 1000 - performance.now()
    await Promise.race([run, new Promise((r) => setTimeout(r, Math.max(0, wait)))])
    if (running) await sample()
  }
  const step = await run
  await rm(statFile, { force: true })
  const memory = trend(samples, (s) => s.tree, options.tolerance)
  // one point per major GC: between two of them the figure only repeats
  const gcs = samples.filter((s, i) => s.heap !== undefined && s.heap.majorGcs > (samples[i - 1]?.heap?.majorGcs ?? 0))
  const heap = options.heap ? trend(gcs, (s) => s.heap!.afterMajorGc, options.tolerance, samples) : undefined
  return { name, calls: rate * seconds, step, samples, memory, heap }
}

const formatTrend = (label: string, t: Trend) =>
  `${label} ${f1(t.first)} → ${f1(t.last)} MiB (first vs last minute), ` +
  (Number.isFinite(t.slope)
    ? `slope ${t.slope >= 0 ? "+" : ""}${t.slope.toFixed(2)} ± ${t.se.toFixed(2)} MiB/min`
    : "too few points in the second half for a slope")

export const verdict = (r: SoakResult, tolerance: number) => {
  const s = r.step
  const parts = [formatTrend("RSS", r.memory)]
  if (r.heap !== undefined) parts.push(formatTrend("heap after major GC", r.heap))
  const growth = r.memory.growth || r.heap?.growth === true
  const proxyDrops = r.samples[r.samples.length - 1]?.proxyDrops ?? 0
  const worst = r.samples.reduce<Sample | undefined>(
    (w, x) => (x.heap !== undefined && x.heap.gcMaxMs > (w?.heap?.gcMaxMs ?? -1) ? x : w),
    undefined,
  )
  if (worst?.heap !== undefined)
    parts.push(
      `longest GC pause ${worst.heap.gcMaxMs.toFixed(0)} ms (${worst.heap.gcMaxKind}, before +${worst.t.toFixed(0)} s)`,
    )
  const calls =
    s.failed === 0 && s.successful === r.calls
      ? `all ${r.calls} calls ok`
      : `${s.successful} of ${r.calls} calls ok, ${s.failed} FAILED${s.why === "" ? "" : ` (${s.why})`}`
  return (
    `verdict ${r.name}: ${growth ? "MEMORY GROWS" : "no memory growth"} (tolerance ${tolerance} MiB/min over the second half), ` +
    `${calls} in ${s.seconds.toFixed(0)} s (${s.achieved.toFixed(0)} calls/s), ${s.retransmissions} retransmissions, ${proxyDrops} drops on the proxy's socket (${s.drops} machine-wide); ${parts.join("; ")}`
  )
}
