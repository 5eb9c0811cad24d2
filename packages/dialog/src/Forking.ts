/**
 * The UAC side of a forked INVITE (RFC 3261 §13.2.2.4): each 1xx with a new To tag creates an
 * early dialog, every 2xx is acknowledged, the first 2xx's dialog is the session's, and each
 * later 2xx with another tag creates a confirmed dialog that is ended with a BYE.
 */
import { Message, type SipRequest, type SipResponse } from "@sipfx/message"
import * as Dialog from "./Dialog.ts"
import { DialogRunner } from "./Runner.ts"

export type Outcome =
  /** 100, or a provisional without a To tag: no dialog */
  | { readonly _tag: "NoDialog" }
  /** a provisional with a To tag; `created` when it opened this early dialog */
  | { readonly _tag: "Early"; readonly dialog: DialogRunner; readonly created: boolean }
  /** a 2xx of the session's dialog: send the ACK (again, for a retransmission) */
  | { readonly _tag: "Confirmed"; readonly dialog: DialogRunner; readonly retransmission: boolean }
  /** a 2xx from another fork: ACK it, and send BYE the first time (`bye`) */
  | { readonly _tag: "Extra"; readonly dialog: DialogRunner; readonly bye: boolean }
  /** a final 300–699: every early dialog is over (§12.3) */
  | { readonly _tag: "Failed"; readonly terminated: ReadonlyArray<DialogRunner> }
  /** a response that cannot make a dialog (no Contact in a 2xx, …) */
  | { readonly _tag: "Invalid"; readonly reason: string }

export class ForkSet {
  readonly invite: SipRequest
  private readonly dialogs = new Map<string, DialogRunner>()
  private readonly byes = new Set<string>()
  private chosen: DialogRunner | undefined = undefined

  constructor(invite: SipRequest) {
    this.invite = invite
  }

  /** the dialog of the first 2xx */
  get winner(): DialogRunner | undefined {
    return this.chosen
  }

  /** every dialog this INVITE created, by remote tag */
  get all(): ReadonlyArray<DialogRunner> {
    return [...this.dialogs.values()]
  }

  onResponse(response: SipResponse): Outcome {
    const status = response.status
    const tag = Message.toTag(response)
    if (status >= 300) {
      const terminated: Array<DialogRunner> = []
      for (const d of this.dialogs.values()) {
        if (d.state === "Early") {
          d.send({ type: "failure", response })
          terminated.push(d)
        }
      }
      return { _tag: "Failed", terminated }
    }
    if (tag === undefined || status === 100)
      return status >= 200 ? { _tag: "Invalid", reason: "2xx without To tag" } : { _tag: "NoDialog" }
    let dialog = this.dialogs.get(tag)
    if (status < 200) {
      if (dialog === undefined) {
        const data = Dialog.uac(this.invite, response)
        if (data instanceof Dialog.DialogError) return { _tag: "Invalid", reason: data.reason }
        dialog = new DialogRunner({ dialog: data, confirmed: false })
        this.dialogs.set(tag, dialog)
        return { _tag: "Early", dialog, created: true }
      }
      dialog.send({ type: "provisional", response })
      return { _tag: "Early", dialog, created: false }
    }
    // 2xx
    let retransmission = false
    if (dialog === undefined) {
      const data = Dialog.uac(this.invite, response)
      if (data instanceof Dialog.DialogError) return { _tag: "Invalid", reason: data.reason }
      dialog = new DialogRunner({ dialog: data, confirmed: true })
      this.dialogs.set(tag, dialog)
    } else if (dialog.state === "Early") dialog.send({ type: "success", response })
    else retransmission = true
    if (this.chosen === undefined) this.chosen = dialog
    if (this.chosen === dialog) return { _tag: "Confirmed", dialog, retransmission }
    const bye = !this.byes.has(tag)
    this.byes.add(tag)
    return { _tag: "Extra", dialog, bye }
  }

  /** The INVITE transaction ended: early dialogs that never got a 2xx end too (§13.2.2.4). */
  end(reason: string): ReadonlyArray<DialogRunner> {
    const ended: Array<DialogRunner> = []
    for (const d of this.dialogs.values()) {
      if (d.state === "Early") {
        d.send({ type: "terminate", reason })
        ended.push(d)
      }
    }
    return ended
  }
}
