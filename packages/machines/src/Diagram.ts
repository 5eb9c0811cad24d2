/**
 * Mermaid and DOT renderings of XState machine definitions. Edges are read from the
 * definition itself, so targetless transitions (retransmissions) show as self-loops, and each
 * edge is labelled "event [guard] / actions", as the RFC figures label "event / action".
 */
import type { AnyStateMachine, AnyStateNode } from "xstate"

interface DiagramEdge {
  readonly source: AnyStateNode
  readonly target: AnyStateNode
  readonly label: string
}

const actionName = (a: unknown): string | undefined => {
  if (typeof a === "string") return a
  if (a && typeof a === "object" && "type" in a && typeof a.type === "string") return a.type
  if (typeof a === "function") {
    const type = (a as { type?: unknown }).type
    // built-in actions like enqueueActions have no readable name: show the kind
    return typeof type === "string" ? type.replace(/^xstate\./, "") : undefined
  }
  return undefined
}

const actionsLabel = (actions: ReadonlyArray<unknown>): string =>
  actions
    .map(actionName)
    .filter((n): n is string => n !== undefined)
    .join(", ")

const guardLabel = (guard: unknown): string | undefined => {
  if (typeof guard === "string") return guard
  if (guard && typeof guard === "object" && "type" in guard) return String(guard.type)
  return undefined
}

const childrenOf = (node: AnyStateNode): ReadonlyArray<AnyStateNode> => Object.values(node.states)

const edgesOf = (node: AnyStateNode): Array<DiagramEdge> => {
  const out: Array<DiagramEdge> = []
  for (const [event, defs] of node.transitions) {
    for (const def of defs) {
      const guard = guardLabel(def.guard)
      const actions = actionsLabel(def.actions)
      const label = `${event}${guard ? ` [${guard}]` : ""}${actions ? ` / ${actions}` : ""}`
      for (const target of def.target ?? [node]) out.push({ source: node, target, label })
    }
  }
  for (const child of childrenOf(node)) out.push(...edgesOf(child))
  return out
}

const safe = (id: string): string => id.replace(/[^A-Za-z0-9_]/g, "_")
const quote = (s: string): string => s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')

const entryExit = (node: AnyStateNode): Array<string> => {
  const lines: Array<string> = []
  const entry = actionsLabel(node.entry)
  const exit = actionsLabel(node.exit)
  if (entry) lines.push(`entry / ${entry}`)
  if (exit) lines.push(`exit / ${exit}`)
  return lines
}

/** Mermaid `stateDiagram-v2` text of a machine. */
export const toMermaid = (machine: AnyStateMachine): string => {
  const lines = ["stateDiagram-v2"]
  const walk = (node: AnyStateNode, indent: string): void => {
    const initial = node.initial?.target[0]
    if (initial) lines.push(`${indent}[*] --> ${safe(initial.id)}`)
    for (const child of childrenOf(node)) {
      const id = safe(child.id)
      if (childrenOf(child).length > 0) {
        lines.push(`${indent}state ${child.key} {`)
        walk(child, `${indent}  `)
        lines.push(`${indent}}`)
      } else lines.push(`${indent}state "${child.key}" as ${id}`)
      for (const note of entryExit(child)) lines.push(`${indent}${id} : ${note.replace(/:/g, "")}`)
      if (child.type === "final") lines.push(`${indent}${id} --> [*]`)
    }
  }
  walk(machine.root, "  ")
  for (const e of edgesOf(machine.root)) lines.push(`  ${safe(e.source.id)} --> ${safe(e.target.id)} : ${e.label}`)
  return `${lines.join("\n")}\n`
}

/** Graphviz DOT text of a machine. */
export const toDot = (machine: AnyStateMachine): string => {
  const lines = [
    `digraph ${safe(machine.id)} {`,
    "  rankdir=TB;",
    '  node [shape=box, style=rounded, fontname="Helvetica"];',
  ]
  lines.push('  edge [fontname="Helvetica", fontsize=10];', '  __start [shape=point, label=""];')
  const walk = (node: AnyStateNode): void => {
    for (const child of childrenOf(node)) {
      const notes = entryExit(child)
      const label = [child.key, ...notes].join("\\n")
      const shape = child.type === "final" ? ", peripheries=2" : ""
      lines.push(`  ${safe(child.id)} [label="${quote(label).replace(/\\\\n/g, "\\n")}"${shape}];`)
      walk(child)
    }
  }
  walk(machine.root)
  const initial = machine.root.initial?.target[0]
  if (initial) lines.push(`  __start -> ${safe(initial.id)};`)
  for (const e of edgesOf(machine.root)) {
    lines.push(`  ${safe(e.source.id)} -> ${safe(e.target.id)} [label="${quote(e.label)}"];`)
  }
  lines.push("}")
  return `${lines.join("\n")}\n`
}
