/**
 * The registrar (RFC 3261 §10.3): answers REGISTER server transactions from the location
 * service. The service is a role: `methods` it answers and `handle(tx)` for a new server
 * transaction, so a server can route several roles over one TransactionLayer; `serve` is the
 * Layer for a process where the registrar is the only role.
 */
import { Authenticator, Challenge, Credentials } from "@sipfx/auth"
import { Binding, LocationService, type LocationStoreError, Registration } from "@sipfx/location"
import { Header, Message, type SipRequest, type SipResponse } from "@sipfx/message"
import { TransactionLayer } from "@sipfx/transaction"
import type { Source } from "@sipfx/transport"
import { Clock, Context, Data, Effect, Layer, Option } from "effect"
import { type Options, type Resolved, resolve } from "./Options.ts"
import * as Register from "./Register.ts"
import { Rejection, reject } from "./Rejection.ts"

export interface RegistrarShape {
  /** request methods this role answers */
  readonly methods: ReadonlyArray<string>
  /** the final response to a REGISTER (every §10.3 step); never fails */
  readonly process: (request: SipRequest, source?: Source) => Effect.Effect<SipResponse>
  /** answers a new server transaction (runs `process`, then `respond`) */
  readonly handle: (tx: TransactionLayer.ServerTransaction) => void
}

export class Registrar extends Context.Service<Registrar, RegistrarShape>()("@sipfx/registrar/Registrar") {}

/** The registrar cannot be built as configured. */
export class RegistrarConfigError extends Data.TaggedError("RegistrarConfigError")<{ readonly reason: string }> {}

let tagCounter = 0
const tagPrefix = Math.floor(Math.random() * 0xffffffff).toString(36)
/** §8.2.6.2: a UAS adds a To tag to its responses; unique per response is enough for REGISTER. */
export const toTag = (): string => `${tagPrefix}${(tagCounter++).toString(36)}`

export const respondWith = (
  request: SipRequest,
  status: number,
  reason?: string,
  headers?: ReadonlyArray<Header.Header>,
) => Message.response(request, status, reason, { toTag: toTag(), headers: headers ?? [] })

const fromRejection = (request: SipRequest, r: Rejection): SipResponse =>
  respondWith(request, r.status, r.reason, r.headers)

const formatQ = (q: number): string => String(Math.round(q * 1000) / 1000)

/** §20.17: the Date of a 200 has a one-second resolution, so one field serves a whole second. */
let dateSecond = Number.NaN
let dateHeader: Header.Header = Header.raw("Date", new Date(0).toUTCString())
export const dateAt = (now: number): Header.Header => {
  const second = Math.floor(now / 1000)
  if (second !== dateSecond) {
    dateSecond = second
    dateHeader = Header.raw("Date", new Date(second * 1000).toUTCString())
  }
  return dateHeader
}

/** §10.3 step 8: every current binding with its remaining time, and a Date header. */
const okResponse = (
  request: SipRequest,
  bindings: ReadonlyArray<Binding.Binding>,
  now: number,
  path: ReadonlyArray<string>,
): SipResponse => {
  const headers: Array<Header.Header> = []
  for (const b of bindings) {
    let value = `<${b.contact}>;expires=${Binding.remaining(b, now)}`
    if (b.q !== undefined) value += `;q=${formatQ(b.q)}`
    if (b.instanceId !== undefined) value += `;+sip.instance="${b.instanceId}"`
    if (b.regId !== undefined) value += `;reg-id=${b.regId}`
    headers.push(Header.raw("Contact", value))
  }
  // RFC 3327 §5.3: the Path values are copied into the 200
  if (path.length > 0) {
    for (const p of path) headers.push(Header.raw("Path", p))
    headers.push(Header.raw("Supported", "path"))
  }
  headers.push(dateAt(now))
  return respondWith(request, 200, "OK", headers)
}

/** An outcome before it becomes a response: decided now, or an Effect when a step needs I/O. */
type Outcome = SipResponse | Rejection | Effect.Effect<SipResponse, Rejection>

const isResponse = (o: Outcome): o is SipResponse => (o as { _tag?: unknown })._tag === "SipResponse"

const lift = (o: Outcome): Effect.Effect<SipResponse, Rejection> =>
  o instanceof Rejection ? Effect.fail(o) : isResponse(o) ? Effect.succeed(o) : o

/** §10.3 step 7: what the store's refusal means for the REGISTER. */
const updateRejection = (
  e: Registration.RegistrationConflict | Registration.InvalidChange | LocationStoreError,
): Rejection =>
  e._tag === "RegistrationConflict"
    ? reject(
        500,
        "CSeq not higher than the binding's for the same Call-ID (§10.3 step 7)",
        undefined,
        "Server Internal Error (out of order REGISTER)",
      )
    : e._tag === "InvalidChange"
      ? reject(400, `${e.contact}: ${e.reason}`)
      : reject(500, e.reason)

/**
 * Builds the registrar over a LocationService (and Credentials when `auth` is configured).
 * Without authentication and over a store with `updateSync` (the in-memory one) every step
 * runs as plain calls inside the transport's receive callback: no fiber per REGISTER.
 */
