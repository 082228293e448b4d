// Progressive enhancement only: every form works without this script.
(function () {
  "use strict";
  // Choosing a category reloads the form with its attributes.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (s) {
    s.addEventListener("change", function () { s.form.submit(); });
  });
  // A click on the report map becomes longitude and latitude (the grid links still work
  // without the script).
  document.querySelectorAll("[data-map-pick] svg").forEach(function (svg) {
    var minLon = parseFloat(svg.dataset.minLon), maxLat = parseFloat(svg.dataset.maxLat);
    var k = parseFloat(svg.dataset.k), scale = parseFloat(svg.dataset.scale);
    if (!isFinite(minLon)) { return; }
    svg.addEventListener("click", function (ev) {
      var pt = svg.createSVGPoint();
      pt.x = ev.clientX; pt.y = ev.clientY;
      var p = pt.matrixTransform(svg.getScreenCTM().inverse());
      var lon = minLon + p.x / (k * scale), lat = maxLat - p.y / scale;
      var form = document.querySelector("form.report");
      if (!form) { return; }
      ev.preventDefault();
      form.elements.lon.value = lon.toFixed(6);
      form.elements.lat.value = lat.toFixed(6);
      form.elements.grid.value = "";
      var old = svg.querySelector("circle.picked");
      if (old) { old.remove(); }
      var c = document.createElementNS("http://www.w3.org/2000/svg", "circle");
      c.setAttribute("class", "picked"); c.setAttribute("cx", p.x); c.setAttribute("cy", p.y);
      c.setAttribute("r", 6); c.setAttribute("fill", "#0b5cad");
      svg.appendChild(c);
    });
  });
})();
// A search box over a long select (units to dispatch to): hides the options that do not match
// what is typed; the chosen ones always stay.
(function () {
  "use strict";
  document.querySelectorAll("input[data-filters]").forEach(function (box) {
    var select = document.getElementById(box.dataset.filters);
    if (!select) { return; }
    box.addEventListener("input", function () {
      var q = box.value.trim().toLowerCase();
      Array.prototype.forEach.call(select.options, function (o) {
        o.hidden = q !== "" && !o.selected && o.textContent.toLowerCase().indexOf(q) < 0;
      });
    });
  });
  // Declaring an incident: a click on a grid of the map ticks its box (or, with a radius
  // chosen, sets the centre). The boxes work without the script.
  document.querySelectorAll("[data-grid-pick] svg").forEach(function (svg) {
    var form = svg.closest("form");
    if (!form) { return; }
    var minLon = parseFloat(svg.dataset.minLon), maxLat = parseFloat(svg.dataset.maxLat);
    var k = parseFloat(svg.dataset.k), scale = parseFloat(svg.dataset.scale);
    svg.addEventListener("click", function (ev) {
      var area = form.querySelector("input[name=area]:checked");
      if (area && area.value === "circle" && isFinite(minLon)) {
        var pt = svg.createSVGPoint();
        pt.x = ev.clientX; pt.y = ev.clientY;
        var p = pt.matrixTransform(svg.getScreenCTM().inverse());
        form.elements.lon.value = (minLon + p.x / (k * scale)).toFixed(6);
        form.elements.lat.value = (maxLat - p.y / scale).toFixed(6);
        return;
      }
      var path = ev.target.closest("path[data-grid]");
      if (!path) { return; }
      var box = form.querySelector('input[name=grid][value="' + path.dataset.grid + '"]');
      if (!box) { return; }
      box.checked = !box.checked;
      path.classList.toggle("picked", box.checked);
      var details = box.closest("details");
      if (details && box.checked) { details.open = true; }
    });
  });
  // A live board reloads itself while its box is ticked (the reader may stop it: WCAG
  // 2.2.1), never while someone is typing into one of its forms.
  var auto = document.getElementById("auto-refresh");
  if (auto) {
    var seconds = parseInt(auto.dataset.seconds, 10) || 30;
    if (sessionStorage.getItem("auto-refresh") === "off") { auto.checked = false; }
    auto.addEventListener("change", function () {
      sessionStorage.setItem("auto-refresh", auto.checked ? "on" : "off");
    });
    setInterval(function () {
      var a = document.activeElement;
      var typing = a && /^(INPUT|TEXTAREA|SELECT)$/.test(a.tagName) && a !== auto;
      if (auto.checked && !typing) { window.location.reload(); }
    }, seconds * 1000);
  }
})();
