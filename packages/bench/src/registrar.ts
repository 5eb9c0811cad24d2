/**
 * `pnpm bench registrar [--seconds 10] [--rates 1000,2000,…,40000] [--attempts 1]
 *   [--only sipfx,kamailio,redis,memory]`
 *
 * REGISTER/s with zero failed calls, SIPp against `sipfx serve` (in-memory location), against
 * Kamailio's registrar (usrloc in memory, one worker, tlsf allocator) and against `sipfx serve
 * --location redis://…` (a redis-server of its own on a free loopback port), with the same
 * scenario and the same rate steps: each step runs `rate × seconds` calls (two REGISTERs each)
 * and the highest step with no failed call counts. Per step the server's CPU per REGISTER
 * (its process tree, `/proc/PID/stat`; redis-server's own CPU beside it). Then the heap bytes
 * per binding of the in-memory location service at 1M bindings.
 */
import type { ChildProcess } from "node:child_process"
import { fileURLToPath } from "node:url"
import { RedisServer } from "@sipfx/peers"
import {
  arg,
  freePort,
  kamailio,
  ladder,
  loadAverage,
  run,
  type Step,
  sippStep,
  start,
  stop,
  treeCpuSeconds,
  waitFor,
} from "./Peers.ts"

const root = fileURLToPath(new URL("../../../", import.meta.url))
const fixtures = `${root}packages/server/fixtures/`
const kamailioCfg = `${root}packages/bench/kamailio/registrar.cfg`
const scenario = ["-sf", `${fixtures}bench-register.xml`, "-inf", `${fixtures}users.csv`]

type Name = "sipfx" | "kamailio" | "redis"
const names: ReadonlyArray<Name> = ["sipfx", "kamailio", "redis"]

const serve = async (port: number, location: string) => {
  const child = start(process.execPath, [
    `${root}packages/server/src/main.ts`,
    "serve",
    "--listen",
    `udp://127.0.0.1:${port}`,
    "--location",
    location,
  ])
  await waitFor(child, /listening on/, 20_000)
  return child
}

interface Result {
  readonly name: Name
  readonly best: Step | undefined
  /** server CPU µs per REGISTER at the best step (redis-server's apart) */
  readonly cpu: number | undefined
  readonly redisCpu: number | undefined
}

const measure = async (
  name: Name,
  rates: ReadonlyArray<number>,
  seconds: number,
  attempts: number,
): Promise<Result> => {
  const port = await freePort()
  let redis: RedisServer.RedisServer | undefined
  let server: ChildProcess | undefined
  try {
    if (name === "redis") redis = await RedisServer.start()
    server =
      name === "kamailio"
        ? await kamailio(kamailioCfg, port)
        : await serve(port, redis === undefined ? "memory" : redis.url)
    const pid = server.pid
    const perStep = new Map<number | undefined, { cpu: number; redisCpu: number | undefined }>()
    const best = await ladder(
      name,
      rates,
      async (rate) => {
        const before = await treeCpuSeconds(pid)
        const redisBefore = redis === undefined ? 0 : await treeCpuSeconds(redis.pid)
        const s = await sippStep(`127.0.0.1:${port}`, scenario, rate, seconds)
        const registers = Math.max(1, 2 * s.successful)
        const cpu = (((await treeCpuSeconds(pid)) - before) / registers) * 1e6
        const redisCpu =
          redis === undefined ? undefined : (((await treeCpuSeconds(redis.pid)) - redisBefore) / registers) * 1e6
        perStep.set(s.pid, { cpu, redisCpu })
        return {
          ...s,
          note: `, ${(2 * s.achieved).toFixed(0)} REGISTER/s, server CPU ${cpu.toFixed(1)} µs/REGISTER${redisCpu === undefined ? "" : ` + redis ${redisCpu.toFixed(1)} µs`}, load ${await loadAverage()}`,
        }
      },
      attempts,
    )
    const at = best === undefined ? undefined : perStep.get(best.pid)
    return { name, best, cpu: at?.cpu, redisCpu: at?.redisCpu }
  } finally {
    if (server !== undefined) await stop(server)
    if (redis !== undefined) await redis.stop()
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US")

export const run_ = async (args: ReadonlyArray<string>) => {
  const seconds = Number(arg(args, "seconds", "10"))
  const rates = arg(args, "rates", "1000,2000,4000,6000,8000,10000,12000,15000,20000,25000,30000,35000,40000")
    .split(",")
    .map(Number)
  const attempts = Number(arg(args, "attempts", "1"))
  const only = arg(args, "only", "sipfx,kamailio,redis,memory").split(",")
  console.log(`load average before: ${await loadAverage()}`)
  const results: Array<Result> = []
  for (const name of names) if (only.includes(name)) results.push(await measure(name, rates, seconds, attempts))

  console.log(`\nREGISTER/s with zero failures (${seconds} s per step, UDP, SIPp ${fixtures}bench-register.xml):`)
  console.log("contender     REGISTER/s  top step  server CPU/REGISTER")
  const top = rates[rates.length - 1]
  for (const r of results) {
    const registers = 2 * (r.best?.achieved ?? 0)
    const capped = r.best !== undefined && r.best.rate === top ? " (top step passed: not saturated)" : ""
    const cpu =
      r.cpu === undefined
        ? "-"
        : `${r.cpu.toFixed(1)} µs${r.redisCpu === undefined ? "" : ` + redis ${r.redisCpu.toFixed(1)} µs`}`
    console.log(
      `${(r.name === "sipfx" ? "sipfx serve" : r.name === "redis" ? "sipfx redis" : r.name).padEnd(12)} ${fmt(registers).padStart(11)}  ${String(r.best?.rate ?? "-").padStart(8)}  ${cpu}${capped}`,
    )
  }
  const get = (n: Name) => results.find((r) => r.name === n)
  const kam = get("kamailio")
  const kamRate = 2 * (kam?.best?.achieved ?? 0)
  for (const r of results) {
    if (r === kam || kam === undefined || kamRate === 0) continue
    const ratio = (100 * 2 * (r.best?.achieved ?? 0)) / kamRate
    const cpuRatio =
      r.cpu !== undefined && kam.cpu !== undefined
        ? ` (CPU per REGISTER ${(r.cpu / kam.cpu).toFixed(1)}× Kamailio's)`
        : ""
    const bound = kam.best?.rate === top ? "≤ " : ""
    console.log(`ratio ${r.name.padEnd(6)}: ${bound}${ratio.toFixed(0)}% of Kamailio's REGISTER/s${cpuRatio}`)
  }
  console.log(`load average after: ${await loadAverage()}`)

  if (!only.includes("memory")) return
  const mem = await run(
    process.execPath,
    ["--expose-gc", "--max-old-space-size=4096", `${root}packages/location/scripts/memory.ts`, "1000000"],
    600_000,
  )
  console.log(`\nin-memory location at 1M bindings: ${mem.out.trim()}`)
}

export { run_ as run }
