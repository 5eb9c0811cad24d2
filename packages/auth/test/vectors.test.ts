import { describe, expect, it } from "@effect/vitest"
import { Headers } from "@sipfx/message"
import { Algorithm, Challenge, Client, Digest } from "../src/index.ts"

const respond = (challengeText: string, input: Client.Input) => {
  const answer = Client.respond(Headers.WWWAuthenticate.parse(challengeText), input, 1)
  if (answer instanceof Client.UnsupportedChallenge) throw answer
  return answer
}

describe("digest test vectors", () => {
  it("RFC 2617 §3.5 example: MD5, qop=auth", () => {
    const a = respond(
      `Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"`,
      { username: "Mufasa", password: "Circle Of Life", method: "GET", uri: "/dir/index.html", cnonce: "0a4f113b" },
    )
    expect(Challenge.param(a, "response")).toBe("6629fae49393a05397450978507c4ef1")
    expect(Challenge.param(a, "nc")).toBe("00000001")
    expect(Challenge.param(a, "qop")).toBe("auth")
    expect(Challenge.param(a, "opaque")).toBe("5ccc069c403ebaf9f0171e9517f40e41")
    // §3.2.2: no algorithm in the challenge, none in the answer
    expect(Challenge.param(a, "algorithm")).toBeUndefined()
    // the formatted value parses back to the same credentials (nc, qop unquoted)
    const text = Headers.Authorization.format(a)
    expect(text).toContain("nc=00000001")
    expect(text).toContain("qop=auth")
    expect(Headers.Authorization.parse(text)).toEqual(a)
  })

  const rfc7616 = {
    nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
    opaque: "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS",
    cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
  }
  const challenge = (algorithm: string) =>
    `Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=${algorithm}, nonce="${rfc7616.nonce}", opaque="${rfc7616.opaque}"`
  const input = {
    username: "Mufasa",
    password: "Circle of Life",
    method: "GET",
    uri: "/dir/index.html",
    cnonce: rfc7616.cnonce,
  }

  it("RFC 7616 §3.9.1 example with MD5", () => {
    const a = respond(challenge("MD5"), input)
    expect(Challenge.param(a, "response")).toBe("8ca523f5e9506fed4657c9700eebdbec")
    expect(Challenge.param(a, "algorithm")).toBe("MD5")
  })

  it("RFC 7616 §3.9.1 example with SHA-256", () => {
    const a = respond(challenge("SHA-256"), input)
    expect(Challenge.param(a, "response")).toBe("753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1")
  })

  it("RFC 7616 §3.9.1 / RFC 8760 §2.4 the client answers the strongest algorithm it supports", () => {
    const cs = [challenge("MD5"), challenge("SHA-256"), challenge("SHA3-512")].map((c) =>
      Headers.WWWAuthenticate.parse(c),
    )
    expect(Challenge.param(Client.select(cs)!, "algorithm")).toBe("SHA-256")
    const withSha512 = [...cs, Headers.WWWAuthenticate.parse(challenge("SHA-512-256"))]
    expect(Challenge.param(Client.select(withSha512)!, "algorithm")).toBe("SHA-512-256")
    expect(Client.select([Headers.WWWAuthenticate.parse(challenge("SHA3-512"))])).toBeUndefined()
    expect(Client.select([Headers.WWWAuthenticate.parse('Basic realm="x"')])).toBeUndefined()
  })

  it("RFC 7616 §3.4.2 -sess: A1 = H(H(user:realm:pass):nonce:cnonce)", () => {
    const base = Digest.ha1("SHA-256", "Mufasa", "http-auth@example.org", "Circle of Life")
    const sess = Digest.sessionHa1("SHA-256-sess", base, rfc7616.nonce, rfc7616.cnonce)
    expect(sess).toBe(Algorithm.hash("SHA-256", `${base}:${rfc7616.nonce}:${rfc7616.cnonce}`))
    const a = respond(challenge("SHA-256-sess"), input)
    const a2 = Algorithm.hash("SHA-256", "GET:/dir/index.html")
    expect(Challenge.param(a, "response")).toBe(
      Algorithm.hash("SHA-256", `${sess}:${rfc7616.nonce}:00000001:${rfc7616.cnonce}:auth:${a2}`),
    )
  })

  it("RFC 7616 §3.9.2 userhash input: SHA-512-256 of 'Jäsøn Doe:api@example.org' (UTF-8)", () => {
    expect(Algorithm.hash("SHA-512-256", "J\u00e4s\u00f8n Doe:api@example.org")).toBe(
      "793263caabb707a56211940d90411ea4a575adeccb7e360aeb624ed06ece9b0b",
    )
  })

  it("RFC 7616 §3.3 unsupported challenges are a typed error, not a guess", () => {
    expect(Client.respond(Headers.WWWAuthenticate.parse(challenge("SHA3-512")), input, 1)).toBeInstanceOf(
      Client.UnsupportedChallenge,
    )
    expect(
      Client.respond(Headers.WWWAuthenticate.parse(`Digest realm="r", nonce="n", qop="auth-conf"`), input, 1),
    ).toBeInstanceOf(Client.UnsupportedChallenge)
    expect(Client.respond(Headers.WWWAuthenticate.parse(`Digest realm="r", nonce="n"`), input, 0)).toBeInstanceOf(
      Client.UnsupportedChallenge,
    )
  })
})
