import { describe, expect, it } from "@effect/vitest"
import { Message, Serializer, Uri } from "@sipfx/message"
import { Dialog, DialogTable, Forking } from "../src/index.ts"
import * as F from "./fixtures.ts"

const text = (m: Parameters<typeof Serializer.toString>[0]) => Serializer.toString(m)
const routes = (m: Parameters<typeof Message.headerValues>[0]) => Message.headerValues(m, "Route")

const confirmed = (extra: ReadonlyArray<string>): Dialog.DialogData => {
  const d = Dialog.uac(F.invite(), F.response(200, "a6c85cf", ["Contact: <sip:bob@192.0.2.4;transport=tcp>", ...extra]))
  if (d instanceof Dialog.DialogError) throw d
  return d
}

describe("§12.2.1.1 requests within a dialog", () => {
  it("§12.2.1.1 no route set: Request-URI is the remote target; To/From/Call-ID/CSeq from the dialog", () => {
    const d = confirmed([])
    const { request, next } = Dialog.request(d, "BYE", { seq: 314160 })
    expect(Uri.format(request.uri)).toBe("sip:bob@192.0.2.4;transport=tcp")
    expect(Uri.format(next)).toBe("sip:bob@192.0.2.4;transport=tcp")
    expect(routes(request)).toEqual([])
    expect(Message.toTag(request)).toBe("a6c85cf")
    expect(Message.fromTag(request)).toBe("1928301774")
    expect(Message.callId(request)).toBe("a84b4c76e66710@pc33.atlanta.example.com")
    expect(Message.cseq(request)).toEqual({ seq: 314160, method: "BYE" })
    expect(Message.maxForwards(request)).toBe(70)
  })

  it("§12.2.1.1 loose routing: Route = route set (reversed Record-Route), first hop = first route", () => {
    const d = confirmed(["Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>"])
    const { request, next } = Dialog.request(d, "INFO", { seq: 2 })
    expect(Uri.format(request.uri)).toBe("sip:bob@192.0.2.4;transport=tcp")
    expect(routes(request)).toEqual(["<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"])
    expect(Uri.format(next)).toBe("sip:p2.example.com;lr")
  })

  it("§12.2.1.1 strict router first: Request-URI = its URI, remote target appended as the last Route", () => {
    const d = confirmed(["Record-Route: <sip:p1.example.com;lr>", "Record-Route: <sip:strict.example.com>"])
    const { request, next } = Dialog.request(d, "INFO", { seq: 2 })
    expect(Uri.format(request.uri)).toBe("sip:strict.example.com")
    expect(routes(request)).toEqual(["<sip:p1.example.com;lr>", "<sip:bob@192.0.2.4;transport=tcp>"])
    expect(Uri.format(next)).toBe("sip:strict.example.com")
  })

  it("§12.2.1.1 target refresh requests carry our Contact; the body goes with its Content-Type", () => {
    const d = confirmed([])
    const body = new TextEncoder().encode("v=0\r\n")
    const { request } = Dialog.request(d, "INVITE", {
      seq: 3,
      contact: { displayName: undefined, uri: Uri.parse("sip:alice@192.0.2.1"), params: [] },
      body,
      contentType: "application/sdp",
    })
    expect(Message.header(request, "Contact")).toBe("<sip:alice@192.0.2.1>")
    expect(Message.header(request, "Content-Type")).toBe("application/sdp")
    expect(text(request)).toContain("Content-Length: 5")
  })
})

