// The custom kernel of the Convolution page as a grid of numbers, one table per slice.
//
// data: {slices: number[][][] (slice, row, column), names: string[], version: string}
// When a cell is changed (Enter, Tab or leaving it), the component sends the trigger
// "edit" = {slice, row, col, value} with the text typed; Python parses it (fractions such
// as 1/9 work) and rewrites the kernel's text, which comes back here as new data.

const NUMBER = /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?(\s*\/\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)?\s*$/;

const show = (v) => String(Number(v.toPrecision(6)));

function tint(v, biggest) {
  const a = biggest > 0 ? (0.12 + 0.38 * Math.min(Math.abs(v) / biggest, 1)) : 0;
  if (v > 0) return `rgba(214, 96, 77, ${a.toFixed(3)})`;  // red: positive weights
  if (v < 0) return `rgba(67, 147, 195, ${a.toFixed(3)})`;  // blue: negative weights
  return "transparent";
}

function paint(root) {
  const values = [...root.querySelectorAll("input")].map((i) => Number(i.dataset.value));
  const biggest = Math.max(0, ...values.map(Math.abs));
  for (const input of root.querySelectorAll("input")) {
    input.style.background = tint(Number(input.dataset.value), biggest);
  }
}

function build(root, data) {
  root.replaceChildren();
  data.slices.forEach((rows, s) => {
    const block = document.createElement("div");
    block.className = "cnnviz-kgrid-slice";
    if (data.names[s]) {
      const title = document.createElement("div");
      title.className = "cnnviz-kgrid-name";
      title.textContent = `Slice for ${data.names[s]}`;
      block.appendChild(title);
    }
    const table = document.createElement("div");
    table.className = "cnnviz-kgrid-table";
    table.style.gridTemplateColumns = `repeat(${rows[0].length}, 3.6em)`;
    rows.forEach((row, r) => row.forEach((v, c) => {
      const input = document.createElement("input");
      input.type = "text";
      input.inputMode = "decimal";
      input.autocomplete = "off";
      input.spellcheck = false;
      Object.assign(input.dataset, {slice: s, row: r, col: c});
      const where = `${data.names[s] ? data.names[s] + " slice, " : ""}row ${r + 1}, column ${c + 1}`;
      input.setAttribute("aria-label", `Kernel weight, ${where}`);
      input.dataset.where = where;
      input.title = where;
      table.appendChild(input);
    }));
    block.appendChild(table);
    root.appendChild(block);
  });
  root.dataset.shape = shape(data);
}

const shape = (data) => data.slices.map((rows) => `${rows.length}x${rows[0].length}`).join(",");

function fill(root, data) {
  for (const input of root.querySelectorAll("input")) {
    const v = data.slices[+input.dataset.slice][+input.dataset.row][+input.dataset.col];
    input.dataset.value = v;
    input.dataset.text = show(v);
    ok(input);
    if (document.activeElement !== input) input.value = show(v);
  }
  paint(root);
}

// A cell that holds a number again: no red outline, its place as the tooltip.
function ok(input) {
  input.classList.remove("bad");
  input.title = input.dataset.where;
}

function commit(root, input) {
  const text = input.value.trim();
  if (text === input.dataset.text) return;
  if (!NUMBER.test(text)) {
    input.classList.add("bad");
    input.title = "Not a number: type digits such as 2, -0.5 or 1/9.";
    return;
  }
  ok(input);
  input.dataset.text = text;
  root._send("edit", {slice: +input.dataset.slice, row: +input.dataset.row,
                      col: +input.dataset.col, value: text});
}

function move(root, input, dr) {
  const s = +input.dataset.slice, r = +input.dataset.row + dr, c = +input.dataset.col;
  const next = root.querySelector(`input[data-slice="${s}"][data-row="${r}"][data-col="${c}"]`);
  if (next) next.focus();
}

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  let root = parentElement.querySelector(".cnnviz-kgrid");
  if (!root) {
    root = document.createElement("div");
    root.className = "cnnviz-kgrid";
    parentElement.appendChild(root);
  }
  root._send = setTriggerValue;
  if (!root._bound) {
    root._bound = true;
    root.addEventListener("change", (e) => commit(root, e.target));
    root.addEventListener("focusin", (e) => e.target.select && e.target.select());
    root.addEventListener("keydown", (e) => {
      const input = e.target;
      if (e.key === "Enter") {
        e.preventDefault();
        commit(root, input);
        move(root, input, e.shiftKey ? -1 : 1);
      } else if (e.key === "Escape") {
        input.value = input.dataset.text;
        ok(input);
      } else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        commit(root, input);
        move(root, input, e.key === "ArrowDown" ? 1 : -1);
      }
    });
  }
  if (!data || !data.slices || !data.slices.length) return;
  if (root.dataset.version === data.version) return;
  if (root.dataset.shape !== shape(data)) build(root, data);
  fill(root, data);
  root.dataset.version = data.version;
}
