/**
 * How several server roles share one TransactionLayer: each role names the methods it
 * answers and takes the new server transactions of those methods. The dispatcher owns the
 * TransactionLayer's single `serve` handler and answers what no role claims: OPTIONS (§11.2),
 * CANCEL (§9.2) and 405 with Allow (§8.2.1). A later proxy or presence server is one more Role.
 */
import { Header, Message, type SipRequest } from "@sipfx/message"
import { TransactionLayer } from "@sipfx/transaction"
import { Effect, Layer } from "effect"

export interface Role {
  /** methods answered; `"*"` takes every method no other role names */
  readonly methods: ReadonlyArray<string>
  readonly handle: (tx: TransactionLayer.ServerTransaction) => void
  /** ACK for 2xx and responses matching no transaction (a proxy forwards them statelessly) */
  readonly onStray?: ((stray: TransactionLayer.Stray) => void) | undefined
}

let tagCounter = 0
const tagPrefix = Math.floor(Math.random() * 0xffffffff).toString(36)
const answer = (request: SipRequest, status: number, headers: ReadonlyArray<Header.Header> = []) =>
  Message.response(request, status, undefined, { toTag: `${tagPrefix}d${(tagCounter++).toString(36)}`, headers })

export interface Dispatch {
  readonly allow: ReadonlyArray<string>
  readonly route: (tx: TransactionLayer.ServerTransaction) => void
}

/** A method table over the roles (first role naming a method wins). */
export const make = (
  roles: ReadonlyArray<Role>,
  options: { readonly supported?: ReadonlyArray<string>; readonly wildcardMethods?: ReadonlyArray<string> } = {},
): Dispatch => {
  const table = new Map<string, Role>()
  let fallback: Role | undefined
  for (const role of roles)
    for (const m of role.methods) {
      if (m === "*") fallback ??= role
      else if (!table.has(m)) table.set(m, role)
    }
  // a wildcard role takes the listed methods (INVITE, MESSAGE, …) that no one else answers
  if (fallback !== undefined) for (const m of options.wildcardMethods ?? []) if (!table.has(m)) table.set(m, fallback)
  const allow = [...new Set([...table.keys(), "OPTIONS", "ACK", "CANCEL"])]
  const allowHeader = Header.raw("Allow", allow.join(", "))
  const optionsHeaders = [
    allowHeader,
    Header.raw("Accept", "application/sdp"),
    ...(options.supported !== undefined && options.supported.length > 0
      ? [Header.raw("Supported", options.supported.join(", "))]
      : []),
  ]
  const route = (tx: TransactionLayer.ServerTransaction): void => {
    const method = tx.request.method
    const role = table.get(method)
    if (role !== undefined) {
      role.handle(tx)
      return
    }
    switch (method) {
      case "OPTIONS": // §11.2: our capabilities
        tx.respond(answer(tx.request, 200, optionsHeaders))
        return
      case "CANCEL": // §9.2: 200 when it matches a transaction; the roles answer their INVITEs at once
        tx.respond(answer(tx.request, tx.cancelMatched ? 200 : 481))
        return
      default: // §8.2.1
        tx.respond(answer(tx.request, 405, [allowHeader]))
    }
  }
  return { allow, route }
}

/** Subscribes the dispatcher to the TransactionLayer for the Layer's lifetime. */
export const layer = <R>(
  roles: Effect.Effect<ReadonlyArray<Role>, never, R>,
  options?: Parameters<typeof make>[1],
): Layer.Layer<never, never, R | TransactionLayer.TransactionLayer> =>
  Layer.effectDiscard(
    Effect.gen(function* () {
      const all = yield* roles
      const dispatch = make(all, options)
      const transactions = yield* TransactionLayer.TransactionLayer
      yield* transactions.serve(dispatch.route)
      // the TransactionLayer has one stray handler: the first role that wants strays gets them
      const stray = all.find((r) => r.onStray !== undefined)?.onStray
      if (stray !== undefined) yield* transactions.onStray(stray)
    }),
  )
