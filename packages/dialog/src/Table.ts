/**
 * The dialogs of a user agent, by id (§12.2.2): an in-dialog request (To tag present) that
 * matches none is answered 481.
 */
import { Message, type SipRequest, type SipResponse } from "@sipfx/message"
import * as Dialog from "./Dialog.ts"
import type { DialogRunner } from "./Runner.ts"

export type Match =
  | { readonly _tag: "Dialog"; readonly dialog: DialogRunner }
  /** no To tag: the request is outside any dialog (§8.2) */
  | { readonly _tag: "OutOfDialog" }
  /** §12.2.2: a To tag that names no dialog → 481 (`response`) */
  | { readonly _tag: "NoDialog"; readonly response: SipResponse }

export class DialogTable {
  private readonly dialogs = new Map<string, DialogRunner>()

  get size(): number {
    return this.dialogs.size
  }

  add(dialog: DialogRunner): void {
    this.dialogs.set(dialog.key, dialog)
  }

  remove(dialog: DialogRunner): void {
    if (this.dialogs.get(dialog.key) === dialog) this.dialogs.delete(dialog.key)
  }

  get(key: string): DialogRunner | undefined {
    return this.dialogs.get(key)
  }

  /** The dialog of a response to a request we sent in it (local tag = From tag). */
  forResponse(response: SipResponse): DialogRunner | undefined {
    const k = Dialog.responseKey(response)
    return k === undefined ? undefined : this.dialogs.get(k)
  }

  /** §12.2.2 matching of an incoming request. */
  match(request: SipRequest): Match {
    if (Message.toTag(request) === undefined) return { _tag: "OutOfDialog" }
    const k = Dialog.requestKey(request)
    const dialog = k === undefined ? undefined : this.dialogs.get(k)
    if (dialog !== undefined && dialog.state !== "Terminated") return { _tag: "Dialog", dialog }
    return { _tag: "NoDialog", response: Message.response(request, 481) }
  }
}
