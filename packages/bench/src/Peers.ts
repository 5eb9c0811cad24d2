/**
 * Process control shared by the benchmarks that drive real peers (SIPp, Kamailio, `sipfx
 * serve`): free ports, bounded child processes stopped by their own PID, SIPp rate steps read
 * from its final screen, and the CPU time a process used (`/proc/PID/stat`).
 */
import { type ChildProcess, spawn } from "node:child_process"
import { createSocket } from "node:dgram"
import { readdir, readFile, rm } from "node:fs/promises"

export const arg = (args: ReadonlyArray<string>, name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback
}

export const freePort = (): Promise<number> =>
  new Promise<number>((resolve) => {
    const s = createSocket("udp4")
    s.bind(0, "127.0.0.1", () => {
      const port = s.address().port
      s.close(() => resolve(port))
    })
  })

/** Runs a command to its end (killed after `timeoutMs`), with its output and PID. */
export const run = (cmd: string, args: ReadonlyArray<string>, timeoutMs: number) =>
  new Promise<{ code: number | null; out: string; pid: number | undefined }>((resolve) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], cwd: "/tmp" })
    let out = ""
    child.stdout.on("data", (d: Buffer) => (out += d.toString()))
    child.stderr.on("data", (d: Buffer) => (out += d.toString()))
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
    child.once("exit", (code) => {
      clearTimeout(timer)
      resolve({ code, out, pid: child.pid })
    })
  })

/** Starts a long-running peer with piped output. */
export const start = (cmd: string, args: ReadonlyArray<string>): ChildProcess =>
  spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], cwd: "/tmp" })

export const waitFor = (child: ChildProcess, pattern: RegExp, ms: number) =>
  new Promise<string>((resolve, reject) => {
    let out = ""
    const timer = setTimeout(() => reject(new Error(`not ready: ${out.slice(-500)}`)), ms)
    const on = (d: Buffer) => {
      out += d.toString()
      if (pattern.test(out)) {
        clearTimeout(timer)
        resolve(out)
      }
    }
    child.stdout?.on("data", on)
    child.stderr?.on("data", on)
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`exited with ${code}: ${out.slice(-500)}`))
    })
  })

/** Stops a child by its PID: `signal` (SIGTERM), then SIGKILL after 5 s. SIPp ignores SIGTERM while busy. */
export const stop = (child: ChildProcess, signal: NodeJS.Signals = "SIGTERM") =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    const kill = setTimeout(() => child.kill("SIGKILL"), 5_000)
    child.once("exit", () => {
      clearTimeout(kill)
      resolve()
    })
    child.kill(signal) // by PID: only the process this benchmark started
  })

/** Kamailio 5.6 in the foreground with its own config: one worker, TLSF, 1 GiB shared memory (peers.md). */
export const kamailio = async (cfg: string, port: number, defines: ReadonlyArray<string> = []) => {
  const child = start("kamailio", [
    "-f",
    cfg,
    "-l",
    `udp:127.0.0.1:${port}`,
    ...defines.flatMap((d) => ["-A", d]),
    "-x",
    "tlsf",
    "-X",
    "tlsf",
    "-m",
    "1024",
    "-M",
    "16",
    "-DD",
    "-E",
    "-w",
    "/tmp",
  ])
  await waitFor(child, /Listening on|INFO: <core>|listening/i, 20_000).catch(() => undefined)
  await new Promise((r) => setTimeout(r, 1000))
  return child
}

/** user + system CPU seconds in a Linux `/proc/…/stat` line (a process's or a thread's; ticks of 10 ms) */
export const statCpuSeconds = (stat: string): number => {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/** user + system CPU seconds of a process (`/proc/PID/stat`). */
export const cpuSeconds = async (pid: number | undefined): Promise<number> => {
  if (pid === undefined) return Number.NaN
  return statCpuSeconds(await readFile(`/proc/${pid}/stat`, "utf8").catch(() => ""))
}

/** CPU seconds of a process and its children (Kamailio forks its workers). */
export const treeCpuSeconds = async (pid: number | undefined): Promise<number> => {
  if (pid === undefined) return Number.NaN
  let total = await cpuSeconds(pid)
  for (const entry of await readdir("/proc").catch(() => [] as Array<string>)) {
    if (!/^\d+$/.test(entry)) continue
    const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "")
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
    if (ppid === pid) total += await cpuSeconds(Number(entry))
  }
  return total
}

export const loadAverage = async (): Promise<string> =>
  (await readFile("/proc/loadavg", "utf8").catch(() => "? ? ?")).split(" ").slice(0, 3).join(" ")

export interface Step {
  readonly rate: number
  readonly ok: boolean
  readonly successful: number
  readonly failed: number
  readonly seconds: number
  /** successful calls per second of wall time, SIPp start to exit */
  readonly achieved: number
  /** SIPp's PID (its trace files are named after it) */
  readonly pid: number | undefined
  /** messages SIPp retransmitted (each one a lost or late answer) */
  readonly retransmissions: number
  /** datagrams the kernel dropped for a full receive buffer during the step (all sockets of the machine) */
  readonly drops: number
  /** SIPp's reasons for the failed calls, e.g. `TimeoutOnRecv 12` */
  readonly why: string
}

/** Datagrams dropped for a full socket receive buffer, machine-wide (`/proc/net/snmp` RcvbufErrors). */
export const udpDrops = async (): Promise<number> => {
  const text = await readFile("/proc/net/snmp", "utf8").catch(() => "")
  const lines = text.split("\n").filter((l) => l.startsWith("Udp:"))
  if (lines.length < 2) return 0
  const names = lines[0]!.split(/\s+/)
  const values = lines[1]!.split(/\s+/)
  return Number(values[names.indexOf("RcvbufErrors")] ?? 0)
}

