/**
 * The XML reading and writing PIDF (RFC 3863) and dialog-info (RFC 4235) documents share:
 * namespace prefixes dropped, attributes as `@name`, values kept as text, only the XML
 * built-in entities expanded (a body is data from the network).
 */
import { XMLBuilder, XMLParser, XMLValidator } from "fast-xml-parser"

export type Node = Record<string, unknown>

/** A parser whose `repeated` elements always come as arrays. */
export const parser = (repeated: ReadonlyArray<string>): XMLParser =>
  new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: "@",
    removeNSPrefix: true,
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: true,
    isArray: (name) => repeated.includes(name),
    processEntities: true,
    htmlEntities: false,
  })

export const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: "@",
  format: true,
  suppressEmptyNode: true,
})

const dec = new TextDecoder()

/** The document's root object, or why it is not well-formed XML. */
export const read = (
  p: XMLParser,
  body: Uint8Array | string,
): { readonly _tag: "Ok"; readonly root: Node } | { readonly _tag: "Err"; readonly reason: string } => {
  const xml = typeof body === "string" ? body : dec.decode(body)
  const valid = XMLValidator.validate(xml)
  if (valid !== true) return { _tag: "Err", reason: `not well-formed XML: ${valid.err.msg} (line ${valid.err.line})` }
  try {
    return { _tag: "Ok", root: p.parse(xml) as Node }
  } catch (e) {
    return { _tag: "Err", reason: String(e) }
  }
}

export const isNode = (v: unknown): v is Node => v !== null && typeof v === "object" && !Array.isArray(v)

/** An element's text: the value itself, or `#text` of an element with attributes. */
export const text = (v: unknown): string | undefined =>
  typeof v === "string" ? v : isNode(v) && "#text" in v ? String(v["#text"]) : undefined

export const attr = (n: Node, name: string): string | undefined => {
  const v = n[`@${name}`]
  return typeof v === "string" ? v : undefined
}
