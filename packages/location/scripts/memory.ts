/**
 * Heap bytes per binding of the in-memory LocationService.
 *   node --expose-gc packages/location/scripts/memory.ts [bindings=1000000]
 * Each AOR gets one binding with a realistic Contact, Call-ID and source address
 * (the common registrar case); heap is measured after a full GC before and after.
 */
import { Effect } from "effect"
import { type Aor, MemoryLocation, Registration } from "../src/index.ts"

const n = Number(process.argv[2] ?? 1_000_000)
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error("run with node --expose-gc")

const heap = () => {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

const program = Effect.gen(function* () {
  const loc = yield* MemoryLocation.make()
  const before = heap()
  const t0 = performance.now()
  for (let i = 0; i < n; i++) {
    const aor = `sip:user${i}@example.com` as Aor.Aor
    const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`
    yield* loc.update(
      aor,
      Registration.contacts(`${i.toString(36)}a8f3c1e2b7d94f06@${ip}`, 1, [
        {
          contact: `sip:user${i}@${ip}:5060;transport=udp`,
          expires: 3600,
          received: { transport: "UDP", address: ip, port: 5060 },
        },
      ]),
    )
  }
  const ms = performance.now() - t0
  const after = heap()
  const size = yield* loc.size
  console.log(
    `${size.bindings} bindings: ${((after - before) / size.bindings).toFixed(0)} heap bytes per binding, ` +
      `${((after - before) / 2 ** 20).toFixed(0)} MiB; ${Math.round((n / ms) * 1000)} updates/s`,
  )
})

Effect.runSync(program)
