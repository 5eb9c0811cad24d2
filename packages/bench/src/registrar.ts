/**
 * `pnpm bench registrar [--seconds 10] [--rates 500,1000,2000,3000,4000,6000,8000]`
 *
 * REGISTER/s with zero failed calls, SIPp against `sipfx serve` (in-memory location) and
 * against Kamailio's registrar (usrloc in memory, one worker, tlsf allocator) with the same
 * scenario and the same rate steps: each step runs `rate × seconds` calls (two REGISTERs
 * each) and the highest step with no failed call counts. Then the heap bytes per binding
 * of the in-memory location service at 1M bindings.
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { arg, freePort, kamailio, ladder, run, sippStep, stop, waitFor } from "./Peers.ts"

const root = fileURLToPath(new URL("../../../", import.meta.url))
const fixtures = `${root}packages/server/fixtures/`
const kamailioCfg = `${root}packages/bench/kamailio/registrar.cfg`

const scenario = ["-sf", `${fixtures}bench-register.xml`, "-inf", `${fixtures}users.csv`]
const step = (port: number, seconds: number) => (rate: number) => sippStep(`127.0.0.1:${port}`, scenario, rate, seconds)

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
    const best = await ladder("sipfx", rates, step(port, seconds))
    results.sipfx = Math.round((best?.achieved ?? 0) * 2)
    await stop(child)
  }
  // Kamailio 5.6 registrar (Debian `kamailio`), one worker, tlsf, foreground
  {
    const port = await freePort()
    const child = await kamailio(kamailioCfg, port)
    const best = await ladder("kamailio", rates, step(port, seconds))
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
