/* HubCharts: a small SVG line and bar chart module, served by the catalogue service itself
   (no CDN, no build step). Ratios are 0..1; dates are ISO strings (YYYY-MM-DD).
     HubCharts.line(container, {points: [{date, ratio}], projection: {date, ratio} | null, target})
     HubCharts.bars(container, {rows: [{label, ratio, aggregated, total, href}], target})          */
(function (global) {
  "use strict";
  const NS = "http://www.w3.org/2000/svg";
  const DAY = 86400000;
  const AMBER_SHARE = 0.75; // amber from three quarters of the target, as `hub coverage` colours it

  function node(name, attrs, parent, text) {
    const element = document.createElementNS(NS, name);
    for (const [key, value] of Object.entries(attrs || {})) element.setAttribute(key, String(value));
    if (text !== undefined) element.textContent = text;
    if (parent) parent.appendChild(element);
    return element;
  }

  function pct(ratio, digits) {
    return (ratio * 100).toFixed(digits === undefined ? 1 : digits) + "%";
  }

  function tone(ratio, target) {
    if (ratio >= target) return "good";
    return ratio >= target * AMBER_SHARE ? "warn" : "bad";
  }

  function day(iso) {
    return Date.UTC(Number(iso.slice(0, 4)), Number(iso.slice(5, 7)) - 1, Number(iso.slice(8, 10)));
  }

  function frame(container, height, label) {
    container.textContent = "";
    const width = Math.max(container.clientWidth || 0, 320);
    const svg = node("svg", {
      viewBox: `0 0 ${width} ${height}`, width: "100%", height, role: "img", "aria-label": label,
      class: "hub-chart",
    }, container);
    node("title", {}, svg, label);
    return { svg, width, height };
  }

  function line(container, options) {
    const points = (options.points || []).filter((p) => p && p.date);
    const target = Number(options.target);
    const projection = options.projection && options.projection.date ? options.projection : null;
    const { svg, width, height } = frame(container, options.height || 260, "覆盖率趋势与预测");
    const margin = { left: 46, right: 70, top: 14, bottom: 30 };
    const times = points.map((p) => day(p.date)).concat(projection ? [day(projection.date)] : []);
    let first = Math.min(...times), last = Math.max(...times);
    if (!isFinite(first)) { first = Date.now(); last = first; }
    if (first === last) { first -= DAY; last += DAY; }
    const x = (t) => margin.left + (t - first) / (last - first) * (width - margin.left - margin.right);
    const y = (r) => margin.top + (1 - r) * (height - margin.top - margin.bottom);
    for (const tick of [0, 0.25, 0.5, 0.75, 1]) {
      node("line", { x1: margin.left, x2: width - margin.right, y1: y(tick), y2: y(tick), class: "grid" }, svg);
      node("text", { x: margin.left - 6, y: y(tick) + 4, "text-anchor": "end", class: "axis" }, svg, pct(tick, 0));
    }
    node("line", { x1: margin.left, x2: width - margin.right, y1: y(target), y2: y(target), class: "target" }, svg);
    node("text", { x: width - margin.right + 4, y: y(target) + 4, class: "target-label" }, svg, "目标 " + pct(target, 0));
    if (points.length) {
      const path = points.map((p, i) => `${i ? "L" : "M"}${x(day(p.date)).toFixed(1)},${y(p.ratio).toFixed(1)}`);
      node("path", { d: path.join(" "), class: "series" }, svg);
      for (const p of points) {
        const dot = node("circle", { cx: x(day(p.date)), cy: y(p.ratio), r: 3.5, class: "dot" }, svg);
        node("title", {}, dot, `${p.date} ${pct(p.ratio)}（${p.aggregated}/${p.total}）`);
      }
    }
    if (projection && points.length) {
      const end = points[points.length - 1];
      const cls = projection.ratio >= target ? "projection good" : "projection bad";
      node("path", { d: `M${x(day(end.date))},${y(end.ratio)} L${x(day(projection.date))},${y(projection.ratio)}`, class: cls }, svg);
      node("circle", { cx: x(day(projection.date)), cy: y(projection.ratio), r: 4, class: cls }, svg);
      // Below the point near the top edge (a projection of 100 % sits in the corner), else above it.
      const pointY = y(projection.ratio);
      const labelY = pointY < margin.top + 20 ? pointY + 18 : pointY - 8;
      node("text", { x: x(day(projection.date)) - 6, y: labelY, "text-anchor": "end", class: "projection-label" }, svg,
        "预测 " + pct(projection.ratio));
    }
    const labels = [points.length ? points[0].date : null, points.length ? points[points.length - 1].date : null,
      projection ? projection.date : null].filter((d, i, all) => d && all.indexOf(d) === i);
    labels.forEach((d, i) => {
      const anchor = i === 0 ? "start" : (i === labels.length - 1 ? "end" : "middle");
      node("text", { x: x(day(d)), y: height - 8, "text-anchor": anchor, class: "axis" }, svg, d);
    });
    return svg;
  }

  function bars(container, options) {
    const rows = options.rows || [];
    const target = Number(options.target);
    const rowHeight = 24, labelWidth = options.labelWidth || 130, valueWidth = 110;
    const height = Math.max(rows.length * rowHeight + 24, 48);
    const { svg, width } = frame(container, height, options.label || "覆盖率");
    const plot = width - labelWidth - valueWidth;
    const x = (r) => labelWidth + Math.max(0, Math.min(1, r)) * plot;
    rows.forEach((row, i) => {
      const top = 6 + i * rowHeight;
      const group = node("g", { class: "bar-row", "data-label": row.label }, svg);
      const holder = row.href ? node("a", { href: row.href }, group) : group;
      node("text", { x: labelWidth - 8, y: top + 15, "text-anchor": "end", class: "bar-label" }, holder, row.label);
      node("rect", { x: labelWidth, y: top + 3, width: plot, height: rowHeight - 8, class: "bar-bg" }, group);
      const bar = node("rect", { x: labelWidth, y: top + 3, width: Math.max(x(row.ratio) - labelWidth, 1),
        height: rowHeight - 8, class: "bar " + tone(row.ratio, target) }, group);
      node("title", {}, bar, `${row.label} ${pct(row.ratio)}（${row.aggregated}/${row.total}）`);
      node("text", { x: labelWidth + plot + 6, y: top + 15, class: "bar-value" }, group,
        `${pct(row.ratio)}  ${row.aggregated}/${row.total}`);
    });
    node("line", { x1: x(target), x2: x(target), y1: 2, y2: height - 16, class: "target" }, svg);
    node("text", { x: x(target), y: height - 4, "text-anchor": "middle", class: "target-label" }, svg, "目标 " + pct(target, 0));
    return svg;
  }

  global.HubCharts = { line, bars, pct, tone };
})(window);
