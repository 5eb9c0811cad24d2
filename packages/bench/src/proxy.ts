/**
 * `pnpm bench proxy [--seconds 10] [--rates 250,500,…|none] [--attempts 2] [--only direct,stateful,stateless,kamailio]
 *   [--latency-rate 500 | --latency-rates 300,2800|none] [--latency-seconds 10] [--latency-warmup 40] [--keep-pcap] [--cpu-prof DIR]`
 * `pnpm bench proxy --soak SECONDS --soak-rate CPS [--only stateful,kamailio] [--soak-every 10] [--soak-tolerance 0.5]`
 *
 * Calls/s with zero failed calls, SIPp `uac` → proxy → SIPp `uas` over loopback UDP (INVITE,
 * optional 100/180, 200, ACK, BYE, 200; `sipp/proxy-uac.xml`), for the sipfx proxy Layer in a
 * process (stateful, and stateless §16.11) and for Kamailio (tm + rr, one worker, TLSF), plus
 * SIPp direct (uac → uas, no proxy) as the ceiling. Each step runs `rate × seconds` calls and
 * counts when all succeeded at ≥ 90% of the rate (a failing step is tried `--attempts` times: the
 * machine is shared, and a burst of other work can sink one run); the CPU the proxy used per call.
 *
 * Added latency, first, on a fresh proxy after a warm-up run at the first latency rate: 40 s by
 * default, the steady state of a server under that load. For its first ~35 s a stateful proxy
 * keeps more every second (each call's transactions linger 32 s: Timers J, L, M), so its heap and
 * the GC's work grow, and the JIT is still at work; `--latency-warmup 3` measures that ramp. At each latency rate
 * `dumpcap` records the proxy's UDP port on `lo`, and per call the time from the INVITE's arrival
 * at the proxy to its forwarded copy leaving it, and the same for the 200 coming back, is read from
 * the capture's µs timestamps (`Capture.ts`), matched by Call-ID + CSeq + direction: p50/p99/max,
 * for every proxy alike. SIPp's INVITE → 200 (`-trace_rtt`, whole ms) is printed beside it.
 *
 * `--soak`: one SIPp run at a fixed rate for that long per contender, the proxy's memory (and the
 * sipfx proxy's JS heap) sampled every 10 s, and a verdict on growth after warm-up (`Soak.ts`).
 */
import type { ChildProcess } from "node:child_process"
import { readFile, rm } from "node:fs/promises"
import { fileURLToPath } from "node:url"
import { analyze, type CaptureCounts, quantile, record, type Summary, summarize } from "./Capture.ts"
import {
  arg,
  freePort,
  kamailio,
  ladder,
  loadAverage,
  type Step,
  sippStep,
  socketDrops,
  start,
  stop,
  treeCpuSeconds,
  waitFor,
} from "./Peers.ts"
import { soak, verdict } from "./Soak.ts"

const root = fileURLToPath(new URL("../../../", import.meta.url))
const scenario = `${root}packages/bench/sipp/proxy-uac.xml`
const kamailioCfg = `${root}packages/bench/kamailio/proxy.cfg`
const sf = ["-sf", scenario, "-s", "bench"]

type Name = "direct" | "stateful" | "stateless" | "kamailio"

/**
 * The proxy under test on `port`, or nothing for direct; `memory` makes the sipfx proxy answer
 * SIGUSR2 with its heap; `cpuProf` writes a V8 CPU profile of the sipfx proxy into that folder.
 */
