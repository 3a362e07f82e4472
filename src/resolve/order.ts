// Install order: dependencies before dependents. Cycles (common among Essential
// packages) become strongly connected components installed together; Tarjan's
// algorithm runs iteratively because the graph can have thousands of nodes.
import type { ResolvedEdge } from './types.js';

/** Strongly connected components of a graph given as adjacency lists; returns each node's component id. */
export function components(adj: readonly number[][]): { comp: Int32Array; count: number } {
  const n = adj.length;
  const index = new Int32Array(n).fill(-1);
  const low = new Int32Array(n);
  const onStack = new Uint8Array(n);
  const comp = new Int32Array(n).fill(-1);
  const stack: number[] = [];
  const calls: number[] = [];
  const next: number[] = [];
  let counter = 0;
  let count = 0;
  const enter = (v: number) => {
    index[v] = low[v] = counter++;
    stack.push(v);
    onStack[v] = 1;
    calls.push(v);
    next.push(0);
  };
  for (let s = 0; s < n; s++) {
    if (index[s] !== -1) continue;
    enter(s);
    while (calls.length) {
      const top = calls.length - 1;
      const v = calls[top]!;
      const out = adj[v]!;
      if (next[top]! < out.length) {
        const w = out[next[top]!++]!;
        if (index[w] === -1) enter(w);
        else if (onStack[w]) low[v] = Math.min(low[v]!, index[w]!);
        continue;
      }
      calls.pop();
      next.pop();
      if (calls.length) {
        const u = calls[calls.length - 1]!;
        low[u] = Math.min(low[u]!, low[v]!);
      }
      if (low[v] === index[v]) {
        let w: number;
        do {
          w = stack.pop()!;
          onStack[w] = 0;
          comp[w] = count;
        } while (w !== v);
        count++;
      }
    }
  }
  return { comp, count };
}

// A binary min-heap of numbers: the ready component with the smallest key goes first.
class MinHeap {
  private readonly a: number[] = [];
  get size(): number {
    return this.a.length;
  }
  push(x: number): void {
    const a = this.a;
    a.push(x);
    for (let i = a.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (a[p]! <= x) break;
      a[i] = a[p]!;
      a[p] = x;
      i = p;
    }
  }
  pop(): number {
    const a = this.a;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length) {
      a[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l]! < a[m]!) m = l;
        if (r < a.length && a[r]! < a[m]!) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

/** Names in install order, plus a warning for each cycle held together by Pre-Depends. */
export function installOrder(names: readonly string[], edges: readonly ResolvedEdge[]): { order: string[]; warnings: string[] } {
  const sorted = [...new Set(names)].sort();
  const id = new Map(sorted.map((name, i) => [name, i]));
  const adj: number[][] = sorted.map(() => []);
  for (const e of edges) {
    const from = id.get(e.from);
    const to = id.get(e.to);
    if (from !== undefined && to !== undefined && from !== to) adj[from]!.push(to);
  }
  for (const out of adj) out.sort((a, b) => a - b);
  const { comp, count } = components(adj);
  // Members in name order; since names are sorted, a component's key (smallest name) is its first member's id.
  const members: number[][] = Array.from({ length: count }, () => []);
  for (let v = 0; v < sorted.length; v++) members[comp[v]!]!.push(v);
  const waiting = new Int32Array(count);
  const dependents: Set<number>[] = Array.from({ length: count }, () => new Set());
  for (let v = 0; v < sorted.length; v++) {
    for (const w of adj[v]!) {
      const [cv, cw] = [comp[v]!, comp[w]!];
      if (cv === cw || dependents[cw]!.has(cv)) continue;
      dependents[cw]!.add(cv);
      waiting[cv]!++;
    }
  }
  const ready = new MinHeap();
  const compOfKey = new Map<number, number>();
  for (let c = 0; c < count; c++) {
    compOfKey.set(members[c]![0]!, c);
    if (waiting[c] === 0) ready.push(members[c]![0]!);
  }
  const order: string[] = [];
  while (ready.size) {
    const c = compOfKey.get(ready.pop())!;
    for (const v of members[c]!) order.push(sorted[v]!);
    for (const d of dependents[c]!) if (--waiting[d]! === 0) ready.push(members[d]![0]!);
  }
  return { order, warnings: preDependsCycles(edges, id, comp, members, sorted) };
}

function preDependsCycles(edges: readonly ResolvedEdge[], id: Map<string, number>, comp: Int32Array, members: number[][], sorted: string[]): string[] {
  const flagged = new Set<number>();
  for (const e of edges) {
    if (e.kind !== 'pre-depends') continue;
    const [from, to] = [id.get(e.from), id.get(e.to)];
    if (from !== undefined && to !== undefined && comp[from] === comp[to] && from !== to) flagged.add(comp[from]!);
  }
  return [...flagged]
    .map((c) => members[c]!.map((v) => sorted[v]!))
    .sort((a, b) => (a[0]! < b[0]! ? -1 : 1))
    .map((names) => `Pre-Depends cycle among ${names.join(', ')}: they are ordered by name, and dpkg has to break the cycle when unpacking`);
}
