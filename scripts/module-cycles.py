#!/usr/bin/env python3
"""Finds import circles between the source files of each crate under crates/.

A file imports another when one of its `use` declarations or inline paths (`crate::a::b`,
`super::x`, `self::y`, or one that starts with a child module's name, `read::list_team`) resolves to a module
defined in that other file. Module declarations (`mod x;`) are not imports. Inline test modules
(`#[cfg(test)] mod tests { … }`) are left out: they sit inside the file they test.

Prints every circle (a strongly connected group of two or more files) and exits 1 when there is
one; exits 0 and prints nothing otherwise. Usage: scripts/module-cycles.py [CRATES_DIR]
"""

import os
import re
import sys

USE_RE = re.compile(r"\b(?:pub(?:\([^)]*\))?\s+)?use\s+([^;]+);", re.S)
PATH_RE = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
CHILD_PATH_RE = re.compile(r"(?<![:\w])([a-z_][a-z0-9_]*)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
MOD_RE = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+([A-Za-z_][A-Za-z0-9_]*)\s*;", re.M)
PATH_ATTR_RE = re.compile(r"#\[path\s*=")


def strip_comments_and_tests(text):
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    cut = re.search(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", text)
    if cut:
        text = text[: cut.start()]
    return text


def expand(tree):
    """`a::{b, c::{d, e}}` → ['a::b', 'a::c::d', 'a::c::e']."""
    tree = re.sub(r"\s+", "", tree)
    brace = tree.find("{")
    if brace < 0:
        return [tree]
    prefix, body = tree[:brace], tree[brace + 1 : tree.rindex("}")]
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(body):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(body[start:i])
            start = i + 1
    parts.append(body[start:])
    out = []
    for p in parts:
        if p:
            out.extend(prefix + q for q in expand(p))
    return out


class Crate:
    def __init__(self, src):
        self.src = src
        self.modules = {}  # module path tuple -> file
        self.files = {}  # file -> module path tuple
        root = os.path.join(src, "lib.rs")
        if not os.path.exists(root):
            root = os.path.join(src, "main.rs")
        self.walk((), root)

    def walk(self, path, file):
        self.modules[path] = file
        self.files[file] = path
        text = strip_comments_and_tests(open(file, encoding="utf-8").read())
        here = os.path.dirname(file)
        if os.path.basename(file) not in ("lib.rs", "main.rs", "mod.rs"):
            here = os.path.join(here, os.path.splitext(os.path.basename(file))[0])
        for name in MOD_RE.findall(text):
            for cand in (os.path.join(here, name + ".rs"), os.path.join(here, name, "mod.rs")):
                if os.path.exists(cand):
                    self.walk(path + (name,), cand)
                    break

    def resolve(self, start, segments):
        """The deepest module reached from `start` along `segments`."""
        path = start
        for seg in segments:
            if path + (seg,) in self.modules:
                path = path + (seg,)
            else:
                break
        return path

    def imports(self, file):
        me = self.files[file]
        text = strip_comments_and_tests(open(file, encoding="utf-8").read())
        targets = set()
        paths = []
        for tree in USE_RE.findall(text):
            paths.extend(expand(tree))
        paths.extend(m.group(1) + m.group(2) for m in PATH_RE.finditer(text))
        # Inline paths that start at a child module (`read::list_team(…)`).
        paths.extend(m.group(0) for m in CHILD_PATH_RE.finditer(text) if me + (m.group(1),) in self.modules)
        for p in paths:
            segs = [s for s in p.split("::") if s]
            if not segs:
                continue
            head = segs[0]
            if head == "crate":
                base, rest = (), segs[1:]
            elif head == "self":
                base, rest = me, segs[1:]
            elif head == "super":
                base, rest = me, segs
                while rest and rest[0] == "super":
                    base, rest = base[:-1], rest[1:]
            elif me + (head,) in self.modules:
                base, rest = me, segs
            else:
                continue
            if rest and rest[0] in ("self",):
                rest = rest[1:]
            target = self.resolve(base, rest)
            targets.add(self.modules[target])
        targets.discard(file)
        return targets


def cycles(graph):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            strong(v)
    return out


def main():
    crates = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "crates")
    found = False
    for name in sorted(os.listdir(crates)):
        src = os.path.join(crates, name, "src")
        if not os.path.isdir(src):
            continue
        crate = Crate(src)
        graph = {f: crate.imports(f) for f in crate.files}
        for group in cycles(graph):
            found = True
            rel = [os.path.relpath(f, crates) for f in group]
            print(f"circle in {name}: " + ", ".join(rel))
            for f in group:
                inside = sorted(os.path.relpath(t, crates) for t in graph[f] if t in group)
                print(f"    {os.path.relpath(f, crates)} imports {', '.join(inside)}")
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
