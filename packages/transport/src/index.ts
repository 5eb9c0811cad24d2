export * from "./Transport.ts"
