/**
 * The proxy Layer in a process, for `pnpm bench proxy`:
 * `node packages/bench/src/proxy-server.ts PORT stateful|stateless [memory]`.
 * UDP on 127.0.0.1:PORT; the Request-URI is the target (a foreign domain), next hops loopback only.
 * With `memory`, each SIGUSR2 prints one line `memory {…}`: `process.memoryUsage()`, the heap
 * used right after the last major GC (the live heap, without the garbage a sample may catch), and
 * the GC pause time and longest pause since the previous line. Run with `--expose-gc`, a SIGUSR2
 * at least 30 s after the last one that did collects first (a full GC): V8 runs major GCs only
 * every minute or two at 1,700 calls/s, too few points for a slope over a 10-minute soak.
 */

import { constants, PerformanceObserver } from "node:perf_hooks"
import { MemoryLocation } from "@sipfx/location"
import { NextHops, Router, StatefulProxy, StatelessProxy } from "@sipfx/proxy"
import { TransactionLayer } from "@sipfx/transaction"
import { NodeTransport, Resolver } from "@sipfx/transport"
import { Effect, Layer } from "effect"

const port = Number(process.argv[2])
const mode = process.argv[3] ?? "stateful"
// 4 MiB receive buffer, as `sipfx serve`: a GC pause must not overflow it into retransmissions
const transport = NodeTransport.layer({
  listen: [`udp://127.0.0.1:${port}`],
  limits: { udpReceiveBuffer: 4 * 1024 * 1024 },
})
const base = Layer.mergeAll(Resolver.memory({}), MemoryLocation.layer())
const router = Router.location({ foreign: "forward" })

const stateless = StatelessProxy.serve.pipe(
  Layer.provideMerge(StatelessProxy.layer({ nextHops: NextHops.loopback })),
  Layer.provideMerge(router),
  Layer.provideMerge(base),
  Layer.provideMerge(transport),
)
const stateful = StatefulProxy.serve.pipe(
  Layer.provideMerge(StatefulProxy.layer({ nextHops: NextHops.loopback })),
  Layer.provideMerge(router),
  Layer.provideMerge(TransactionLayer.layer()),
  Layer.provideMerge(base),
  Layer.provideMerge(transport),
)

const launch = <A, E>(layer: Layer.Layer<A, E>) =>
  Effect.runFork(
    Layer.launch(
      Layer.effectDiscard(Effect.sync(() => console.log(`${mode} proxy listening on udp 127.0.0.1:${port}`))).pipe(
        Layer.provideMerge(layer),
      ),
    ),
  )
if (mode === "stateless") launch(stateless)
else launch(stateful)
process.on("SIGTERM", () => process.exit(0))

if (process.argv[4] === "memory") {
  let afterMajorGc = Number.NaN
  let majorGcs = 0
  // pauses since the last report: a long one is what turns into retransmissions
  let gcMs = 0
  let gcMaxMs = 0
  let gcMaxKind = ""
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const detail = (e as { detail?: { kind?: number; flags?: number } }).detail
      const kind = detail?.kind
      gcMs += e.duration
      if (e.duration > gcMaxMs) {
        gcMaxMs = e.duration
        gcMaxKind =
          kind === constants.NODE_PERFORMANCE_GC_MAJOR
            ? "major"
            : kind === constants.NODE_PERFORMANCE_GC_MINOR
              ? "minor"
              : "other"
      }
      // a forced one was counted when it ran, with the heap right after it
      if (
        kind !== constants.NODE_PERFORMANCE_GC_MAJOR ||
        (detail!.flags! & constants.NODE_PERFORMANCE_GC_FLAGS_FORCED) !== 0
      )
        continue
      majorGcs++
      afterMajorGc = process.memoryUsage().heapUsed
    }
  }).observe({ entryTypes: ["gc"] })
  const collect = (globalThis as { gc?: () => void }).gc
  let collectedAt = 0
  process.on("SIGUSR2", () => {
    if (collect !== undefined && performance.now() - collectedAt >= 30_000) {
      collectedAt = performance.now()
      collect()
      afterMajorGc = process.memoryUsage().heapUsed
      majorGcs++
    }
    console.log(
      `memory ${JSON.stringify({ ...process.memoryUsage(), afterMajorGc, majorGcs, gcMs, gcMaxMs, gcMaxKind })}`,
    )
    gcMs = 0
    gcMaxMs = 0
    gcMaxKind = ""
  })
}
