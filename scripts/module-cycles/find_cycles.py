"""Cycles between modules, from `cargo modules dependencies` dot output.

Reads the graph on stdin (modules only: --no-fns --no-types --no-traits)
and prints every cycle between sibling modules, each step with the
module-level `uses` edge behind it; exits 1 if there is one.

cargo-modules' own --acyclic looks at items, where every type whose
method names `Self` is a cycle; and between modules, a parent and its
own submodules use each other by design (re-exports one way, shared
items the other). So each `A uses B` edge is lifted to the two siblings
under the deepest module holding both (`a::x::y uses b::z` is `a -> b`)
and edges between a module and its own ancestor are left out.
"""

import re
import sys

EDGE = re.compile(r'^\s*"([^"]+)" -> "([^"]+)" \[label="uses"')


def lifted_edges(lines):
    """{(from, to): (module that uses, module used)} between siblings."""
    edges = {}
    for line in lines:
        match = EDGE.match(line)
        if not match:
            continue
        user, used = (m.split("::") for m in match.groups())
        common = 0
        while common < min(len(user), len(used)) and user[common] == used[common]:
            common += 1
        if common in (len(user), len(used)):
            continue  # a module and its ancestor
        step = ("::".join(user[: common + 1]), "::".join(used[: common + 1]))
        edges.setdefault(step, ("::".join(user), "::".join(used)))
    return edges


def strongly_connected(nodes, successors):
    """Tarjan's components, each a set of nodes."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in successors.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.add(top)
                if top == node:
                    break
            found.append(component)

    for node in sorted(nodes):
        if node not in index:
            visit(node)
    return found


def cycle_through(start, component, successors):
    """A shortest path start -> ... -> start inside component."""
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(successors.get(node, ())):
            if nxt not in component:
                continue
            if nxt == start:
                return paths[node] + [start]
            if nxt not in paths:
                paths[nxt] = paths[node] + [nxt]
                queue.append(nxt)
    raise AssertionError("a component of two or more nodes has a cycle")


def main():
    crate = sys.argv[1]
    edges = lifted_edges(sys.stdin)
    successors = {}
    for a, b in edges:
        successors.setdefault(a, set()).add(b)
    nodes = set(successors) | {b for bs in successors.values() for b in bs}
    cycles = [c for c in strongly_connected(nodes, successors) if len(c) > 1]
    for component in cycles:
        path = cycle_through(min(component), component, successors)
        print(f"module cycle in {crate}: {' -> '.join(path)}")
        for a, b in zip(path, path[1:]):
            user, used = edges[(a, b)]
            print(f"  {a} -> {b}: {user} uses {used}")
    sys.exit(1 if cycles else 0)


if __name__ == "__main__":
    main()
