export * as Diagram from "./Diagram.ts"
export { toDot, toMermaid } from "./Diagram.ts"
export * as Docs from "./Docs.ts"
export * as Registry from "./Registry.ts"
