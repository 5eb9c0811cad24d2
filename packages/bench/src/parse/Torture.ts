/**
 * RFC 4475's invalid messages (§3.1.2 and §3.3), read as bytes from the conformance corpus
 * kept with @sipfx/message's tests; each file is one UDP datagram.
 */
import { readFileSync } from "node:fs"

export interface TortureMessage {
  readonly file: string
  readonly section: string
  readonly bytes: Uint8Array
}

interface IndexEntry {
  readonly file: string
  readonly section: string
  readonly expect: string
}

// the corpus kept with @sipfx/message's tests
export const torturePath = new URL("../../../message/test/conformance/rfc4475/", import.meta.url)

export const invalid = (): ReadonlyArray<TortureMessage> => {
  const index = JSON.parse(readFileSync(new URL("index.json", torturePath), "utf8")) as ReadonlyArray<IndexEntry>
  return index
    .filter((e) => e.expect === "reject")
    .map((e) => ({
      file: e.file,
      section: e.section,
      bytes: new Uint8Array(readFileSync(new URL(e.file, torturePath))),
    }))
}
