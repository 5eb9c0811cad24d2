/**
 * `pnpm bench parse`: receive-path parsing throughput of sipfx against JsSIP, SIP.js and
 * `sip`, on the same corpus in the same process, plus how many of RFC 4475's invalid
 * messages each one rejects.
 *
 * Options: `--rounds N` (default 5), `--ms N` per round (default 1000), `--warmup N` (ms),
 * `--only NAME[,NAME]` to run some parsers (e.g. under `node --cpu-prof`), `--per-message` for
 * one row per corpus message (sipfx and sip unless `--only` says otherwise).
 */
import { compare, defaults, type Options, table } from "../Measure.ts"
import { corpus, type Extract, type Sample } from "./Corpus.ts"
import { all, type ParserAdapter } from "./Parsers.ts"
import { invalid } from "./Torture.ts"

const same = (a: Extract | undefined, b: Extract): boolean =>
  a !== undefined &&
  a.callId === b.callId &&
  a.cseq === b.cseq &&
  a.method === b.method &&
  a.fromTag === b.fromTag &&
  a.toTag === b.toTag &&
  a.branch === b.branch &&
  a.contactUser === b.contactUser &&
  a.contactHost === b.contactHost &&
  a.bodyLength === b.bodyLength

/** Names of corpus samples the parser decodes wrongly (or throws on). */
export const corpusMismatches = (parser: ParserAdapter, samples: ReadonlyArray<Sample> = corpus): Array<string> =>
  samples
    .filter((s) => {
      try {
        return !same(parser.decode(s.bytes), s.expect)
      } catch {
        return true
      }
    })
    .map((s) => s.name)

export interface Rejections {
  readonly rejected: number
  readonly threw: number
  readonly accepted: ReadonlyArray<string>
}

/** RFC 4475 invalid messages: rejected (undefined result) or thrown on; which were accepted. */
export const rejections = (parser: ParserAdapter): Rejections => {
  let rejected = 0
  let threw = 0
  const accepted: Array<string> = []
  for (const m of invalid()) {
    try {
      if (parser.decode(m.bytes) === undefined) rejected++
      else accepted.push(m.file)
    } catch {
      threw++
    }
  }
  return { rejected, threw, accepted }
}

const option = (args: ReadonlyArray<string>, name: string, fallback: number): number => {
  const i = args.indexOf(name)
  const v = i >= 0 ? Number(args[i + 1]) : Number.NaN
  return Number.isFinite(v) && v > 0 ? v : fallback
}

const contender = (parser: ParserAdapter, samples: ReadonlyArray<Sample>, checksums: Array<number>, k: number) => ({
  batch: samples.length,
  step: (i: number) => {
    const sample = samples[i]!
    const d = parser.decode(sample.bytes)
    if (d !== undefined) checksums[k]! += d.cseq + d.branch.length + d.bodyLength
    return sample.bytes.length
  },
})

const perMessage = (parsers: ReadonlyArray<ParserAdapter>, options: Options): void => {
  const checksums = parsers.map(() => 0)
  const rows = corpus.map((sample) => {
    const rates = compare(
      parsers.map((p, k) => contender(p, [sample], checksums, k)),
      options,
    )
    const base = rates[parsers.findIndex((p) => p.name === "sip")]?.perSecond ?? Number.NaN
    return [
      sample.name,
      String(sample.bytes.length),
      ...rates.map((r) => Math.round(r.perSecond).toLocaleString("en-US")),
      ...(parsers[0]?.name === "sipfx" && !Number.isNaN(base)
        ? [`${((rates[0]?.perSecond ?? 0) / base).toFixed(2)}x`]
        : []),
    ]
  })
  const header = ["message", "bytes", ...parsers.map((p) => `${p.name} msgs/s`)]
  if (parsers[0]?.name === "sipfx" && parsers.some((p) => p.name === "sip")) header.push("sipfx/sip")
  console.log()
  console.log(table(header, rows))
  console.log(`(checksums ${checksums.map((c) => c % 1000).join(" ")})`)
}

export const run = (args: ReadonlyArray<string>): void => {
  const options: Options = {
    rounds: option(args, "--rounds", defaults.rounds),
    roundMs: option(args, "--ms", defaults.roundMs),
    warmupMs: option(args, "--warmup", defaults.warmupMs),
  }
  const onlyAt = args.indexOf("--only")
  const only = onlyAt >= 0 ? (args[onlyAt + 1] ?? "").split(",") : undefined
  const per = args.includes("--per-message")
  const chosen = only ?? (per ? ["sipfx", "sip"] : undefined)
  const parsers = chosen === undefined ? all : all.filter((p) => chosen.includes(p.name))
  const sizes = corpus.map((s) => s.bytes.length)
  const total = sizes.reduce((a, b) => a + b, 0)
  const torture = invalid().length
  console.log(
    `parse: ${corpus.length} messages (${total} bytes, ${Math.round(total / corpus.length)} B average), ` +
      `${options.rounds} interleaved rounds of ${options.roundMs} ms after ${options.warmupMs} ms warm-up, median; node ${process.version}`,
  )
  if (per) {
    perMessage(parsers, options)
    return
  }
  const checksums = parsers.map(() => 0)
  const rates = compare(
    parsers.map((p, k) => contender(p, corpus, checksums, k)),
    options,
  )
  const results = parsers.map((parser, k) => ({
    parser,
    bad: corpusMismatches(parser),
    rej: rejections(parser),
    rate: rates[k]!,
    checksum: checksums[k]!,
  }))
  const base = results.find((r) => r.parser.name === "sip")?.rate.perSecond ?? Number.NaN
  console.log()
  console.log(
    table(
      ["parser", "msgs/s", "MB/s", "vs sip", "corpus ok", `RFC 4475 invalid rejected`, "threw"],
      results.map((r) => [
        r.parser.name,
        Math.round(r.rate.perSecond).toLocaleString("en-US"),
        (r.rate.bytesPerSecond / 1e6).toFixed(1),
        `${(r.rate.perSecond / base).toFixed(2)}x`,
        `${corpus.length - r.bad.length}/${corpus.length}`,
        `${r.rej.rejected}/${torture}`,
        String(r.rej.threw),
      ]),
    ),
  )
  console.log()
  for (const r of results) {
    if (r.bad.length > 0) console.log(`${r.parser.name}: decoded wrongly: ${r.bad.join(", ")}`)
    console.log(`${r.parser.name}: accepted invalid: ${r.rej.accepted.join(" ") || "none"}`)
  }
  console.log(`(checksums ${results.map((r) => r.checksum % 1000).join(" ")})`)
}
