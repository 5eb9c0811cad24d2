import { describe, expect, it } from "vitest"
import { Uri } from "../src/index.ts"

const eq = (a: string, b: string) => Uri.equals(Uri.parse(a), Uri.parse(b))

describe("URI syntax (RFC 3261 §19.1.1, §25.1)", () => {
  it("§19.1.1 sip URI components: user, password, host, port, params, headers", () => {
    expect(
      Uri.parse("sip:alice:secretword@atlanta.example.com:5061;transport=tcp;lr?subject=project%20x&priority=urgent"),
    ).toEqual({
      _tag: "SipUri",
      scheme: "sip",
      user: "alice",
      password: "secretword",
      host: "atlanta.example.com",
      port: 5061,
      params: [
        ["transport", "tcp"],
        ["lr", null],
      ],
      headers: [
        ["subject", "project%20x"],
        ["priority", "urgent"],
      ],
    })
  })

  it("§19.1.1 sips and host forms: name, IPv4, IPv6 reference (RFC 5118)", () => {
    expect(Uri.parse("sips:bob@192.0.2.4")).toMatchObject({ scheme: "sips", host: "192.0.2.4" })
    expect(Uri.parse("sip:[2001:db8::1]:5070")).toMatchObject({ host: "[2001:db8::1]", port: 5070 })
    expect(Uri.parse("sip:example.com.")).toMatchObject({ host: "example.com." })
  })

  it("RFC 3966 tel URI and other absolute URIs", () => {
    expect(Uri.parse("tel:+1-201-555-0123;phone-context=example.com")).toEqual({
      _tag: "TelUri",
      number: "+1-201-555-0123",
      params: [["phone-context", "example.com"]],
    })
    expect(Uri.parse("http://www.example.com/alice/photo.jpg")).toEqual({
      _tag: "AbsoluteUri",
      scheme: "http",
      value: "//www.example.com/alice/photo.jpg",
    })
  })

  it("§25.1 malformed URIs are typed errors with an offset", () => {
    for (const bad of [
      "sip:",
      "sip:user@",
      "sip:user@host:99999",
      "sip:user@host;;lr",
      "sip:us er@host",
      "sip:user@ho_st.example.com",
      "sip:user@-host.example.com",
      "sip:user@256.1.1.1",
      "sip:user@[2001:db8::1",
      "sip:user@[2001:db8::g]",
      "sip:%4@host",
      "sip:%zz@host",
      "<sip:user@host>",
      "nocolon",
    ]) {
      const r = Uri.decode(bad)
      expect(r, bad).toMatchObject({ _tag: "UriError" })
    }
    expect(() => Uri.parse("sip:")).toThrow()
  })

  it("§19.1.1 headers are not allowed in a Request-URI (escruri)", () => {
    expect(Uri.decode("sip:user@example.com?Route=%3Csip:example.com%3E", { requestUri: true })).toMatchObject({
      _tag: "UriError",
    })
    expect(Uri.decode("sip:user@example.com?Route=%3Csip:example.com%3E")).toMatchObject({ _tag: "SipUri" })
  })

  it("format(parse(x)) keeps the wire form (escapes included)", () => {
    for (const s of [
      "sip:alice@atlanta.example.com",
      "sips:%61lice:pw@[2001:db8::10]:5061;transport=tls;lr?h=v&x=y",
      "tel:+1-201-555-0123;ext=1",
      "urn:service:sos",
      "sip:user;par=u%40example.net@example.com",
    ])
      expect(Uri.format(Uri.parse(s))).toBe(s)
  })

  it("RFC 5118 §4.10 / RFC 5954 policy: ':::' before IPv4 is tolerated; groups are computed as '::'", () => {
    expect(Uri.ipv6Groups("2001:db8:::192.0.2.1")).toEqual(Uri.ipv6Groups("2001:db8::192.0.2.1"))
    expect(Uri.ipv6Groups("2001:db8:::1")).toBeUndefined()
    expect(Uri.ipv6Groups("1:2:3:4:5:6:7:8:9")).toBeUndefined()
    expect(Uri.ipv6Groups("::")).toEqual([0, 0, 0, 0, 0, 0, 0, 0])
  })
})

describe("URI comparison (RFC 3261 §19.1.4)", () => {
  it("§19.1.4 equivalent URIs from the RFC", () => {
    expect(eq("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp")).toBe(true)
    expect(eq("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5")).toBe(true)
    expect(eq("sip:carol@chicago.com", "sip:carol@chicago.com;security=on")).toBe(true)
    expect(eq("sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;security=on")).toBe(true)
    expect(
      eq(
        "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
        "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com",
      ),
    ).toBe(true)
    expect(
      eq(
        "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
        "sip:alice@atlanta.com?priority=urgent&subject=project%20x",
      ),
    ).toBe(true)
  })

  it("§19.1.4 non-equivalent URIs from the RFC", () => {
    expect(eq("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP")).toBe(false) // user case
    expect(eq("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060")).toBe(false) // explicit port
    expect(eq("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp")).toBe(false) // transport only in one
    expect(eq("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp")).toBe(false)
    expect(eq("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting")).toBe(false) // headers
    expect(eq("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4")).toBe(false)
  })

  it("§19.1.4 user, ttl, method, maddr must appear in both; sip and sips differ", () => {
    expect(eq("sip:a@h;user=phone", "sip:a@h")).toBe(false)
    expect(eq("sip:a@h;ttl=1", "sip:a@h")).toBe(false)
    expect(eq("sip:a@h;maddr=239.255.255.1", "sip:a@h")).toBe(false)
    expect(eq("sip:a@h;method=INVITE", "sip:a@h")).toBe(false)
    expect(eq("sip:a@h", "sips:a@h")).toBe(false)
    expect(eq("sip:a:pw@h", "sip:a:PW@h")).toBe(false)
  })

  it("§19.1.4 IPv6 hosts compare by address; RFC 3966 tel numbers ignore visual separators", () => {
    expect(eq("sip:[2001:DB8::1]", "sip:[2001:db8:0:0:0:0:0:1]")).toBe(true)
    expect(eq("tel:+1-201-555-0123", "tel:+12015550123")).toBe(true)
    expect(eq("tel:+12015550123", "tel:+12015550124")).toBe(false)
    expect(eq("urn:service:sos", "URN:service:sos")).toBe(true)
  })
})
