/**
 * What an event package (RFC 6665 §7) supplies to the notifier: its name, its body type,
 * how to compute the state of a resource, how to encode it, and when a change is worth a
 * NOTIFY. `S` is the package's state type (a PIDF document, a dialog list, …).
 */
import type { SipRequest } from "@sipfx/message"

export interface EventPackage<S> {
  /** the Event header token (§7.2.1), e.g. `presence` */
  readonly name: string
  /** the body type of NOTIFY (and of PUBLISH, RFC 3903) */
  readonly contentType: string
  /** types a subscriber may name in Accept (the first is the default) */
  readonly accept: ReadonlyArray<string>
  /** seconds granted when SUBSCRIBE has no Expires (§7.2 "Subscription Duration") */
  readonly defaultExpires: number
  readonly minExpires: number
  readonly maxExpires: number
  /** the resource a SUBSCRIBE names (the Request-URI as an AOR); undefined → 404 */
  readonly resourceOf: (request: SipRequest) => string | undefined
  /** the current state of a resource; undefined when nothing is known */
  readonly state: (resource: string) => S | undefined
  /**
   * the NOTIFY body for a watcher (§7.2 "NOTIFY Bodies"); `notify.version` counts the bodies
   * already sent in this subscription (0 for the first), for packages that version their
   * documents per subscription (RFC 4235 §4.1)
   */
  readonly body: (state: S | undefined, resource: string, notify: NotifyContext) => Uint8Array
  /** whether a change from `previous` to `next` deserves a NOTIFY (§7.2 "Notifier generation of NOTIFY requests") */
  readonly changed: (previous: S | undefined, next: S | undefined) => boolean
}

export interface NotifyContext {
  readonly version: number
}

// biome-ignore lint/suspicious/noExplicitAny: a registry holds packages of any state type
export type AnyEventPackage = EventPackage<any>

/** Package names compare case-insensitively (§8.2.1: token, §7.2.1 registered lower case). */
export const nameKey = (name: string): string => name.toLowerCase()

/** Whether the Accept header values allow this package's body (absent Accept: the default type, §7.2). */
export const acceptable = (pkg: AnyEventPackage, accept: ReadonlyArray<string>): boolean => {
  if (accept.length === 0) return true
  const types = accept.map((a) => a.split(";")[0]!.trim().toLowerCase())
  return types.some((t) => t === "*/*" || pkg.accept.some((p) => p === t || t === `${p.split("/")[0]}/*`))
}
