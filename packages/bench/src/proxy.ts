/**
 * `pnpm bench proxy [--seconds 10] [--rates 250,500,…] [--latency-rate 200] [--attempts 2] [--only direct,stateful,stateless,kamailio]`
 *
 * Calls/s with zero failed calls, SIPp `uac` → proxy → SIPp `uas` over loopback UDP (INVITE,
 * optional 100/180, 200, ACK, BYE, 200; `sipp/proxy-uac.xml`), for the sipfx proxy Layer in a
 * process (stateful, and stateless §16.11) and for Kamailio (tm + rr, one worker, TLSF), plus
 * SIPp direct (uac → uas, no proxy) as the ceiling. Each step runs `rate × seconds` calls and
 * counts when all succeeded at ≥ 90% of the rate (a failing step is tried `--attempts` times: the
 * machine is shared, and a burst of other work can sink one run). For each contender: the CPU the proxy used per
 * step, and INVITE → 200 latency (p50/p99 from SIPp `-trace_rtt`) at a fixed low rate, where
 * the difference to direct is what the proxy adds.
 */
import type { ChildProcess } from "node:child_process"
import { readFile, rm } from "node:fs/promises"
import { fileURLToPath } from "node:url"
import {
  arg,
  freePort,
  kamailio,
  ladder,
  loadAverage,
  type Step,
  sippStep,
  start,
  stop,
  treeCpuSeconds,
  waitFor,
} from "./Peers.ts"

const root = fileURLToPath(new URL("../../../", import.meta.url))
const scenario = `${root}packages/bench/sipp/proxy-uac.xml`
const kamailioCfg = `${root}packages/bench/kamailio/proxy.cfg`

type Name = "direct" | "stateful" | "stateless" | "kamailio"

/** The proxy under test on `port`, or nothing for direct. */
const startProxy = async (name: Name, port: number): Promise<ChildProcess | undefined> => {
  if (name === "direct") return undefined
  if (name === "kamailio") return kamailio(kamailioCfg, port)
  const child = start(process.execPath, [`${root}packages/bench/src/proxy-server.ts`, String(port), name])
  await waitFor(child, /listening on/, 20_000)
  return child
}

const startUas = async (port: number) => {
  const uas = start("sipp", ["-sn", "uas", "-i", "127.0.0.1", "-p", String(port), "-buff_size", "4194304", "-nostdin"])
  await new Promise((r) => setTimeout(r, 500))
  return uas
}

const quantile = (sorted: ReadonlyArray<number>, q: number) =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!

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

interface Result {
  readonly name: Name
  readonly best: (Step & { readonly note?: string }) | undefined
  readonly cpuPerCall: number | undefined
  readonly p50: number
  readonly p99: number
}

const measure = async (
  name: Name,
  rates: ReadonlyArray<number>,
  seconds: number,
  latencyRate: number,
  attempts: number,
) => {
  const uasPort = await freePort()
  const proxyPort = await freePort()
  const uas = await startUas(uasPort)
  const proxy = await startProxy(name, proxyPort)
  const target = `127.0.0.1:${uasPort}`
  const via = name === "direct" ? [] : ["-rsa", `127.0.0.1:${proxyPort}`]
  const sf = ["-sf", scenario, "-s", "bench"]
  let cpuPerCall: number | undefined
  try {
    // latency at a rate far from any limit
    const lat = await sippStep(target, sf, latencyRate, seconds, [...via, "-trace_rtt", "-rtt_freq", "1"])
    const times = await rtts(lat.pid)
    const best = await ladder(
      name,
      rates,
      async (rate) => {
        // a fresh uas per step: calls left in the previous one never count against this step
        const stepUasPort = await freePort()
        const stepUas = await startUas(stepUasPort)
        const before = await treeCpuSeconds(proxy?.pid)
        const s = await sippStep(`127.0.0.1:${stepUasPort}`, sf, rate, seconds, via).finally(() =>
          stop(stepUas, "SIGKILL"),
        )
        const cpu = (await treeCpuSeconds(proxy?.pid)) - before
        if (proxy === undefined) return { ...s, note: `, load ${await loadAverage()}` }
        const perCall = (cpu / Math.max(1, s.successful)) * 1e6
        if (s.ok) cpuPerCall = perCall
        return {
          ...s,
          note: `, proxy CPU ${((100 * cpu) / s.seconds).toFixed(0)}% (${perCall.toFixed(0)} µs/call), load ${await loadAverage()}`,
        }
      },
      attempts,
    )
    return { name, best, cpuPerCall, p50: quantile(times, 0.5), p99: quantile(times, 0.99) } satisfies Result
  } finally {
    if (proxy !== undefined) await stop(proxy)
    await stop(uas, "SIGKILL")
  }
}

export const run = async (args: ReadonlyArray<string>) => {
  const seconds = Number(arg(args, "seconds", "10"))
  const rates = arg(args, "rates", "250,500,1000,1500,2000,3000,4000,5000,6000,8000,10000").split(",").map(Number)
  const latencyRate = Number(arg(args, "latency-rate", "200"))
  const only = arg(args, "only", "direct,stateful,stateless,kamailio").split(",") as Array<Name>
  const attempts = Number(arg(args, "attempts", "2"))
  console.log(`load average before: ${await loadAverage()}`)
  const results: Array<Result> = []
  for (const name of only) results.push(await measure(name, rates, seconds, latencyRate, attempts))
  const direct = results.find((r) => r.name === "direct")
  console.log(
    `\nCalls/s with zero failures (${seconds} s per step, UDP, SIPp ${scenario}); INVITE → 200 at ${latencyRate} calls/s:`,
  )
  console.log("contender   calls/s  proxy CPU/call  p50 ms  p99 ms  added p50/p99 ms")
  for (const r of results) {
    const added =
      direct === undefined || r === direct
        ? "-"
        : `${(r.p50 - direct.p50).toFixed(2)} / ${(r.p99 - direct.p99).toFixed(2)}`
    console.log(
      `${r.name.padEnd(10)} ${String(Math.round(r.best?.achieved ?? 0)).padStart(8)}  ${(r.cpuPerCall === undefined ? "-" : `${r.cpuPerCall.toFixed(0)} µs`).padStart(14)}  ${r.p50.toFixed(2).padStart(6)}  ${r.p99.toFixed(2).padStart(6)}  ${added}`,
    )
  }
  console.log(`load average after: ${await loadAverage()}`)
}