/**
 * Datagrams dropped for a full receive buffer by the UDP sockets bound to `port` (IPv4,
 * `/proc/net/udp` last column): one process's drops, unlike the machine-wide count above.
 */
export const socketDrops = async (port: number): Promise<number> => {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, "0")}`
  let drops = 0
  for (const line of (await readFile("/proc/net/udp", "utf8").catch(() => "")).split("\n").slice(1)) {
    const f = line.trim().split(/\s+/)
    if (f[1]?.endsWith(hex)) drops += Number(f[f.length - 1] ?? 0)
  }
  return drops
}

/** The last row of a SIPp `-trace_stat` CSV as a record (cumulative columns end in `(C)`). */
export const lastStat = (csv: string): Record<string, string> => {
  const lines = csv.split("\n").filter((l) => l.length > 0)
  if (lines.length < 2) return {}
  const names = lines[0]!.split(";")
  const values = lines[lines.length - 1]!.split(";")
  return Object.fromEntries(names.map((n, i) => [n, values[i] ?? ""]))
}

/**
 * One SIPp client run at a fixed call rate (`rate × seconds` calls). It counts only when every
 * call succeeded and SIPp kept 90% of the asked rate.
 *
 * SIPp binds its own free port (`-p 0` would take 5060, where another SIPp may already listen
 * and take the answers). A call waiting more than `recvTimeout` ms for a message fails instead
 * of holding the run, so SIPp ends by itself with final counts well before its `-timeout`; the
 * counts come from its `-trace_stat` file (written every second, so they survive a kill too;
 * `statFile` names it, for a caller that reads it while the run goes on).
 */
export const sippStep = async (
  target: string,
  scenario: ReadonlyArray<string>,
  rate: number,
  seconds: number,
  extra: ReadonlyArray<string> = [],
  recvTimeout = 8_000,
  statFile = `/tmp/sipfx-bench-${process.pid}-${rate}-${Date.now()}.csv`,
): Promise<Step> => {
  const calls = rate * seconds
  const port = await freePort()
  const drops0 = await udpDrops()
  const t0 = performance.now()
  const limit = seconds + Math.ceil(recvTimeout / 1000) * 4 + 10
  const r = await run(
    "sipp",
    [
      target,
      ...scenario,
      "-i",
      "127.0.0.1",
      "-p",
      String(port),
      "-r",
      String(rate),
      "-m",
      String(calls),
      "-l",
      String(Math.max(100, rate * 2)),
      "-buff_size",
      "4194304",
      "-recv_timeout",
      String(recvTimeout),
      "-nostdin",
      "-timeout",
      String(limit),
      "-timeout_error",
      "-trace_stat",
      "-stf",
      statFile,
      "-fd",
      "1",
      ...extra,
    ],
    (limit + 10) * 1000,
  )
  const elapsed = (performance.now() - t0) / 1000
  const drops = (await udpDrops()) - drops0
  const stat = lastStat(await readFile(statFile, "utf8").catch(() => ""))
  await rm(statFile, { force: true })
  const successful = Number(stat["SuccessfulCall(C)"] ?? Number.NaN)
  const failed = Number(stat["FailedCall(C)"] ?? Number.NaN)
  const retransmissions = Number(stat["Retransmissions(C)"] ?? Number.NaN)
  const why = Object.entries(stat)
    .filter(([k, v]) => /^Failed.+\(C\)$/.test(k) && k !== "FailedCall(C)" && Number(v) > 0)
    .map(([k, v]) => `${k.slice(6, -3)} ${v}`)
    .join(", ")
  const achieved = successful / elapsed
  return {
    rate,
    ok: r.code === 0 && failed === 0 && successful === calls && achieved >= 0.9 * rate,
    successful,
    failed,
    seconds: elapsed,
    achieved,
    pid: r.pid,
    retransmissions,
    drops,
    why,
  }
}

export const formatStep = (name: string, s: Step, extra = "") =>
  `${name.padEnd(10)} ${String(s.rate).padStart(6)} calls/s: ${s.ok ? "ok  " : "FAIL"} ${s.successful} ok, ${s.failed} failed, ${s.seconds.toFixed(1)} s, ${s.achieved.toFixed(0)} calls/s achieved, ${s.retransmissions} retransmissions, ${s.drops} kernel drops${s.why === "" ? "" : ` (${s.why})`}${extra}`

/**
 * Rate steps upwards until the first failing one; the last good step. With `attempts` > 1 a
 * failing step is run again after a pause (on a shared machine a burst of other work can sink
 * one step); it fails only when every attempt failed.
 */
export const ladder = async (
  name: string,
  rates: ReadonlyArray<number>,
  runStep: (rate: number) => Promise<Step & { readonly note?: string }>,
  attempts = 1,
): Promise<(Step & { readonly note?: string }) | undefined> => {
  let best: (Step & { readonly note?: string }) | undefined
  for (const rate of rates) {
    let s = await runStep(rate)
    console.log(formatStep(name, s, s.note ?? ""))
    for (let i = 1; i < attempts && !s.ok; i++) {
      await new Promise((r) => setTimeout(r, 3_000))
      s = await runStep(rate)
      console.log(formatStep(name, s, `${s.note ?? ""} (attempt ${i + 1})`))
    }
    if (!s.ok) break
    best = s
  }
  return best
}
