export * as Network from "./Network.ts"
