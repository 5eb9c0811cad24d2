// Prints vitest's JSON report as the plain closing line "N passed, N failed, N skipped".
import { readFileSync } from "node:fs"

const file = process.argv[2] ?? ".reports/vitest.json"
const report = JSON.parse(readFileSync(file, "utf8")) as {
  numPassedTests: number
  numFailedTests: number
  numPendingTests: number
  numTodoTests: number
}
console.log(
  `${report.numPassedTests} passed, ${report.numFailedTests} failed, ${report.numPendingTests + report.numTodoTests} skipped`,
)
