/* Page behaviour: draw the dashboard's charts from the page's own JSON, and filter resources on change. */
document.addEventListener("DOMContentLoaded", () => {
  "use strict";
  const data = document.getElementById("dashboard-data");
  if (data) drawDashboard(JSON.parse(data.textContent));
  const form = document.getElementById("resource-filters");
  if (form) wireFilters(form);
});

function drawDashboard(d) {
  const charts = window.HubCharts;
  charts.line(document.getElementById("trend-chart"), {
    points: d.trend, target: d.target,
    projection: { date: d.projection.target_date, ratio: d.projection.projected_ratio },
  });
  charts.bars(document.getElementById("department-chart"), {
    target: d.target, label: "各部门覆盖率", labelWidth: 170,
    rows: d.departments.map((r) => ({ label: r.department, ratio: r.ratio, aggregated: r.aggregated, total: r.total,
      href: r.department_id ? "/departments/" + encodeURIComponent(r.department_id) : null })),
  });
  charts.bars(document.getElementById("domain-chart"), {
    target: d.target, label: "各领域覆盖率", labelWidth: 90,
    rows: d.domains.map((r) => ({ label: r.label, ratio: r.ratio, aggregated: r.aggregated, total: r.total,
      href: "/resources?domain=" + encodeURIComponent(r.domain) })),
  });
}

function wireFilters(form) {
  // Empty fields are left out of the query so that the URL (and its JSON twin) names only real filters.
  form.addEventListener("submit", () => {
    for (const field of form.querySelectorAll("input, select")) {
      if (!field.value) field.disabled = true;
    }
  });
  for (const select of form.querySelectorAll("select")) {
    select.addEventListener("change", () => form.requestSubmit());
  }
}
