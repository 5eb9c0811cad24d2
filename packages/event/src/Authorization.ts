/**
 * Who may watch what (RFC 6665 §5.2, RFC 3856 §5.1.2): a replaceable policy consulted for
 * every new subscription. `active` accepts, `pending` accepts without state until a later
 * decision (`Notifier.authorize`), `rejected` answers 403.
 */
import { Context, Effect, Layer } from "effect"

export type Decision = "active" | "pending" | "rejected"

export interface Request {
  /** the watcher: the SUBSCRIBE's From URI */
  readonly watcher: string
  /** the resource (AOR) watched */
  readonly resource: string
  /** the event package */
  readonly event: string
}

export const Authorization = Context.Reference<{ readonly decide: (request: Request) => Effect.Effect<Decision> }>(
  "@sipfx/event/Authorization",
  // default: allow everyone
  { defaultValue: () => ({ decide: () => Effect.succeed("active" as const) }) },
)

export const layer = (decide: (request: Request) => Effect.Effect<Decision>) => Layer.succeed(Authorization, { decide })
