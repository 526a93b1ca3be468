/* The analyst workspace: CodeMirror editor (bundled locally as HubEditor), schema browser, paged
   results, a bar or line chart of a result drawn as SVG, saved queries and background exports.
   Everything it asks for comes from /workspace/api on this site. */
(function () {
  "use strict";
  const API = "/workspace/api";
  const PAGE_ROWS = 100;
  const NS = "http://www.w3.org/2000/svg";
  const root = document.getElementById("workspace");
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const state = { views: [], result: null, page: 0, editor: null, polling: null };

  function el(name, attrs, text) {
    const element = document.createElement(name);
    for (const [key, value] of Object.entries(attrs || {})) element.setAttribute(key, value);
    if (text !== undefined) element.textContent = text;
    return element;
  }

  async function call(method, path, body) {
    const options = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(API + path, options);
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error((data.error && data.error.message) || response.statusText);
    return data;
  }

  // --- editor -----------------------------------------------------------------------------------

  function completionSchema() {
    const schema = {};
    for (const view of state.views) schema[view.qualified] = view.columns.map((c) => c.name);
    return schema;
  }

  function makeEditor(doc) {
    const parent = $("editor");
    parent.textContent = "";
    if (window.HubEditor) {
      state.editor = window.HubEditor.createEditor(parent, {
        doc, schema: completionSchema(), onRun: run, nonce: root.dataset.styleNonce,
      });
      return;
    }
    // Without the bundle (`make setup` builds it) the page still works, without highlighting.
    const area = el("textarea", { "aria-label": "SQL" });
    area.value = doc;
    parent.appendChild(area);
    state.editor = { textarea: area };
  }

  function sqlText() {
    const editor = state.editor;
    return editor.textarea ? editor.textarea.value : window.HubEditor.getText(editor);
  }

  function setSql(text) {
    if (state.editor.textarea) state.editor.textarea.value = text;
    else window.HubEditor.setText(state.editor, text);
  }

  // --- schema browser ---------------------------------------------------------------------------

  async function loadSchema() {
    try {
      const data = await call("GET", "/schema");
      state.views = data.views;
    } catch (error) {
      $("schema-tree").textContent = "无法读取表结构：" + error.message;
      state.views = [];
    }
    drawSchema("");
    const first = state.views[0];
    makeEditor(first ? `SELECT *\nFROM ${first.qualified}\nLIMIT 100;` : "SELECT 1;");
  }

  function drawSchema(filter) {
    const tree = $("schema-tree");
    tree.textContent = "";
    const wanted = filter.trim().toLowerCase();
    const shown = state.views.filter((view) => !wanted || [view.qualified, view.title, view.description,
      ...view.columns.flatMap((c) => [c.name, c.label])].some((text) => (text || "").toLowerCase().includes(wanted)));
    if (!shown.length) tree.appendChild(el("p", { class: "muted" }, state.views.length ? "没有匹配的表" : "没有可读的表"));
    for (const view of shown) tree.appendChild(viewNode(view, Boolean(wanted)));
  }

  function viewNode(view, open) {
    const details = el("details", { "data-view": view.qualified });
    if (open) details.open = true;
    const summary = el("summary");
    summary.appendChild(el("strong", {}, view.title));
    summary.appendChild(document.createTextNode(" "));
    summary.appendChild(el("code", {}, view.qualified));
    if (view.kind === "mart") summary.appendChild(el("span", { class: "badge muted" }, "汇总"));
    details.appendChild(summary);
    const about = [view.department, view.code, view.description].filter(Boolean).join(" · ");
    if (about) details.appendChild(el("p", { class: "muted small" }, about));
    if (view.reads && view.reads.length) details.appendChild(el("p", { class: "small" }, "来源：" + view.reads.join("、")));
    const list = el("ul");
    for (const column of view.columns) {
      const item = el("li", { "data-column": column.name });
      const name = el("button", { type: "button", class: "col", title: "插入列名" }, column.name);
      name.addEventListener("click", () => insert(column.name));
      item.appendChild(name);
      item.appendChild(document.createTextNode(` ${column.type} ${column.label || ""}`));
      if (column.mask) item.appendChild(el("span", { class: "badge warn", title: column.mask_label || "" }, "脱敏"));
      list.appendChild(item);
    }
    details.appendChild(list);
    return details;
  }

  function insert(text) {
    if (state.editor.textarea) {
      state.editor.textarea.setRangeText(text);
      return;
    }
    const view = state.editor;
    view.dispatch(view.state.replaceSelection(text));
    view.focus();
  }

  // --- running and results ----------------------------------------------------------------------

  function showError(message) {
    const box = $("error");
    box.textContent = message || "";
    box.hidden = !message;
  }

  function showWarnings(warnings) {
    const box = $("warnings");
    box.textContent = "";
    for (const text of warnings || []) box.appendChild(el("div", { class: "callout", role: "alert" }, text));
  }

  async function run() {
    showError("");
    $("run").disabled = true;
    try {
      const answer = await call("POST", "/query", { sql: sqlText() });
      showWarnings(answer.warnings);
      if (!answer.allowed) {
        showError(answer.reason);
        return;
      }
      state.result = answer;
      state.page = 0;
      drawResult();
      fillChartControls();
    } catch (error) {
      showError(error.message);
    } finally {
      $("run").disabled = false;
      root.dataset.runs = String(Number(root.dataset.runs || 0) + 1); // for whoever waits on a run (tests)
    }
  }

  function drawResult() {
    const answer = state.result;
    $("result-panel").hidden = false;
    const pages = Math.max(1, Math.ceil(answer.rows.length / PAGE_ROWS));
    const cut = answer.truncated ? `（屏幕上最多 ${answer.row_limit} 行，已截断；导出可得全部行）` : "";
    $("result-summary").textContent = `${answer.row_count} 行，${answer.duration_ms} 毫秒${cut}`;
    $("page-info").textContent = `第 ${state.page + 1} / ${pages} 页`;
    $("prev").disabled = state.page === 0;
    $("next").disabled = state.page >= pages - 1;
    const table = $("result");
    table.textContent = "";
    const head = el("tr");
    for (const name of answer.columns) head.appendChild(el("th", {}, name));
    table.appendChild(el("thead")).appendChild(head);
    const body = table.appendChild(el("tbody"));
    for (const row of answer.rows.slice(state.page * PAGE_ROWS, (state.page + 1) * PAGE_ROWS)) {
      const line = el("tr");
      for (const value of row) line.appendChild(el("td", {}, value === null ? "NULL" : String(value)));
      body.appendChild(line);
    }
  }

  function turn(step) {
    state.page += step;
    drawResult();
  }

  // --- charts -----------------------------------------------------------------------------------

  function fillChartControls() {
    const answer = state.result;
    const numeric = answer.columns.filter((_, i) => answer.rows.some((row) => typeof row[i] === "number"));
    for (const [id, names] of [["chart-x", answer.columns], ["chart-y", numeric]]) {
      const select = $(id);
      select.textContent = "";
      for (const name of names) select.appendChild(el("option", { value: name }, name));
    }
    if (answer.columns.length > 1 && numeric.length) $("chart-y").value = numeric[numeric.length - 1];
    $("chart").textContent = "";
  }

  function svgNode(name, attrs, parent, text) {
    const node = document.createElementNS(NS, name);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
    if (text !== undefined) node.textContent = text;
    parent.appendChild(node);
    return node;
  }

  function drawChart() {
    const answer = state.result;
    const x = answer.columns.indexOf($("chart-x").value);
    const y = answer.columns.indexOf($("chart-y").value);
    const box = $("chart");
    box.textContent = "";
    if (x < 0 || y < 0) {
      box.textContent = "结果中没有数值列，无法画图";
      return;
    }
    const points = answer.rows.slice(0, 200).map((row) => ({ label: String(row[x]), value: Number(row[y]) || 0 }));
    const width = Math.max(box.clientWidth, 480), height = 280, left = 60, bottom = 60, top = 16;
    const max = Math.max(...points.map((p) => p.value), 0) || 1;
    const svg = svgNode("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", height, role: "img",
      class: "hub-chart", "aria-label": `${answer.columns[y]} / ${answer.columns[x]}` }, box);
    const plotW = width - left - 16, plotH = height - top - bottom;
    const step = plotW / Math.max(points.length, 1);
    const yOf = (value) => top + plotH - (value / max) * plotH;
    for (const tick of [0, 0.5, 1]) {
      svgNode("line", { x1: left, x2: width - 16, y1: yOf(max * tick), y2: yOf(max * tick), stroke: "#dde2e7" }, svg);
      svgNode("text", { x: left - 6, y: yOf(max * tick) + 4, "text-anchor": "end" }, svg, formatNumber(max * tick));
    }
    if ($("chart-type").value === "bar") {
      points.forEach((p, i) => svgNode("rect", { x: left + i * step + step * 0.1, y: yOf(p.value),
        width: Math.max(step * 0.8, 1), height: top + plotH - yOf(p.value), fill: "#2f6db5" }, svg));
    } else {
      const path = points.map((p, i) => `${i ? "L" : "M"}${left + i * step + step / 2},${yOf(p.value)}`).join(" ");
      svgNode("path", { d: path, fill: "none", stroke: "#2f6db5", "stroke-width": 2 }, svg);
    }
    const every = Math.ceil(points.length / 20);
    points.forEach((p, i) => {
      if (i % every) return;
      const cx = left + i * step + step / 2;
      svgNode("text", { x: cx, y: height - bottom + 14, "text-anchor": "end",
        transform: `rotate(-35 ${cx} ${height - bottom + 14})` }, svg, p.label.slice(0, 16));
    });
    if (answer.rows.length > points.length) box.appendChild(el("p", { class: "muted small" }, "图中只画前 200 行"));
  }

  function formatNumber(value) {
    return Math.abs(value) >= 1000 ? Math.round(value).toLocaleString("zh-CN") : String(Math.round(value * 100) / 100);
  }

  // --- saved queries ----------------------------------------------------------------------------

  async function loadSaved() {
    const list = $("saved");
    list.textContent = "";
    try {
      const data = await call("GET", "/queries");
      if (!data.queries.length) list.appendChild(el("li", { class: "muted" }, "还没有保存的查询"));
      for (const query of data.queries) {
        const item = el("li");
        const open = el("a", { href: "#", title: query.sql }, query.title);
        open.addEventListener("click", (event) => { event.preventDefault(); setSql(query.sql); });
        item.appendChild(open);
        item.appendChild(el("span", { class: "muted small" }, ` ${query.created_by}${query.shared ? " · 部门共享" : ""} `));
        if (query.mine) {
          const remove = el("button", { type: "button" }, "删除");
          remove.addEventListener("click", async () => { await call("DELETE", "/queries/" + query.id); loadSaved(); });
          item.appendChild(remove);
        }
        list.appendChild(item);
      }
    } catch (error) {
      list.appendChild(el("li", { class: "bad" }, error.message));
    }
  }

  async function save() {
    const title = $("save-title").value.trim() || sqlText().trim().slice(0, 40);
    try {
      await call("POST", "/queries", { title, sql: sqlText(), shared: $("save-shared").checked });
      $("save-title").value = "";
      loadSaved();
    } catch (error) {
      showError(error.message);
    }
  }

  // --- exports ----------------------------------------------------------------------------------

  async function startExport() {
    showError("");
    try {
      await call("POST", "/exports", { sql: sqlText(), format: $("export-format").value });
      loadExports();
    } catch (error) {
      showError(error.message);
    }
  }

  async function loadExports() {
    const data = await call("GET", "/exports").catch((error) => ({ exports: [], error }));
    const table = $("exports");
    table.textContent = "";
    if (data.keep_hours) $("keep-note").textContent = `导出文件保留 ${data.keep_hours} 小时，之后自动删除。`;
    const head = el("tr");
    for (const name of ["#", "格式", "状态", "行数", "文件"]) head.appendChild(el("th", {}, name));
    table.appendChild(el("thead")).appendChild(head);
    const body = table.appendChild(el("tbody"));
    const labels = { queued: "排队中", running: "运行中", done: "完成", failed: "失败", expired: "已过期" };
    let busy = false;
    for (const job of data.exports) {
      const row = el("tr", { "data-export": job.id, "data-status": job.status });
      row.appendChild(el("td", {}, String(job.id)));
      row.appendChild(el("td", {}, job.format));
      row.appendChild(el("td", { title: job.reason || "" }, labels[job.status] + (job.reason ? "：" + job.reason : "")));
      row.appendChild(el("td", { class: "num", "data-rows": job.rows === null ? "" : job.rows },
        job.rows === null ? "—" : job.rows.toLocaleString("zh-CN")));
      const file = row.appendChild(el("td"));
      if (job.download) file.appendChild(el("a", { href: job.download, download: "" }, "下载"));
      body.appendChild(row);
      busy = busy || job.status === "queued" || job.status === "running";
    }
    clearTimeout(state.polling);
    if (busy) state.polling = setTimeout(loadExports, 1000);
  }

  // --- wiring -----------------------------------------------------------------------------------

  $("run").addEventListener("click", run);
  $("prev").addEventListener("click", () => turn(-1));
  $("next").addEventListener("click", () => turn(1));
  $("draw").addEventListener("click", drawChart);
  $("save").addEventListener("click", save);
  $("export").addEventListener("click", startExport);
  $("schema-filter").addEventListener("input", (event) => drawSchema(event.target.value));
  loadSchema();
  loadSaved();
  loadExports();
})();
