/**
 * Verifications per second (challenge once, then N answered requests with increasing nc).
 *   node packages/auth/scripts/bench.ts [count=20000]
 */
import { Message, Uri } from "@sipfx/message"
import { Effect } from "effect"
import { type Algorithm, Authenticator, Challenge, Client, Credentials } from "../src/index.ts"

const n = Number(process.argv[2] ?? 20_000)
const realm = "example.com"
const uri = "sip:example.com"

for (const algorithm of ["MD5", "SHA-256"] as Array<Algorithm.Algorithm>) {
  const auth = Authenticator.make({ realm, secret: new Uint8Array(32).fill(7), algorithms: [algorithm] })
  const program = Effect.gen(function* () {
    const [c] = yield* auth.challenge()
    const requests = Array.from({ length: n }, (_, i) => {
      const a = Client.respond(c!, { username: "alice", password: "secret", method: "REGISTER", uri }, i + 1)
      if (a instanceof Client.UnsupportedChallenge) throw a
      return Message.request({
        method: "REGISTER",
        uri: Uri.parse(uri),
        headers: Challenge.toHeaders("www", "credentials", [a]),
      })
    })
    const t0 = performance.now()
    let ok = 0
    for (const r of requests) if ((yield* auth.verify(r))._tag === "Ok") ok++
    const ms = performance.now() - t0
    console.log(`${algorithm}: ${ok}/${n} verified, ${Math.round((n / ms) * 1000)} verifications/s`)
  })
  Effect.runSync(program.pipe(Effect.provide(Credentials.layer({ [realm]: { alice: "secret" } }))))
}
