/**
 * The `dialog` event package (RFC 4235) at a user agent: the UA reports each transition of
 * its dialog FSMs (§3.7.1) to `observe`, the package keeps the current dialogs of the
 * observed user, and the RFC 6665 notifier sends every watcher a full-state
 * `application/dialog-info+xml` document, versioned per subscription (§4.1). A terminated
 * dialog is reported once and then forgotten.
 */
import type { EventPackage } from "@sipfx/event"
import { Aor } from "@sipfx/location"
import { type SipRequest, Uri } from "@sipfx/message"
import * as DialogInfo from "./DialogInfo.ts"

/** One FSM transition as a UA reports it (`@sipfx/ua`'s `Config.dialogEvents` gives these). */
export interface CallEvent {
  /** the FSM's id: stable from the INVITE on, a new one for each extra fork (§4.1.1) */
  readonly id: string
  readonly callId: string
  readonly localTag: string
  readonly remoteTag?: string | undefined
  readonly direction: DialogInfo.Direction
  readonly state: DialogInfo.State
  readonly event?: DialogInfo.TerminationEvent | undefined
  readonly code?: number | undefined
  /** local and remote URIs (§4.1.6.1) */
  readonly local: string
  readonly remote: string
  /** the remote target once known (§4.1.6.2) */
  readonly remoteTarget?: string | undefined
}

export interface Options {
  /** the observed user's AOR: the only resource this package serves */
  readonly entity: string
  readonly expires?: { readonly min: number; readonly max: number; readonly default: number } | undefined
  /** ms clock for `duration` (§4.1.3) */
  readonly now?: (() => number) | undefined
}

export interface DialogState {
  readonly package: EventPackage.EventPackage<ReadonlyArray<DialogInfo.Dialog>>
  /** an FSM transition at the UA */
  readonly observe: (event: CallEvent) => void
  /** told after each transition (wire it to `Notifier.changed("dialog", resource)`) */
  readonly onChange: (listener: (resource: string) => void) => void
  readonly dialogs: () => ReadonlyArray<DialogInfo.Dialog>
  /** the observed user as a resource key */
  readonly resource: string
}

const canonical = (uri: string): string => {
  try {
    return Aor.canonical(Uri.parse(uri))
  } catch {
    return uri
  }
}

export const make = (options: Options): DialogState => {
  const resource = canonical(options.entity)
  const now = options.now ?? Date.now
  const rows = new Map<string, { dialog: DialogInfo.Dialog; created: number }>()
  const listeners: Array<(resource: string) => void> = []
  let snapshot: ReadonlyArray<DialogInfo.Dialog> = []
  const expires = options.expires ?? { min: 60, max: 7200, default: 3600 }

  const snap = (): ReadonlyArray<DialogInfo.Dialog> =>
    [...rows.values()].map(({ dialog, created }) => ({
      ...dialog,
      duration: Math.max(0, Math.floor((now() - created) / 1000)),
    }))

  const observe = (e: CallEvent): void => {
    const known = rows.get(e.id)
    const dialog: DialogInfo.Dialog = {
      id: e.id,
      callId: e.callId,
      localTag: e.localTag,
      remoteTag: e.remoteTag ?? known?.dialog.remoteTag,
      direction: e.direction,
      state: e.state,
      event: e.state === "terminated" ? e.event : undefined,
      code: e.code,
      local: { identity: { uri: e.local } },
      remote: {
        identity: { uri: e.remote },
        target: e.remoteTarget === undefined ? known?.dialog.remote?.target : { uri: e.remoteTarget, params: [] },
      },
    }
    // Figure 3: nothing leaves terminated, and an unchanged state is no transition
    if (known !== undefined && (known.dialog.state === "terminated" || known.dialog.state === dialog.state)) return
    rows.set(e.id, { dialog, created: known?.created ?? now() })
    snapshot = snap()
    // a terminated dialog is reported in this NOTIFY, then dropped (§4.3 lets the subscriber drop it too)
    if (dialog.state === "terminated") rows.delete(e.id)
    for (const l of listeners) l(resource)
    snapshot = snap()
  }

  const pkg: EventPackage.EventPackage<ReadonlyArray<DialogInfo.Dialog>> = {
    name: "dialog",
    contentType: DialogInfo.contentType,
    accept: [DialogInfo.contentType],
    defaultExpires: expires.default,
    minExpires: expires.min,
    maxExpires: expires.max,
    // §3.1: the Request-URI names the user whose dialogs are watched
    resourceOf: (request: SipRequest) => {
      if (request.uri._tag !== "SipUri" || request.uri.user === undefined) return undefined
      const aor = Aor.canonical(request.uri)
      return aor === resource ? aor : undefined
    },
    state: (r) => (r === resource ? snapshot : undefined),
    // §3.7: a NOTIFY after SUBSCRIBE carries every dialog; we always send full state
    body: (dialogs, _r, notify) =>
      DialogInfo.encode({ version: notify.version, state: "full", entity: options.entity, dialogs: dialogs ?? [] }),
    changed: (a, b) => a !== b,
  }

  return {
    package: pkg,
    observe,
    onChange: (l) => void listeners.push(l),
    dialogs: () => snapshot,
    resource,
  }
}
