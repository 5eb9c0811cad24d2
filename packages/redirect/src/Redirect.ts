/**
 * A redirect server (RFC 3261 §8.3, §21.3): answers a request with the contacts the location
 * service holds for its Request-URI — 302 for one, 300 for several (q order, with their
 * remaining expiry) — or with a configured static mapping; 480 when a known user has no
 * binding, 404 otherwise. A role like the registrar: `methods`, `process`, `handle`.
 */
import { Aor, Binding, LocationService } from "@sipfx/location"
import { Header, Message, type SipRequest, type SipResponse, Uri } from "@sipfx/message"
import { TransactionLayer } from "@sipfx/transaction"
import { Clock, Context, Effect, Layer } from "effect"

export interface Options {
  /** AOR (any URI text; compared in canonical form) → contact URIs answered with 302/300 */
  readonly mappings?: Readonly<Record<string, ReadonlyArray<string>>> | undefined
  /** users (AOR user parts) known here: without a binding they get 480 rather than 404 */
  readonly users?: ReadonlyArray<string> | undefined
  /** methods answered (default: every method but REGISTER, ACK, CANCEL and OPTIONS) */
  readonly methods?: ReadonlyArray<string> | undefined
}

export interface RedirectShape {
  /** methods this role answers; `"*"` stands for any method no other role claims */
  readonly methods: ReadonlyArray<string>
  readonly process: (request: SipRequest) => Effect.Effect<SipResponse>
  readonly handle: (tx: TransactionLayer.ServerTransaction) => void
}

export class Redirect extends Context.Service<Redirect, RedirectShape>()("@sipfx/redirect/Redirect") {}

let tagCounter = 0
const tagPrefix = Math.floor(Math.random() * 0xffffffff).toString(36)

const answer = (request: SipRequest, status: number, headers: ReadonlyArray<Header.Header> = [], reason?: string) =>
  Message.response(request, status, reason, { toTag: `${tagPrefix}r${(tagCounter++).toString(36)}`, headers })

const formatQ = (q: number): string => String(Math.round(q * 1000) / 1000)

/** §20.10 / §21.3: the Contact list of a 3xx, best first. */
export const contactsOf = (bindings: ReadonlyArray<Binding.Binding>, now: number): Array<Header.Header> =>
  bindings.map((b) => {
    let value = `<${b.contact}>`
    if (b.q !== undefined) value += `;q=${formatQ(b.q)}`
    value += `;expires=${Binding.remaining(b, now)}`
    return Header.raw("Contact", value)
  })

export const make = (options: Options = {}): Effect.Effect<RedirectShape, never, LocationService> =>
  Effect.gen(function* () {
    const location = yield* LocationService
    const context = yield* Effect.context<never>()
    const users = options.users === undefined ? undefined : new Set(options.users)
    const mappings = new Map<string, ReadonlyArray<string>>()
    for (const [from, to] of Object.entries(options.mappings ?? {})) {
      const aor = Aor.fromString(from)
      if (typeof aor === "string") mappings.set(aor, to)
    }

    const process = (request: SipRequest): Effect.Effect<SipResponse> => {
      const uri = request.uri
      // §8.2.2.1: we can only look up SIP, SIPS and tel targets
      if (uri._tag === "AbsoluteUri") return Effect.succeed(answer(request, 416))
      const aor = Aor.canonical(uri)
      const mapped = mappings.get(aor)
      if (mapped !== undefined && mapped.length > 0)
        return Effect.succeed(
          answer(
            request,
            mapped.length === 1 ? 302 : 300,
            mapped.map((c) => Header.raw("Contact", `<${c}>`)),
          ),
        )
      return Effect.gen(function* () {
        const bindings = yield* location.lookup(aor)
        if (bindings.length === 0) {
          const user = uri._tag === "SipUri" && uri.user !== undefined ? Uri.decodeEscapes(uri.user) : undefined
          // §21.4.18: 480 when the callee is known but not reachable now; §21.4.5: 404 otherwise
          return user !== undefined && users?.has(user) === true ? answer(request, 480) : answer(request, 404)
        }
        const now = yield* Clock.currentTimeMillis
        return answer(request, bindings.length === 1 ? 302 : 300, contactsOf(bindings, now))
      }).pipe(Effect.catch((e) => Effect.succeed(answer(request, 500, [], `Server Internal Error (${e.reason})`))))
    }

    const run = Effect.runForkWith(context)
    const handle = (tx: TransactionLayer.ServerTransaction): void => {
      run(Effect.map(process(tx.request), (response) => tx.respond(response)))
    }
    return { methods: options.methods ?? ["*"], process, handle }
  })

export const layer = (options: Options = {}): Layer.Layer<Redirect, never, LocationService> =>
  Layer.effect(
    Redirect,
    Effect.map(make(options), (shape) => Redirect.of(shape)),
  )

/** The redirect server as the only role of a TransactionLayer (CANCEL: 200 when it matches, else 481). */
export const serve: Layer.Layer<never, never, Redirect | TransactionLayer.TransactionLayer> = Layer.effectDiscard(
  Effect.gen(function* () {
    const redirect = yield* Redirect
    const transactions = yield* TransactionLayer.TransactionLayer
    yield* transactions.serve((tx) => {
      if (tx.request.method === "CANCEL") tx.respond(answer(tx.request, tx.cancelMatched ? 200 : 481))
      else redirect.handle(tx)
    })
  }),
)
