/**
 * `pnpm bench registrar [--seconds 10] [--rates 500,1000,2000,3000,4000,6000,8000]`
 *
 * REGISTER/s with zero failed calls, SIPp against `sipfx serve` (in-memory location) and
 * against Kamailio's registrar (usrloc in memory, one worker, tlsf allocator) with the same
 * scenario and the same rate steps: each step runs `rate × seconds` calls (two REGISTERs
 * each) and the highest step with no failed call counts. Then the heap bytes per binding
 * of the in-memory location service at 1M bindings.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { createSocket } from "node:dgram"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../../../", import.meta.url))
const fixtures = `${root}packages/server/fixtures/`
const kamailioCfg = `${root}packages/bench/kamailio/registrar.cfg`

const arg = (args: ReadonlyArray<string>, name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createSocket("udp4")
    s.bind(0, "127.0.0.1", () => {
      const port = s.address().port
      s.close(() => resolve(port))
    })
  })

const run = (cmd: string, args: ReadonlyArray<string>, timeoutMs: number) =>
  new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], cwd: "/tmp" })
    let out = ""
    child.stdout.on("data", (d: Buffer) => (out += d.toString()))
    child.stderr.on("data", (d: Buffer) => (out += d.toString()))
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
    child.once("exit", (code) => {
      clearTimeout(timer)
      resolve({ code, out })
    })
  })

const waitFor = (child: ChildProcess, pattern: RegExp, ms: number) =>
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

const stop = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null) return resolve()
    const kill = setTimeout(() => child.kill("SIGKILL"), 5_000)
    child.once("exit", () => {
      clearTimeout(kill)
      resolve()
    })
    child.kill("SIGTERM") // by PID: only the process this benchmark started
  })

interface Step {
  readonly rate: number
  readonly ok: boolean
  readonly successful: number
  readonly failed: number
  readonly seconds: number
  /** successful calls per second of wall time, SIPp start to exit */
  readonly achieved: number
}

/** One SIPp run at a fixed call rate; the totals come from its final statistics. */
const step = async (port: number, rate: number, seconds: number): Promise<Step> => {
  const calls = rate * seconds
  const t0 = performance.now()
  const r = await run(
    "sipp",
    [
      `127.0.0.1:${port}`,
      "-sf",
      `${fixtures}bench-register.xml`,
      "-inf",
      `${fixtures}users.csv`,
      "-i",
      "127.0.0.1",
      "-p",
      "0",
      "-r",
      String(rate),
      "-m",
      String(calls),
      "-l",
      String(Math.max(100, rate * 2)),
      "-buff_size",
      "4194304",
      "-nostdin",
      "-timeout",
      String(seconds * 3 + 10),
      "-timeout_error",
      "-trace_screen",
      "-screen_file",
      `/tmp/sipfx-bench-registrar-${process.pid}.screen`,
    ],
    (seconds * 3 + 20) * 1000,
  )
  const elapsed = (performance.now() - t0) / 1000
  const screen = await import("node:fs/promises")
    .then((fs) => fs.readFile(`/tmp/sipfx-bench-registrar-${process.pid}.screen`, "utf8"))
    .catch(() => r.out)
  const num = (label: string) => {
    const m = new RegExp(`${label}\\s*\\|\\s*\\d+\\s*\\|\\s*(\\d+)`).exec(screen)
    return m ? Number(m[1]) : Number.NaN
  }
  const successful = num("Successful call")
  const failed = num("Failed call")
  // a step counts only when every call succeeded and SIPp could keep (90% of) the asked rate
  const achieved = successful / elapsed
  return {
    rate,
    ok: r.code === 0 && failed === 0 && successful === calls && achieved >= 0.9 * rate,
    successful,
    failed,
    seconds: elapsed,
    achieved,
  }
}

const ladder = async (name: string, port: number, rates: ReadonlyArray<number>, seconds: number) => {
  let best: Step | undefined
  for (const rate of rates) {
    const s = await step(port, rate, seconds)
    console.log(
      `${name.padEnd(8)} ${String(rate).padStart(6)} calls/s: ${s.ok ? "ok  " : "FAIL"} ${s.successful} ok, ${s.failed} failed, ${s.seconds.toFixed(1)} s, ${s.achieved.toFixed(0)} calls/s achieved`,
    )
    if (!s.ok) break
    best = s
  }
  return best
}

export const run_ = async (args: ReadonlyArray<string>) => {
  const seconds = Number(arg(args, "seconds", "10"))
  const rates = arg(args, "rates", "500,1000,2000,3000,4000,6000,8000,10000").split(",").map(Number)
  const results: Record<string, number> = {}

  // sipfx serve, in-memory location, UDP on a free loopback port
  {
    const port = await freePort()
    const child = spawn(
      process.execPath,
      [`${root}packages/server/src/main.ts`, "serve", "--listen", `udp://127.0.0.1:${port}`],
      { stdio: ["ignore", "pipe", "pipe"] },
    )
    await waitFor(child, /listening on/, 20_000)
    const best = await ladder("sipfx", port, rates, seconds)
    results.sipfx = Math.round((best?.achieved ?? 0) * 2)
    await stop(child)
  }
  // Kamailio 5.6 registrar (Debian `kamailio`), one worker, tlsf, foreground
  {
    const port = await freePort()
    const child = spawn(
      "kamailio",
      [
        "-f",
        kamailioCfg,
        "-l",
        `udp:127.0.0.1:${port}`,
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
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    )
    await waitFor(child, /Listening on|INFO: <core>|listening/i, 20_000).catch(() => undefined)
    await new Promise((r) => setTimeout(r, 1000))
    const best = await ladder("kamailio", port, rates, seconds)
    results.kamailio = Math.round((best?.achieved ?? 0) * 2)
    await stop(child)
  }
  console.log(`\nREGISTER/s with zero failures (${seconds} s per step, UDP, SIPp ${fixtures}bench-register.xml):`)
  console.log(`  sipfx serve : ${results.sipfx}`)
  console.log(`  kamailio    : ${results.kamailio}`)
  console.log(
    `  ratio       : ${((100 * (results.sipfx ?? 0)) / Math.max(1, results.kamailio ?? 1)).toFixed(0)}% of Kamailio`,
  )

  const mem = await run(
    process.execPath,
    ["--expose-gc", "--max-old-space-size=4096", `${root}packages/location/scripts/memory.ts`, "1000000"],
    600_000,
  )
  console.log(`\nin-memory location at 1M bindings: ${mem.out.trim()}`)
}

export { run_ as run }