describe("§12.2.2 dialog table", () => {
  it("§12.2.2 a request with a To tag that matches no dialog is answered 481", () => {
    const table = new DialogTable()
    const forks = new Forking.ForkSet(F.invite())
    const o = forks.onResponse(F.response(200, "a6c85cf", ["Contact: <sip:bob@192.0.2.4>"]))
    if (o._tag !== "Confirmed") throw new Error(o._tag)
    table.add(o.dialog)
    const hit = table.match(F.inDialog("BYE", 1))
    expect(hit._tag).toBe("Dialog")
    const stranger = F.parse<ReturnType<typeof F.inDialog>>([
      "BYE sip:alice@pc33.atlanta.example.com SIP/2.0",
      "Via: SIP/2.0/UDP bobspc.biloxi.example.com;branch=z9hG4bKx",
      "From: <sip:bob@biloxi.example.com>;tag=other",
      "To: <sip:alice@atlanta.example.com>;tag=1928301774",
      "Call-ID: a84b4c76e66710@pc33.atlanta.example.com",
      "CSeq: 1 BYE",
    ])
    const miss = table.match(stranger)
    expect(miss._tag).toBe("NoDialog")
    if (miss._tag === "NoDialog") expect(miss.response.status).toBe(481)
    expect(table.match(F.invite())._tag).toBe("OutOfDialog")
  })
})

describe("§13.2.2.4 forking", () => {
  it("§13.2.2.4 two early dialogs, two 2xx: both ACKed, the second one gets a BYE once", () => {
    const forks = new Forking.ForkSet(F.invite())
    expect(forks.onResponse(F.response(100, undefined, [], "Trying"))._tag).toBe("NoDialog")
    const e1 = forks.onResponse(F.response(180, "fork1", ["Contact: <sip:bob@192.0.2.11>"], "Ringing"))
    const e2 = forks.onResponse(F.response(180, "fork2", ["Contact: <sip:bob@192.0.2.12>"], "Ringing"))
    expect(e1).toMatchObject({ _tag: "Early", created: true })
    expect(e2).toMatchObject({ _tag: "Early", created: true })
    expect(forks.all.map((d) => d.state)).toEqual(["Early", "Early"])
    const ok2 = forks.onResponse(F.response(200, "fork2", ["Contact: <sip:bob@192.0.2.12>"]))
    expect(ok2).toMatchObject({ _tag: "Confirmed", retransmission: false })
    const again = forks.onResponse(F.response(200, "fork2", ["Contact: <sip:bob@192.0.2.12>"]))
    expect(again).toMatchObject({ _tag: "Confirmed", retransmission: true })
    const ok1 = forks.onResponse(F.response(200, "fork1", ["Contact: <sip:bob@192.0.2.11>"]))
    expect(ok1).toMatchObject({ _tag: "Extra", bye: true })
    const ok1again = forks.onResponse(F.response(200, "fork1", ["Contact: <sip:bob@192.0.2.11>"]))
    expect(ok1again).toMatchObject({ _tag: "Extra", bye: false })
    const ok3 = forks.onResponse(F.response(200, "fork3", ["Contact: <sip:bob@192.0.2.13>"]))
    expect(ok3).toMatchObject({ _tag: "Extra", bye: true })
    expect(forks.winner?.data.id.remoteTag).toBe("fork2")
    expect(forks.all.map((d) => d.state)).toEqual(["Confirmed", "Confirmed", "Confirmed"])
  })

  it("§12.3 a final non-2xx ends every early dialog; the end of the transaction ends the rest", () => {
    const forks = new Forking.ForkSet(F.invite())
    forks.onResponse(F.response(183, "f1", ["Contact: <sip:bob@192.0.2.11>"], "Session Progress"))
    forks.onResponse(F.response(180, "f2", ["Contact: <sip:bob@192.0.2.12>"], "Ringing"))
    const failed = forks.onResponse(F.response(486, "f2", [], "Busy Here"))
    expect(failed._tag).toBe("Failed")
    if (failed._tag === "Failed") expect(failed.terminated.length).toBe(2)
    expect(forks.all.every((d) => d.state === "Terminated")).toBe(true)

    const later = new Forking.ForkSet(F.invite())
    later.onResponse(F.response(180, "f1", ["Contact: <sip:bob@192.0.2.11>"], "Ringing"))
    later.onResponse(F.response(180, "f2", ["Contact: <sip:bob@192.0.2.12>"], "Ringing"))
    later.onResponse(F.response(200, "f1", ["Contact: <sip:bob@192.0.2.11>"]))
    expect(later.end("Timer M").map((d) => d.data.id.remoteTag)).toEqual(["f2"])
    expect(later.all.map((d) => d.state)).toEqual(["Confirmed", "Terminated"])
  })
})