export const make = (options: Options = {}): Effect.Effect<RegistrarShape, RegistrarConfigError, LocationService> =>
  Effect.gen(function* () {
    const location = yield* LocationService
    const credentials = yield* Effect.serviceOption(Credentials)
    const clock = yield* Clock.Clock
    const resolved: Resolved = resolve(options)
    const auth = options.auth === undefined ? undefined : Authenticator.make({ ...options.auth, kind: "www" })
    if (auth !== undefined && Option.isNone(credentials))
      return yield* Effect.fail(new RegistrarConfigError({ reason: "auth configured without a Credentials service" }))
    const context = yield* Effect.context<never>()
    const { updateSync, lookupSync } = location

    // §10.3 step 3: digest authentication (401 with a challenge per algorithm)
    const authenticate = (request: SipRequest): Effect.Effect<string | Rejection | undefined> => {
      if (auth === undefined || Option.isNone(credentials)) return Effect.succeed(undefined)
      return auth.verify(request).pipe(
        Effect.provideService(Credentials, credentials.value),
        Effect.flatMap((result): Effect.Effect<string | Rejection> => {
          if (result._tag === "Ok") return Effect.succeed(result.username)
          return Effect.map(auth.challenge({ stale: result._tag === "Stale" }), (values) =>
            reject(401, `authentication: ${result._tag}`, Challenge.toHeaders("www", "challenge", values)),
          )
        }),
        Effect.catchTags({
          MalformedAuth: (e) => Effect.succeed(reject(400, `malformed credentials: ${e.reason}`)),
          CredentialsError: (e) => Effect.succeed(reject(500, `credentials store: ${e.reason}`)),
        }),
      )
    }

    // §10.3 steps 4–8, once the user (if any) is authenticated
    const bind = (request: SipRequest, source: Source | undefined, username: string | undefined): Outcome => {
      const t = Register.target(request, resolved)
      if (t instanceof Rejection) return t
      // §10.3 step 4: the authenticated user may change this AOR's bindings
      if (username !== undefined && !resolved.authorize(username, { user: t.user, text: t.aor }))
        return reject(403, `${username} may not register ${t.aor}`)
      const p = Register.plan(request, source, resolved)
      if (p instanceof Rejection) return p
      if (p._tag === "Query") {
        if (lookupSync !== undefined) return okResponse(request, lookupSync(t.aor), clock.currentTimeMillisUnsafe(), [])
        return location.lookup(t.aor).pipe(
          Effect.mapError((e) => reject(500, e.reason)),
          Effect.map((bindings) => okResponse(request, bindings, clock.currentTimeMillisUnsafe(), [])),
        )
      }
      // §10.3 step 7: all or nothing; a stale Call-ID/CSeq or a store failure is a 500
      if (updateSync !== undefined) {
        const result = updateSync(t.aor, p.changes)
        if (result instanceof Registration.RegistrationConflict || result instanceof Registration.InvalidChange)
          return updateRejection(result)
        return okResponse(request, result.bindings, clock.currentTimeMillisUnsafe(), p.path)
      }
      return location.update(t.aor, p.changes).pipe(
        Effect.mapError(updateRejection),
        Effect.map((result) => okResponse(request, result.bindings, clock.currentTimeMillisUnsafe(), p.path)),
      )
    }

    const steps = (request: SipRequest, source: Source | undefined): Outcome => {
      const invalid =
        Register.validate(request) ??
        Register.checkDomain(request, resolved) ??
        Register.checkExtensions(request, resolved)
      if (invalid !== undefined) return invalid
      if (auth === undefined) return bind(request, source, undefined)
      return Effect.flatMap(authenticate(request), (username) =>
        username instanceof Rejection ? Effect.fail(username) : lift(bind(request, source, username)),
      )
    }

    const recover = (request: SipRequest) => (effect: Effect.Effect<SipResponse, Rejection>) =>
      effect.pipe(
        Effect.catch((r: Rejection) => Effect.succeed(fromRejection(request, r))),
        Effect.catchDefect((defect) =>
          Effect.logError("registrar defect", defect).pipe(
            Effect.as(respondWith(request, 500, "Server Internal Error")),
          ),
        ),
      )

    const process = (request: SipRequest, source?: Source): Effect.Effect<SipResponse> =>
      recover(request)(Effect.suspend(() => lift(steps(request, source))))

    const runCallback = Effect.runCallbackWith(context)
    const handle = (tx: TransactionLayer.ServerTransaction): void => {
      const request = tx.request
      let outcome: Outcome
      try {
        outcome = steps(request, tx.source)
      } catch (defect) {
        // the Effect path logs and answers 500 the same way
        outcome = Effect.die(defect)
      }
      if (outcome instanceof Rejection) tx.respond(fromRejection(request, outcome))
      else if (isResponse(outcome)) tx.respond(outcome)
      else
        runCallback(recover(request)(outcome), {
          onExit: (exit) => {
            if (exit._tag === "Success") tx.respond(exit.value)
          },
        })
    }

    return { methods: ["REGISTER"], process, handle }
  })

export const layer = (options: Options = {}): Layer.Layer<Registrar, RegistrarConfigError, LocationService> =>
  Layer.effect(
    Registrar,
    Effect.map(make(options), (shape) => Registrar.of(shape)),
  )

/**
 * The registrar as the only role of a TransactionLayer: REGISTER is answered, every other
 * request gets 405 with `Allow: REGISTER` (§8.2.1) — CANCEL excepted: 200 when it matches a
 * transaction (an INVITE already answered 405, §9.2), else 481.
 */
export const serve: Layer.Layer<never, never, Registrar | TransactionLayer.TransactionLayer> = Layer.effectDiscard(
  Effect.gen(function* () {
    const registrar = yield* Registrar
    const transactions = yield* TransactionLayer.TransactionLayer
    yield* transactions.serve((tx) => {
      const method = tx.request.method
      if (method === "REGISTER") registrar.handle(tx)
      else if (method === "CANCEL") tx.respond(respondWith(tx.request, tx.cancelMatched ? 200 : 481))
      else tx.respond(respondWith(tx.request, 405, undefined, [Header.raw("Allow", "REGISTER")]))
    })
  }),
)
