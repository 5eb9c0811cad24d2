export * from "./Model.ts"
