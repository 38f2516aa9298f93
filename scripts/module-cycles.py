#!/usr/bin/env python3
"""Fails when two modules of one crate use each other (directly or round a longer loop).

A module may use its parent and its children; between siblings, dependencies must point
one way (the same rule ARCHITECTURE.md states for crates). Every reference through
`crate::`, `super::` or `self::` in a crate's `src/` counts; a reference from module P to
module Q is an edge between the two children of their lowest common ancestor that lead to
P and Q. The crate root is where modules are wired together and is left out.

Usage: scripts/module-cycles.py [CRATE_DIR ...]   (default: every workspace member)
"""

import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REF = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
MOD_DECL = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+([A-Za-z_][A-Za-z0-9_]*)\s*;", re.M)


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def modules(src):
    """Map module path (tuple) -> file, following `mod x;` declarations from lib.rs/main.rs."""
    found = {}
    roots = [f for f in ("lib.rs", "main.rs") if os.path.exists(os.path.join(src, f))]
    stack = [((), os.path.join(src, r)) for r in roots[:1]]
    while stack:
        path, file = stack.pop()
        found[path] = file
        text = strip_comments(open(file, encoding="utf-8").read())
        base = os.path.dirname(file)
        stem = os.path.splitext(os.path.basename(file))[0]
        here = base if stem in ("lib", "main", "mod") else os.path.join(base, stem)
        for name in MOD_DECL.findall(text):
            for candidate in (os.path.join(here, name + ".rs"), os.path.join(here, name, "mod.rs")):
                if os.path.exists(candidate):
                    stack.append((path + (name,), candidate))
                    break
    return found


def resolve(mods, current, kind, segments):
    if kind == "crate":
        base = ()
    elif kind == "super":
        base = current[:-1]
        while segments and segments[0] == "super":
            base, segments = base[:-1], segments[1:]
    else:
        base = current
    path = base
    for s in segments:
        if path + (s,) in mods:
            path = path + (s,)
        else:
            break
    return path


def cycles_in(crate_dir):
    src = os.path.join(crate_dir, "src")
    mods = modules(src)
    edges = {}
    for path, file in mods.items():
        text = strip_comments(open(file, encoding="utf-8").read())
        # Test modules may reach anywhere; they are not part of the dependency order.
        text = re.split(r"#\[cfg\(test\)\]\s*mod\s+tests", text)[0]
        for kind, rest in REF.findall(text):
            target = resolve(mods, path, kind, rest.strip(":").split("::"))
            common = 0
            while common < min(len(path), len(target)) and path[common] == target[common]:
                common += 1
            if common == len(path) or common == len(target):
                continue  # an ancestor or a descendant
            a, b = path[: common + 1], target[: common + 1]
            if a == ():
                continue
            edges.setdefault(a, set()).add(b)
    found = []
    state = {}

    def visit(node, trail):
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                found.append(trail[trail.index(nxt):] + [nxt] if nxt in trail else [node, nxt])
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    return found


def members():
    text = open(os.path.join(ROOT, "Cargo.toml"), encoding="utf-8").read()
    listed = re.search(r"members\s*=\s*\[([^\]]*)\]", text)
    names = re.findall(r'"([^"]+)"', listed.group(1)) if listed else []
    return [ROOT] + [os.path.join(ROOT, n) for n in names]


def main():
    dirs = sys.argv[1:] or members()
    bad = False
    for d in dirs:
        for cycle in cycles_in(d):
            bad = True
            shown = " -> ".join("::".join(p) for p in cycle)
            print(f"{os.path.relpath(d, ROOT) or '.'}: module cycle: {shown}")
    if bad:
        sys.exit(1)
    print(f"no module cycles in {len(dirs)} crates")


if __name__ == "__main__":
    main()
