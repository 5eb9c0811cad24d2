/** The package's shared test fixtures (also used by `pnpm bench transaction`). */
export { branch, type RequestOptions, request, response, toDestination } from "../src/Testing.ts"