const startProxy = async (
  name: Name,
  port: number,
  memory = false,
  cpuProf?: string,
): Promise<ChildProcess | undefined> => {
  if (name === "direct") return undefined
  if (name === "kamailio") return kamailio(kamailioCfg, port)
  const child = start(process.execPath, [
    // the soak's heap figure: a full collection every 30 s (see proxy-server.ts)
    ...(memory ? ["--expose-gc"] : []),
    ...(cpuProf === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", cpuProf]),
    `${root}packages/bench/src/proxy-server.ts`,
    String(port),
    name,
    ...(memory ? ["memory"] : []),
  ])
  await waitFor(child, /listening on/, 20_000)
  return child
}

const startUas = async (port: number) => {
  const uas = start("sipp", ["-sn", "uas", "-i", "127.0.0.1", "-p", String(port), "-buff_size", "4194304", "-nostdin"])
  await new Promise((r) => setTimeout(r, 500))
  return uas
}

/** Runs `body` against a fresh SIPp uas (calls left in an earlier one never count), stopped after. */
const withUas = async <A>(body: (target: string) => Promise<A>): Promise<A> => {
  const port = await freePort()
  const uas = await startUas(port)
  return body(`127.0.0.1:${port}`).finally(() => stop(uas, "SIGKILL"))
}

/** INVITE → 200 times (ms) of one SIPp run, from its `-trace_rtt` file. */
const rtts = async (pid: number | undefined): Promise<Array<number>> => {
  const file = `/tmp/proxy-uac_${pid}_rtt.csv`
  const text = await readFile(file, "utf8").catch(() => "")
  await rm(file, { force: true })
  const out: Array<number> = []
  for (const line of text.split("\n").slice(1)) {
    const v = Number(line.split(";")[1])
    if (Number.isFinite(v) && line.length > 0) out.push(v)
  }
  return out.sort((a, b) => a - b)
}

interface Latency {
  readonly name: Name
  readonly step: Step
  /** added by the proxy, from the capture; nothing for direct */
  readonly invite: Summary | undefined
  readonly ok: Summary | undefined
  readonly unmatched: number
  readonly capture: CaptureCounts | undefined
  /** datagrams the proxy's socket dropped for a full receive buffer during the step */
  readonly proxyDrops: number
  /** SIPp INVITE → 200, ms */
  readonly sippP50: number
  readonly sippP99: number
  readonly load: string
}

/** One latency step at `rate`: SIPp through the proxy while dumpcap records its port. */
const latencyStep = (
  name: Name,
  proxyPort: number | undefined,
  rate: number,
  seconds: number,
  keepPcap: boolean,
): Promise<Latency> =>
  withUas(async (target) => {
    const via = proxyPort === undefined ? [] : ["-rsa", `127.0.0.1:${proxyPort}`]
    const pcap = `/tmp/sipfx-bench-proxy-${name}-${rate}-${process.pid}.pcap`
    const rec = proxyPort === undefined ? undefined : await record(proxyPort, pcap, seconds + 60)
    const drops0 = proxyPort === undefined ? 0 : await socketDrops(proxyPort)
    const step = await sippStep(target, sf, rate, seconds, [...via, "-trace_rtt", "-rtt_freq", "1"])
    await new Promise((r) => setTimeout(r, 200)) // the last datagrams reach the capture
    const proxyDrops = proxyPort === undefined ? 0 : (await socketDrops(proxyPort)) - drops0
    const capture = await rec?.stop()
    const times = await rtts(step.pid)
    let invite: Summary | undefined
    let ok: Summary | undefined
    let unmatched = 0
    if (rec !== undefined && proxyPort !== undefined) {
      const a = await analyze(pcap, proxyPort)
      invite = summarize(a.invite)
      ok = summarize(a.ok)
      unmatched = a.invite.unmatched + a.ok.unmatched
      if (!keepPcap) await rm(pcap, { force: true })
      else console.log(`  capture kept: ${pcap}`)
    }
    const r: Latency = {
      name,
      step,
      invite,
      ok,
      unmatched,
      capture,
      proxyDrops,
      sippP50: quantile(times, 0.5),
      sippP99: quantile(times, 0.99),
      load: await loadAverage(),
    }
    console.log(formatLatency(r))
    return r
  })

const us = (v: number) => (Number.isFinite(v) ? String(Math.round(v)) : "-")
const triple = (s: Summary | undefined) =>
  s === undefined ? "-" : `${us(s.p50)} / ${us(s.p99)} / ${us(s.max)} @${s.maxAt.toFixed(1)}s`

const formatLatency = (r: Latency) => {
  const s = r.step
  const over =
    r.invite === undefined || r.ok === undefined
      ? "-"
      : `${r.invite.over2ms}+${r.ok.over2ms}/${r.invite.over1ms}+${r.ok.over1ms}`
  return (
    `${r.name.padEnd(10)} ${String(s.rate).padStart(5)} ${String(s.successful).padStart(6)}${s.failed > 0 ? ` (${s.failed} failed)` : ""}` +
    `  ${triple(r.invite).padStart(24)}  ${triple(r.ok).padStart(24)}  ${over.padStart(11)}  ${`${r.sippP50.toFixed(0)} / ${r.sippP99.toFixed(0)}`.padStart(9)}` +
    `  ${String(s.retransmissions).padStart(7)}  ${(r.capture === undefined ? "-" : `${r.proxyDrops}/${r.capture.dropped}`).padStart(9)}` +
    `${r.unmatched > 0 ? ` ${r.unmatched} never forwarded` : ""}  load ${r.load}`
  )
}

const latencyHeader =
  "contender   rate  calls  INVITE added µs p50/p99/max  200 added µs p50/p99/max  >2ms/>1ms  SIPp ms  retrans  drops s/c"

interface Result {
  readonly name: Name
  readonly best: (Step & { readonly note?: string }) | undefined
  readonly cpuPerCall: number | undefined
  readonly latency: ReadonlyArray<Latency>
}

interface Options {
  readonly seconds: number
  readonly rates: ReadonlyArray<number>
  readonly attempts: number
  readonly latencyRates: ReadonlyArray<number>
  readonly latencySeconds: number
  readonly latencyWarmup: number
  readonly keepPcap: boolean
  readonly cpuProf: string | undefined
}

const measure = async (name: Name, o: Options): Promise<Result> => {
  const proxyPort = await freePort()
  const proxy = await startProxy(name, proxyPort, false, o.cpuProf)
  const via = name === "direct" ? [] : ["-rsa", `127.0.0.1:${proxyPort}`]
  let cpuPerCall: number | undefined
  try {
    const latency: Array<Latency> = []
    if (o.latencyRates.length > 0) {
      // warm-up (JIT, the 32 s of lingering transactions filling up), not measured
      if (o.latencyWarmup > 0) await withUas((target) => sippStep(target, sf, o.latencyRates[0]!, o.latencyWarmup, via))
      for (const rate of o.latencyRates)
        latency.push(
          await latencyStep(name, name === "direct" ? undefined : proxyPort, rate, o.latencySeconds, o.keepPcap),
        )
    }
    const best = await ladder(
      name,
      o.rates,
      (rate) =>
        withUas(async (target) => {
          const before = await treeCpuSeconds(proxy?.pid)
          const s = await sippStep(target, sf, rate, o.seconds, via)
          const cpu = (await treeCpuSeconds(proxy?.pid)) - before
          if (proxy === undefined) return { ...s, note: `, load ${await loadAverage()}` }
          const perCall = (cpu / Math.max(1, s.successful)) * 1e6
          if (s.ok) cpuPerCall = perCall
          return {
            ...s,
            note: `, proxy CPU ${((100 * cpu) / s.seconds).toFixed(0)}% (${perCall.toFixed(0)} µs/call), load ${await loadAverage()}`,
          }
        }),
      o.attempts,
    )
    return { name, best, cpuPerCall, latency }
  } finally {
    if (proxy !== undefined) await stop(proxy)
  }
}

const list = (text: string) => (text === "none" || text === "" ? [] : text.split(",").map(Number))

const runSoak = async (args: ReadonlyArray<string>, only: ReadonlyArray<Name>) => {
  const seconds = Number(arg(args, "soak", "600"))
  const rate = Number(arg(args, "soak-rate", "500"))
  const every = Number(arg(args, "soak-every", "10"))
  const tolerance = Number(arg(args, "soak-tolerance", "0.5"))
  const verdicts: Array<string> = []
  for (const name of only) {
    if (name === "direct") {
      console.log("direct: no proxy process to watch, skipped")
      continue
    }
    const proxyPort = await freePort()
    const memory = name !== "kamailio"
    const proxy = (await startProxy(name, proxyPort, memory))!
    try {
      const r = await withUas((target) =>
        soak({
          name,
          proxy,
          proxyPort,
          target,
          scenario: sf,
          via: ["-rsa", `127.0.0.1:${proxyPort}`],
          rate,
          seconds,
          every,
          heap: memory,
          tolerance,
        }),
      )
      verdicts.push(verdict(r, tolerance))
      console.log(verdicts[verdicts.length - 1])
    } finally {
      await stop(proxy)
    }
  }
  console.log(`\nSoak at ${rate} calls/s for ${seconds} s (UDP, SIPp ${scenario}):`)
  for (const v of verdicts) console.log(v)
  console.log(`load average after: ${await loadAverage()}`)
}

export const run = async (args: ReadonlyArray<string>) => {
  const soakAsked = args.includes("--soak")
  const only = arg(args, "only", soakAsked ? "stateful" : "direct,stateful,stateless,kamailio").split(
    ",",
  ) as Array<Name>
  console.log(`load average before: ${await loadAverage()}`)
  if (soakAsked) return runSoak(args, only)
  const o: Options = {
    seconds: Number(arg(args, "seconds", "10")),
    rates: list(arg(args, "rates", "250,500,1000,1500,2000,3000,4000,5000,6000,8000,10000")),
    attempts: Number(arg(args, "attempts", "2")),
    latencyRates: list(arg(args, "latency-rates", arg(args, "latency-rate", "500"))),
    latencySeconds: Number(arg(args, "latency-seconds", "10")),
    latencyWarmup: Number(arg(args, "latency-warmup", "40")),
    keepPcap: args.includes("--keep-pcap"),
    cpuProf: args.includes("--cpu-prof") ? arg(args, "cpu-prof", "/tmp") : undefined,
  }
  if (o.latencyRates.length > 0) console.log(latencyHeader)
  const results: Array<Result> = []
  for (const name of only) results.push(await measure(name, o))
  if (o.rates.length > 0) {
    console.log(`\nCalls/s with zero failures (${o.seconds} s per step, UDP, SIPp ${scenario}):`)
    console.log("contender   calls/s  proxy CPU/call")
    for (const r of results)
      console.log(
        `${r.name.padEnd(10)} ${String(Math.round(r.best?.achieved ?? 0)).padStart(8)}  ${(r.cpuPerCall === undefined ? "-" : `${r.cpuPerCall.toFixed(0)} µs`).padStart(14)}`,
      )
    const top = o.rates[o.rates.length - 1]
    for (const base of ["kamailio", "direct"] as const) {
      const b = results.find((r) => r.name === base)
      const cps = b?.best?.achieved ?? 0
      if (b === undefined || cps === 0) continue
      // a contender that passed the top step is not saturated: its share is an upper bound
      const bound = b.best?.rate === top ? "≤ " : ""
      for (const r of results)
        if (r !== b && r.name !== "direct")
          console.log(
            `ratio ${r.name.padEnd(9)}: ${bound}${((100 * (r.best?.achieved ?? 0)) / cps).toFixed(0)}% of ${base === "kamailio" ? "Kamailio's" : "SIPp direct's"} calls/s` +
              (r.cpuPerCall !== undefined && b.cpuPerCall !== undefined
                ? ` (CPU per call ${(r.cpuPerCall / b.cpuPerCall).toFixed(1)}× Kamailio's)`
                : ""),
          )
    }
  }
  if (o.latencyRates.length > 0) {
    console.log(
      `\nAdded latency at the proxy (${o.latencySeconds} s per rate after a ${o.latencyWarmup} s warm-up; loopback capture of its port, ` +
        "INVITE uac→proxy→uas and 200 uas→proxy→uac, µs, max with its time into the capture; " +
        ">2ms/>1ms counts INVITE+200; SIPp INVITE→200 p50/p99 in whole ms; drops on the proxy's socket / by the capture):",
    )
    console.log(latencyHeader)
    for (const r of results) for (const l of r.latency) console.log(formatLatency(l))
  }
  console.log(`load average after: ${await loadAverage()}`)
}
