import type { TestProjectConfiguration } from "vitest/config"

// The one list of test projects. Vitest 5 does not read this file on its own:
// vitest.config.ts imports it as `test.projects`. Each folder under packages/
// is one project, named after its package.json "name" (e.g. `--project @sipfx/message`).
const projects: Array<TestProjectConfiguration> = ["packages/*"]

export default projects
