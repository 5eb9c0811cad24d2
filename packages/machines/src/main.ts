/** `pnpm machines`: writes every registered machine to docs/machines as Mermaid and DOT. */
import { mkdirSync, writeFileSync } from "node:fs"
import { files } from "./Docs.ts"
import { machines } from "./Registry.ts"

const dir = new URL("../../../docs/machines/", import.meta.url)
mkdirSync(dir, { recursive: true })
for (const file of files(machines)) {
  writeFileSync(new URL(file.path, dir), file.content)
  console.log(`docs/machines/${file.path}`)
}
