// heapspurs explorer: sortable tables, the dominator tree and owners a level at a time, and the
// flame graph of retained size. Every name is put in the page as text (textContent), never as
// markup: names come from untrusted files.
"use strict";

function el(tag, text, cls) {
  const n = document.createElement(tag);
  if (text !== undefined && text !== null) n.textContent = String(text);
  if (cls) n.className = cls;
  return n;
}

function size(bytes) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = bytes, u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return (u ? v.toFixed(1) : String(v)) + " " + units[u];
}

function kind(o) {
  return o.name || o.type || (o.size + " B object");
}

function objLink(address) {
  const a = el("a", address, "obj");
  a.href = "/object/" + encodeURIComponent(address);
  return a;
}

async function api(path) {
  const r = await fetch(path, { headers: { "Accept": "application/json" } });
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || ("HTTP " + r.status));
  return body;
}

// Tables: a click on a heading sorts by that column (numbers as numbers).
function sortable(table) {
  table.querySelectorAll("th").forEach((th, col) => {
    th.addEventListener("click", () => {
      const body = table.tBodies[0];
      const rows = Array.from(body.rows);
      const desc = th.dataset.order !== "desc";
      table.querySelectorAll("th").forEach(h => delete h.dataset.order);
      th.dataset.order = desc ? "desc" : "asc";
      const key = r => r.cells[col].dataset.v;
      const numeric = rows.every(r => key(r) === "" || !isNaN(Number(key(r))));
      rows.sort((a, b) => {
        const x = key(a), y = key(b);
        const c = numeric ? Number(x) - Number(y) : x.localeCompare(y);
        return desc ? -c : c;
      });
      rows.forEach(r => body.appendChild(r));
    });
  });
}

// The dominator tree: each row opens the objects it dominates.
function treeRow(child) {
  const li = el("li");
  const button = el("button", child.children ? "+" : "·", "expand");
  button.disabled = !child.children;
  li.append(button, " ", objLink(child.address), " ", el("span", kind(child)), " ",
            el("b", size(child.retained)));
  if (child.children) li.append(" ", el("span", "(" + child.children + " dominated)"));
  button.addEventListener("click", async () => {
    if (li.querySelector("ul")) { li.querySelector("ul").remove(); button.textContent = "+"; return; }
    button.textContent = "−";
    const doc = await api("/api/children?address=" + encodeURIComponent(child.address));
    const ul = el("ul");
    doc.children.forEach(c => ul.appendChild(treeRow(c)));
    li.appendChild(ul);
  });
  return li;
}

async function tree(ul) {
  const doc = await api("/api/children");
  ul.appendChild(el("li", "all reachable memory: " + size(doc.retained) + " in " +
                   doc.dominated + " top-level retainers"));
  doc.children.forEach(c => ul.appendChild(treeRow(c)));
}

// Owners on the object page: + opens who points at an owner.
function ownerItem(w) {
  const li = el("li");
  if (!w.object) {
    li.textContent = "root: " + [w.kind, w.symbol || w.function || w.slot].filter(Boolean).join(" ");
    return li;
  }
  const button = el("button", "+", "expand");
  button.dataset.address = w.object.address;
  li.append(button, " ", objLink(w.object.address), " ", el("span", kind(w.object)));
  return li;
}

async function expandOwner(button) {
  const li = button.parentElement;
  if (li.querySelector("ul")) { li.querySelector("ul").remove(); button.textContent = "+"; return; }
  button.textContent = "−";
  const doc = await api("/api/owners?depth=1&address=" + encodeURIComponent(button.dataset.address));
  const ul = el("ul", null, "owners");
  doc.owners.forEach(w => ul.appendChild(ownerItem(w)));
  if (!doc.owners.length) ul.appendChild(el("li", "(no owners)"));
  li.appendChild(ul);
}

// The flame graph (an icicle): the root on top, each level below it split by retained size.
const LEVELS = 4, ROW = 24, MIN_PX = 3;

async function flame(div) {
  const address = div.dataset.address;
  const top = await api("/api/children" + (address ? "?address=" + encodeURIComponent(address) : ""));
  const width = div.clientWidth || 1000;
  const boxes = [];
  const label = top.object ? kind(top.object) + " " + top.object.address : "all reachable memory";
  boxes.push({ x: 0, w: width, depth: 0, text: label, retained: top.retained,
               address: top.object ? top.object.address : null, up: true });
  async function level(children, x0, w0, total, depth) {
    if (depth >= LEVELS) return;
    let x = x0;
    for (const c of children) {
      const w = total > 0 ? w0 * c.retained / total : 0;
      if (w < MIN_PX) break;  // sorted by retained: the rest are smaller still
      boxes.push({ x: x, w: w, depth: depth, text: kind(c) + " " + size(c.retained),
                   retained: c.retained, address: c.address });
      if (c.children && depth + 1 < LEVELS && w >= 40) {
        const doc = await api("/api/children?limit=20&address=" + encodeURIComponent(c.address));
        await level(doc.children, x, w, c.retained, depth + 1);
      }
      x += w;
    }
  }
  await level(top.children, 0, width, top.retained, 1);
  div.style.height = (LEVELS * ROW + 8) + "px";
  for (const b of boxes) {
    const box = el("div", b.text + (b.depth === 0 ? " " + size(b.retained) : ""), "box");
    box.style.left = b.x + "px";
    box.style.top = (b.depth * ROW) + "px";
    box.style.width = b.w + "px";
    box.title = b.text;
    if (b.address) {
      box.dataset.address = b.address;
      box.addEventListener("click", () => {
        location.href = b.depth === 0 ? "/object/" + encodeURIComponent(b.address)
                                      : "/flame?address=" + encodeURIComponent(b.address);
      });
    }
    div.appendChild(box);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("table.sortable").forEach(sortable);
  const t = document.getElementById("tree");
  if (t) tree(t).catch(err => t.appendChild(el("li", String(err), "error")));
  const f = document.getElementById("flame");
  if (f) flame(f).catch(err => f.appendChild(el("p", String(err), "error")));
  document.addEventListener("click", ev => {
    const b = ev.target.closest("ul.owners button.expand");
    if (b) expandOwner(b).catch(err => b.parentElement.appendChild(el("p", String(err), "error")));
  });
});
