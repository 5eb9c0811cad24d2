/**
 * `pnpm bench <name> [options]`: one module per benchmark, loaded on demand so that one
 * benchmark's dependencies never stop another from running.
 */
const benchmarks: Record<string, () => Promise<{ run: (args: ReadonlyArray<string>) => void | Promise<void> }>> = {
  parse: () => import("./parse/Bench.ts"),
  proxy: () => import("./proxy.ts"),
  registrar: () => import("./registrar.ts"),
  "registrar-pipeline": () => import("./registrar-pipeline.ts"),
  transaction: () => import("./transaction.ts"),
  transport: () => import("./transport.ts"),
}

const [name, ...args] = process.argv.slice(2)
const load = name === undefined ? undefined : benchmarks[name]
if (load === undefined) {
  console.error(`usage: pnpm bench <${Object.keys(benchmarks).join(" | ")}> [options]`)
  process.exit(2)
}
await (await load()).run(args)
