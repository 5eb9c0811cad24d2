/**
 * @sipfx/message — SIP messages (RFC 3261 §7, §19, §20, §25): model, parser, serializer,
 * stream framer, typed headers and URIs.
 */

export * as Arbitrary from "./Arbitrary.ts"
export * as Framer from "./Framer.ts"
export * as Header from "./Header.ts"
export * as HeaderCache from "./HeaderCache.ts"
export * as Headers from "./Headers.ts"
export * as Message from "./Message.ts"
export * from "./Model.ts"
export { HeaderError, ParseError, type PartialMessage } from "./ParseError.ts"
export * as Parser from "./Parser.ts"
export * as Serializer from "./Serializer.ts"
export * as Uri from "./Uri.ts"
