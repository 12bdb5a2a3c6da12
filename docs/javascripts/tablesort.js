// The catalog's table: a filter box above it and click-to-sort headers (no library, works from file://).
(function () {
  function cellText(row, i) { return row.cells[i] ? row.cells[i].textContent.trim() : ""; }
  function compare(a, b) {
    var x = parseFloat(a), y = parseFloat(b);
    if (!isNaN(x) && !isNaN(y)) return x - y;
    return a.localeCompare(b);
  }
  function enhance(table) {
    if (table.dataset.jlSortable) return;
    table.dataset.jlSortable = "1";
    var body = table.tBodies[0];
    var filter = document.createElement("input");
    filter.type = "search";
    filter.placeholder = "Filter the " + body.rows.length + " rows (name, family, task, property...)";
    filter.className = "jl-filter";
    filter.style.cssText = "width:100%;padding:.4em;margin-bottom:.5em;border:1px solid #ccc;border-radius:4px";
    table.parentNode.insertBefore(filter, table);
    filter.addEventListener("input", function () {
      var words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
      Array.prototype.forEach.call(body.rows, function (row) {
        var text = row.textContent.toLowerCase();
        row.style.display = words.every(function (w) { return text.indexOf(w) >= 0; }) ? "" : "none";
      });
    });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
      th.style.cursor = "pointer";
      th.title = "Click to sort";
      th.addEventListener("click", function () {
        var dir = th.dataset.dir === "asc" ? "desc" : "asc";
        Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { delete h.dataset.dir; h.removeAttribute("aria-sort"); });
        th.dataset.dir = dir;
        th.setAttribute("aria-sort", dir === "asc" ? "ascending" : "descending");
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) { var c = compare(cellText(a, i), cellText(b, i)); return dir === "asc" ? c : -c; });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  }
  function init() { document.querySelectorAll(".jl-sortable table").forEach(enhance); }
  if (typeof document$ !== "undefined") document$.subscribe(init);
  else if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
