import { readFileSync } from "node:fs"
import { describe, expect, it } from "@effect/vitest"
import { Docs, Registry, toDot, toMermaid } from "../src/index.ts"

const dir = new URL("../../../docs/machines/", import.meta.url)

describe("docs/machines", () => {
  it("the committed diagrams equal what the machine definitions generate (run `pnpm machines`)", () => {
    for (const file of Docs.files(Registry.machines)) {
      const committed = readFileSync(new URL(file.path, dir), "utf8")
      expect(committed, file.path).toBe(file.content)
    }
  })

  it("§17.1.1 Figure 5 + RFC 6026: the INVITE client diagram names the RFC's states and timer events", () => {
    const entry = Registry.machines.find((m) => m.name === "InviteClientTransaction")!
    const text = toMermaid(entry.machine)
    for (const state of ["Calling", "Proceeding", "Completed", "Accepted", "Terminated"]) {
      expect(text).toContain(`state "${state}"`)
    }
    expect(text).toContain("InviteClientTransaction_Calling --> InviteClientTransaction_Calling : timerA")
    expect(text).toContain("InviteClientTransaction_Accepted --> InviteClientTransaction_Terminated : timerM")
    expect(text).toContain("InviteClientTransaction_Terminated --> [*]")
  })

  it("§17.2.2 Figure 8 + RFC 4320 §4.1: the DOT rendering has one edge per declared transition", () => {
    const entry = Registry.machines.find((m) => m.name === "NonInviteServerTransaction")!
    const dot = toDot(entry.machine)
    const edges = dot.split("\n").filter((l) => l.includes(" -> ") && !l.includes("__start"))
    // Trying: 3 (tu100 guarded by reliable, timerTrying, tu200to699), Proceeding: 4, Completed: 3
    expect(edges.length).toBe(10)
    expect(dot).toContain(
      'NonInviteServerTransaction_Trying -> NonInviteServerTransaction_Proceeding [label="tu100 [reliable] / sendResponse"]',
    )
    expect(dot).toContain(
      'NonInviteServerTransaction_Completed -> NonInviteServerTransaction_Terminated [label="timerJ"]',
    )
    expect(dot.startsWith("digraph NonInviteServerTransaction {")).toBe(true)
  })
})
