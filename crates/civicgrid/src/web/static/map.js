// Maps, as progressive enhancement of the server-drawn SVG map: every page works without this
// script, and without tiles the SVG stays the map.
//
// Each `<div class="map-wrap" data-map='{…}'>` carries its configuration as JSON:
//   tiles        URL template of a tile server ({z}/{x}/{y}, optional {s}), or null: no tiles
//   attribution  text shown for the tiles (plain text: it is escaped)
//   min_zoom, max_zoom
//   grids        URL of a GeoJSON FeatureCollection of grid polygons
//                (properties code, name, community_code, community_name, street_name)
//   cases        URL of a GeoJSON FeatureCollection of case points, or null
//                (properties public_id, url, category, status, status_code, reported_at)
//   pick         true on the report form: a click, Enter on the map, "use my location" or a
//                search result sets the form's lon/lat (6 decimals) and clears its grid
//   locate       URL answering ?lon=&lat= with {grid, grid_name, community, community_name}
//                or 404 (a problem document whose `detail` is shown)
//   places       URL answering ?q= with up to 10 {name, kind, lon, lat, grid_name,
//                community_name}, or null: no search box
//   labels       texts in the page's language (see DEFAULTS for the keys; all optional)
//
// With tiles and Leaflet (window.L) present the SVG is hidden (kept for print) and a Leaflet
// map takes its place: the grids with their names, communities with bolder names, and the
// cases as round markers clustered into 40px screen cells. Without them the SVG stays and,
// in pick mode, a click on it (turned into lon/lat by app.js) is located in the same way.
// The only requests that leave the site are the tiles of the configured tile server.
(function () {
  "use strict";

  var DEFAULTS = {
    zh: {
      use_location: "使用我的位置",
      locating: "正在定位…",
      no_location: "无法获取位置",
      search: "搜索地点",
      chosen: "已选：{grid}（{community}）",
      mismatch: "这个位置不在平台的网格内。",
      cases: "{count} 件案件，点击放大",
      map: "网格地图",
      keys: "方向键移动地图，加号和减号缩放。",
      keys_pick: "方向键移动地图，加号和减号缩放，回车选定地图中心的位置。",
      picked: "选定的位置",
      no_results: "没有找到地点",
      results: "找到 {count} 个地点",
      kinds: { grid: "网格", community: "社区", building: "楼栋", landmark: "地标" }
    },
    en: {
      use_location: "Use my location",
      locating: "Locating…",
      no_location: "Your location is not available",
      search: "Search for a place",
      chosen: "Chosen: {grid} ({community})",
      mismatch: "This place is outside the platform's grids.",
      cases: "{count} cases, select to zoom in",
      map: "Grid map",
      keys: "Arrow keys move the map, plus and minus zoom.",
      keys_pick: "Arrow keys move the map, plus and minus zoom, Enter chooses the centre of the map.",
      picked: "Chosen place",
      no_results: "No places found",
      results: "{count} places found",
      kinds: { grid: "grid", community: "community", building: "building", landmark: "landmark" }
    }
  };

  var CLUSTER_PX = 40;
  var NARROW_PX = 760;
  var SVG_NS = "http://www.w3.org/2000/svg";

  // ---- small helpers ------------------------------------------------------------------

  function extend(target) {
    for (var i = 1; i < arguments.length; i++) {
      var src = arguments[i];
      if (!src) { continue; }
      for (var k in src) {
        if (Object.prototype.hasOwnProperty.call(src, k) && src[k] !== null && src[k] !== undefined) {
          target[k] = src[k];
        }
      }
    }
    return target;
  }

  function num(v, fallback) {
    var n = typeof v === "number" ? v : parseFloat(v);
    return isFinite(n) ? n : fallback;
  }

  function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" }[c];
    });
  }

  // Replaces {name} in a label; a pair of brackets left empty is dropped.
  function fill(template, values) {
    var out = String(template || "").replace(/\{(\w+)\}/g, function (m, k) {
      return values[k] === undefined || values[k] === null ? "" : String(values[k]);
    });
    return out.replace(/\s*(（\s*）|\(\s*\))/g, "").trim();
  }

  function el(tag, className, text) {
    var e = document.createElement(tag);
    if (className) { e.className = className; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }

  function withQuery(url, params) {
    var parts = [];
    for (var k in params) {
      if (Object.prototype.hasOwnProperty.call(params, k)) {
        parts.push(encodeURIComponent(k) + "=" + encodeURIComponent(params[k]));
      }
    }
    return url + (url.indexOf("?") >= 0 ? "&" : "?") + parts.join("&");
  }

  // GET a same-origin JSON document; `done(status, body)` with body null when it is not JSON.
  function getJSON(url, done) {
    var xhr = new XMLHttpRequest();
    xhr.open("GET", url, true);
    xhr.setRequestHeader("Accept", "application/json, application/geo+json, application/problem+json");
    xhr.onreadystatechange = function () {
      if (xhr.readyState !== 4 || xhr.cgAborted) { return; }
      var body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
      done(xhr.status, body);
    };
    xhr.send();
    return xhr;
  }

  function abort(xhr) {
    if (xhr) { xhr.cgAborted = true; xhr.abort(); }
  }

  // Only http(s) links, resolved against the page, make it into a popup.
  function safeHref(url) {
    if (!url) { return null; }
    var a = document.createElement("a");
    a.href = String(url);
    return a.protocol === "http:" || a.protocol === "https:" ? a.href : null;
  }

  function textWidth(text, px) {
    var w = 0;
    for (var i = 0; i < text.length; i++) {
      w += text.charCodeAt(i) > 0x2e80 ? px : px * 0.6;
    }
    return w;
  }

  // ---- one map ------------------------------------------------------------------------

  function setup(wrap, index) {
    var cfg;
    try {
      cfg = JSON.parse(wrap.getAttribute("data-map"));
    } catch (e) {
      return;
    }
    if (!cfg || typeof cfg !== "object") { return; }
    var lang = (document.documentElement.lang || "").toLowerCase().indexOf("zh") === 0 ? "zh" : "en";
    var labels = extend({}, DEFAULTS[lang], cfg.labels);
    labels.kinds = extend({}, DEFAULTS[lang].kinds, cfg.labels && cfg.labels.kinds);
    var svg = null;
    for (var c = wrap.firstElementChild; c; c = c.nextElementSibling) {
      if (c.tagName.toLowerCase() === "svg") { svg = c; break; }
    }
    var form = cfg.pick ? (wrap.closest("form") || document.querySelector("form.report")) : null;
    var ctx = {
      wrap: wrap,
      index: index,
      cfg: cfg,
      labels: labels,
      svg: svg,
      form: form && form.elements.lon && form.elements.lat ? form : null,
      chosen: null,
      lmap: null,
      grids: [],
      communities: [],
      cases: null,
      locateSeq: 0,
      userMoved: false
    };
    ctx.pick = !!(cfg.pick && ctx.form);
    ctx.minZoom = num(cfg.min_zoom, 3);
    ctx.maxZoom = Math.max(ctx.minZoom, num(cfg.max_zoom, 18));
    if (ctx.pick) {
      ctx.chosen = document.getElementById("place-chosen");
      if (!ctx.chosen) {
        ctx.chosen = el("p", "chosen");
        ctx.chosen.id = "place-chosen";
        ctx.chosen.setAttribute("aria-live", "polite");
        wrap.parentNode.insertBefore(ctx.chosen, wrap.nextSibling);
      }
    }
    addTools(ctx);
    if (cfg.tiles && window.L && window.L.map) {
      startLeaflet(ctx);
    } else {
      startSvg(ctx);
    }
    if (ctx.pick) { watchInputs(ctx); }
  }

  // Writes into the "chosen place" line; `trouble` marks it as a problem.
  function say(ctx, text, trouble) {
    if (!ctx.chosen) { return; }
    ctx.chosen.textContent = text || "";
    ctx.chosen.classList.toggle("map-trouble", !!trouble);
  }

  // ---- picking ------------------------------------------------------------------------

  function setField(form, name, value) {
    var f = form.elements[name];
    if (f && typeof f.value === "string") { f.value = value; }
  }

  // A place is chosen: into the form, onto the map, then named by the server.
  function pick(ctx, lon, lat) {
    if (!ctx.pick || !isFinite(lon) || !isFinite(lat)) { return; }
    setField(ctx.form, "lon", lon.toFixed(6));
    setField(ctx.form, "lat", lat.toFixed(6));
    setField(ctx.form, "grid", "");
    showPicked(ctx, lon, lat);
    locate(ctx, lon, lat);
  }

  function locate(ctx, lon, lat) {
    if (!ctx.cfg.locate) { return; }
    var seq = ++ctx.locateSeq;
    var l = ctx.labels;
    getJSON(withQuery(ctx.cfg.locate, { lon: lon.toFixed(6), lat: lat.toFixed(6) }), function (status, body) {
      if (seq !== ctx.locateSeq) { return; }
      if (status === 200 && body && body.grid) {
        say(ctx, fill(l.chosen, {
          grid: body.grid_name || body.grid,
          community: body.community_name || body.community,
          grid_code: body.grid,
          community_code: body.community
        }));
      } else if (status === 404 && body && body.detail) {
        say(ctx, body.detail, true);
      } else {
        say(ctx, l.outside || l.mismatch, true);
      }
    });
  }

  function showPicked(ctx, lon, lat) {
    if (ctx.lmap) {
      var L = window.L;
      var ll = L.latLng(lat, lon);
      if (ctx.pickMarker) {
        ctx.pickMarker.setLatLng(ll);
      } else {
        ctx.pickMarker = L.marker(ll, {
          keyboard: false,
          interactive: false,
          title: ctx.labels.picked,
          alt: ctx.labels.picked,
          zIndexOffset: 1000
        }).addTo(ctx.lmap);
      }
    } else if (ctx.svg) {
      svgCircle(ctx.svg, "picked", lon, lat, 6, "#0b5cad");
    }
  }

  // Coordinates typed into the form move the marker too.
  function watchInputs(ctx) {
    var onChange = function () {
      var lon = parseFloat(ctx.form.elements.lon.value);
      var lat = parseFloat(ctx.form.elements.lat.value);
      if (!isFinite(lon) || !isFinite(lat) || Math.abs(lat) > 90 || Math.abs(lon) > 180) { return; }
      setField(ctx.form, "grid", "");
      showPicked(ctx, lon, lat);
      if (ctx.lmap) {
        var inView = false;
        try { inView = ctx.lmap.getBounds().contains([lat, lon]); } catch (e) { inView = false; }
        if (!inView) {
          ctx.userMoved = true;
          ctx.lmap.setView([lat, lon], ctx.lmap.getZoom() || Math.min(17, ctx.maxZoom));
        }
      }
      locate(ctx, lon, lat);
    };
    ctx.form.elements.lon.addEventListener("change", onChange);
    ctx.form.elements.lat.addEventListener("change", onChange);
    // A form shown again (after an error) with a place: mark it, and name it if nothing is said.
    var lon0 = parseFloat(ctx.form.elements.lon.value);
    var lat0 = parseFloat(ctx.form.elements.lat.value);
    if (isFinite(lon0) && isFinite(lat0)) {
      showPicked(ctx, lon0, lat0);
      if (ctx.chosen && !ctx.chosen.textContent.trim()) { locate(ctx, lon0, lat0); }
    }
  }

  // ---- tools above the map: "use my location" and the place search ----------------------

  function addTools(ctx) {
    var cfg = ctx.cfg;
    var l = ctx.labels;
    if (!ctx.pick && !cfg.places) { return; }
    var tools = el("div", "map-tools");
    var btn = null;
    if (ctx.pick) {
      btn = el("button", "map-locate-me", l.use_location);
      btn.type = "button";
      btn.addEventListener("click", function () { useMyLocation(ctx, btn); });
    }
    if (btn) { tools.appendChild(btn); }
    if (cfg.places) { tools.appendChild(searchBox(ctx)); }
    ctx.wrap.insertBefore(tools, ctx.wrap.firstChild);
  }

  function useMyLocation(ctx, btn) {
    var l = ctx.labels;
    if (btn.getAttribute("aria-busy") === "true") { return; }
    if (!navigator.geolocation) {
      say(ctx, l.no_location, true);
      return;
    }
    say(ctx, l.locating);
    btn.setAttribute("aria-busy", "true");
    navigator.geolocation.getCurrentPosition(function (pos) {
      btn.removeAttribute("aria-busy");
      var lon = pos.coords.longitude;
      var lat = pos.coords.latitude;
      if (ctx.lmap) {
        ctx.userMoved = true;
        ctx.lmap.setView([lat, lon], Math.max(ctx.lmap.getZoom() || 0, Math.min(17, ctx.maxZoom)));
      }
      pick(ctx, lon, lat);
    }, function () {
      btn.removeAttribute("aria-busy");
      say(ctx, l.no_location, true);
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  }

  function searchBox(ctx) {
    var l = ctx.labels;
    var id = "map-search-" + ctx.index;
    var box = el("div", "map-search");
    box.setAttribute("role", "search");
    var label = el("label", null, l.search);
    label.htmlFor = id;
    var input = el("input");
    input.type = "search";
    input.id = id;
    input.autocomplete = "off";
    input.setAttribute("enterkeyhint", "search");
    input.setAttribute("aria-controls", id + "-results");
    input.setAttribute("aria-describedby", id + "-status");
    var status = el("p", "map-search-status");
    status.id = id + "-status";
    status.setAttribute("aria-live", "polite");
    var list = el("ul", "map-search-results");
    list.id = id + "-results";
    list.setAttribute("aria-label", l.search);
    list.hidden = true;
    box.appendChild(label);
    box.appendChild(input);
    box.appendChild(status);
    box.appendChild(list);

    var timer = null;
    var pending = null;
    var seq = 0;
    var shownFor = null;

    function clear() {
      list.textContent = "";
      list.hidden = true;
      status.textContent = "";
      shownFor = null;
    }

    function buttons() {
      return list.querySelectorAll("button");
    }

    function run() {
      clearTimeout(timer);
      timer = null;
      var q = input.value.trim();
      if (!q) {
        abort(pending);
        clear();
        return;
      }
      if (q === shownFor) { return; }
      abort(pending);
      var mine = ++seq;
      pending = getJSON(withQuery(ctx.cfg.places, { q: q }), function (code, body) {
        if (mine !== seq) { return; }
        pending = null;
        show(q, code === 200 && body instanceof Array ? body : []);
      });
    }

    function show(q, results) {
      list.textContent = "";
      shownFor = q;
      results.forEach(function (r) {
        var lon = num(r.lon, NaN);
        var lat = num(r.lat, NaN);
        if (!isFinite(lon) || !isFinite(lat) || !r.name) { return; }
        var li = el("li");
        var parts = [l.kinds[r.kind] || r.kind];
        if (r.community_name && r.community_name !== r.name) { parts.push(r.community_name); }
        var b = el("button", null, r.name + " — " + parts.filter(Boolean).join(" · "));
        b.type = "button";
        b.addEventListener("click", function () {
          choosePlace(ctx, r, lon, lat);
          input.value = r.name;
          clear();
          input.focus();
        });
        li.appendChild(b);
        list.appendChild(li);
      });
      var n = list.children.length;
      list.hidden = n === 0;
      status.textContent = n ? fill(l.results, { count: n }) : l.no_results;
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(run, 250);
    });
    input.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter") {
        // Never submits the report form around the map: searches at once instead.
        ev.preventDefault();
        run();
      } else if (ev.key === "ArrowDown") {
        var bs = buttons();
        if (bs.length) { ev.preventDefault(); bs[0].focus(); }
      } else if (ev.key === "Escape" && !list.hidden) {
        ev.preventDefault();
        clear();
      }
    });
    list.addEventListener("keydown", function (ev) {
      var bs = Array.prototype.slice.call(buttons());
      var i = bs.indexOf(document.activeElement);
      if (i < 0) { return; }
      if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
        ev.preventDefault();
        var j = i + (ev.key === "ArrowDown" ? 1 : -1);
        if (j < 0) { input.focus(); } else if (j < bs.length) { bs[j].focus(); }
      } else if (ev.key === "Home" || ev.key === "End") {
        ev.preventDefault();
        bs[ev.key === "Home" ? 0 : bs.length - 1].focus();
      } else if (ev.key === "Escape") {
        ev.preventDefault();
        clear();
        input.focus();
      }
    });
    return box;
  }

  function choosePlace(ctx, r, lon, lat) {
    if (ctx.lmap) {
      var L = window.L;
      var map = ctx.lmap;
      var bounds = null;
      if (r.kind === "grid" || r.kind === "community") {
        ctx.grids.forEach(function (g) {
          var hit = r.kind === "grid"
            ? g.name === r.name && (!r.community_name || g.community_name === r.community_name)
            : g.community_name === r.name;
          if (hit) {
            bounds = bounds ? bounds.extend(g.bounds) : L.latLngBounds(g.bounds.getSouthWest(), g.bounds.getNorthEast());
          }
        });
      }
      ctx.userMoved = true;
      if (bounds && bounds.isValid()) {
        map.fitBounds(bounds, { padding: [20, 20], maxZoom: ctx.maxZoom });
      } else {
        map.setView([lat, lon], Math.max(map.getZoom() || 0, Math.min(17, ctx.maxZoom)));
      }
      if (!ctx.pick) {
        L.popup({ autoPan: false, className: "map-found" })
          .setLatLng([lat, lon])
          .setContent(el("strong", null, r.name))
          .openOn(map);
      }
    } else if (ctx.svg && !ctx.pick) {
      svgCircle(ctx.svg, "found", lon, lat, 7, "#8a5a00");
    }
    if (ctx.pick) { pick(ctx, lon, lat); }
  }

  // ---- without tiles: the SVG map -------------------------------------------------------

  function svgFrame(svg) {
    var d = svg.dataset;
    var f = {
      minLon: parseFloat(d.minLon),
      maxLat: parseFloat(d.maxLat),
      k: parseFloat(d.k),
      scale: parseFloat(d.scale)
    };
    return isFinite(f.minLon) && isFinite(f.maxLat) && f.k > 0 && f.scale > 0 ? f : null;
  }

  function svgCircle(svg, cls, lon, lat, r, colour) {
    var f = svgFrame(svg);
    if (!f) { return; }
    var old = svg.querySelector("circle." + cls);
    if (old) { old.parentNode.removeChild(old); }
    var c = document.createElementNS(SVG_NS, "circle");
    c.setAttribute("class", cls);
    c.setAttribute("cx", ((lon - f.minLon) * f.k * f.scale).toFixed(1));
    c.setAttribute("cy", ((f.maxLat - lat) * f.scale).toFixed(1));
    c.setAttribute("r", r);
    c.setAttribute("fill", colour);
    c.setAttribute("stroke", "#fff");
    c.setAttribute("stroke-width", "1.5");
    svg.appendChild(c);
  }

  function startSvg(ctx) {
    var svg = ctx.svg;
    if (!svg || !ctx.pick) { return; }
    // app.js turns a click into lon/lat on maps marked data-map-pick; this runs after it
    // (whatever the order of the listeners) and names the place. Elsewhere it does it all.
    var appJs = ctx.wrap.hasAttribute("data-map-pick");
    svg.addEventListener("click", function (ev) {
      if (appJs) {
        setTimeout(function () {
          var lon = parseFloat(ctx.form.elements.lon.value);
          var lat = parseFloat(ctx.form.elements.lat.value);
          if (isFinite(lon) && isFinite(lat)) { locate(ctx, lon, lat); }
        }, 0);
        return;
      }
      var f = svgFrame(svg);
      if (!f) { return; }
      ev.preventDefault();
      var pt = svg.createSVGPoint();
      pt.x = ev.clientX;
      pt.y = ev.clientY;
      var p = pt.matrixTransform(svg.getScreenCTM().inverse());
      pick(ctx, f.minLon + p.x / (f.k * f.scale), f.maxLat - p.y / f.scale);
    });
  }

  // The SVG's own extent, so that the tiled map can show the right place before the grids load.
  function svgBounds(svg) {
    var f = svg && svgFrame(svg);
    var vb = svg && svg.viewBox && svg.viewBox.baseVal;
    if (!f || !vb || !vb.width || !vb.height) { return null; }
    return [[f.maxLat - vb.height / f.scale, f.minLon], [f.maxLat, f.minLon + vb.width / (f.k * f.scale)]];
  }

  // ---- with tiles: Leaflet ---------------------------------------------------------------

  function startLeaflet(ctx) {
    var L = window.L;
    var cfg = ctx.cfg;
    var l = ctx.labels;
    var div = el("div", "map-leaflet" + (ctx.pick ? " map-pick" : ""));
    div.id = "map-leaflet-" + ctx.index;
    div.setAttribute("role", "application");
    var title = ctx.svg && ctx.svg.querySelector("title");
    div.setAttribute("aria-label", (title && title.textContent.trim()) || l.map);
    var hint = el("p", "map-keys", ctx.pick ? l.keys_pick : l.keys);
    hint.id = div.id + "-keys";
    div.setAttribute("aria-describedby", hint.id);
    if (ctx.svg) {
      ctx.wrap.insertBefore(div, ctx.svg);
      ctx.svg.setAttribute("hidden", "");
      ctx.svg.setAttribute("aria-hidden", "true");
    } else {
      var tools = ctx.wrap.querySelector(".map-tools");
      ctx.wrap.insertBefore(div, tools ? tools.nextSibling : ctx.wrap.firstChild);
    }
    div.parentNode.insertBefore(hint, div.nextSibling);
    // Without map.css the page still gets a map of the intended size, and no SVG twice.
    if (ctx.svg && window.getComputedStyle(ctx.svg).display !== "none") {
      ctx.svg.style.display = "none";
    }
    if (!div.offsetHeight) {
      div.style.height = (window.innerWidth <= NARROW_PX ? 320 : 420) + "px";
    }

    var map = L.map(div, {
      minZoom: ctx.minZoom,
      maxZoom: ctx.maxZoom,
      keyboard: true,
      scrollWheelZoom: false
    });
    ctx.lmap = map;
    // The wheel zooms only once the map has been clicked or tabbed to, so that it does not
    // catch the page's scrolling.
    map.on("focus", function () { map.scrollWheelZoom.enable(); });
    map.on("blur", function () { map.scrollWheelZoom.disable(); });
    var pane = map.createPane("cgLabels");
    pane.style.zIndex = 450;
    pane.style.pointerEvents = "none";

    L.tileLayer(cfg.tiles, {
      attribution: escapeHtml(cfg.attribution || ""),
      minZoom: ctx.minZoom,
      maxZoom: ctx.maxZoom
    }).addTo(map);

    var first = svgBounds(ctx.svg);
    if (first) {
      map.fitBounds(first);
    }
    map.on("zoomend", function () {
      relabel(ctx);
      recluster(ctx);
    });

    if (ctx.pick) {
      map.on("click", function (e) { pick(ctx, e.latlng.lng, e.latlng.lat); });
      div.addEventListener("keydown", function (ev) {
        if (ev.key === "Enter" && ev.target === div) {
          ev.preventDefault();
          var c = map.getCenter();
          pick(ctx, c.lng, c.lat);
        }
      });
    }

    if (cfg.grids) {
      getJSON(cfg.grids, function (status, body) {
        if (status === 200 && body && body.features) { addGrids(ctx, body); }
        if (!ctx.grids.length && !first) { map.setView([0, 0], ctx.minZoom); }
      });
    } else if (!first) {
      map.setView([0, 0], ctx.minZoom);
    }
    if (cfg.cases) {
      getJSON(cfg.cases, function (status, body) {
        if (status === 200 && body && body.features) { addCases(ctx, body); }
      });
    }
  }

  function addGrids(ctx, geojson) {
    var L = window.L;
    var map = ctx.lmap;
    var base = { color: "#44617b", weight: 1.5, opacity: 0.9, fillColor: "#0b5cad", fillOpacity: 0.06 };
    var layer = L.geoJSON(geojson, {
      style: function () { return base; },
      onEachFeature: function (f, lyr) {
        var p = f.properties || {};
        var g = {
          layer: lyr,
          code: p.code,
          name: String(p.name || p.code || ""),
          community_code: p.community_code,
          community_name: p.community_name ? String(p.community_name) : ""
        };
        ctx.grids.push(g);
        var hover = g.name + (g.community_name ? " · " + g.community_name : "");
        lyr.bindTooltip(el("span", null, hover), { sticky: true, direction: "top", className: "map-hover" });
        lyr.on("mouseover", function () { lyr.setStyle({ weight: 3, color: "#0b5cad" }); });
        lyr.on("mouseout", function () { lyr.setStyle(base); });
      }
    });
    layer.addTo(map);
    ctx.gridLayer = layer;
    var bounds = layer.getBounds();
    if (bounds.isValid() && !ctx.userMoved) {
      map.fitBounds(bounds, { padding: [8, 8] });
    }

    var byCommunity = {};
    var order = [];
    ctx.grids.forEach(function (g) {
      g.bounds = g.layer.getBounds();
      var centre;
      try { centre = g.layer.getCenter(); } catch (e) { centre = g.bounds.getCenter(); }
      g.label = makeLabel(g.name, centre, g.bounds, "map-label-grid", 12);
      var key = g.community_code || g.community_name;
      if (!key || !g.community_name) { return; }
      if (!byCommunity[key]) {
        byCommunity[key] = { name: g.community_name, bounds: L.latLngBounds(g.bounds.getSouthWest(), g.bounds.getNorthEast()) };
        order.push(key);
      } else {
        byCommunity[key].bounds.extend(g.bounds);
      }
    });
    ctx.communities = order.map(function (k) {
      var c = byCommunity[k];
      c.label = makeLabel(c.name, c.bounds.getCenter(), c.bounds, "map-label-community", 14);
      return c;
    });
    // Larger grids are named first when names would collide.
    ctx.grids.sort(function (a, b) { return area(b.bounds) - area(a.bounds); });
    map.whenReady(function () { relabel(ctx); });
  }

  function area(b) {
    return (b.getEast() - b.getWest()) * (b.getNorth() - b.getSouth());
  }

  function makeLabel(text, latlng, bounds, cls, px) {
    var tip = window.L.tooltip({
      permanent: true,
      direction: "center",
      className: "map-label " + cls,
      pane: "cgLabels",
      interactive: false,
      opacity: 1
    }).setLatLng(latlng).setContent(el("span", null, text));
    return { tip: tip, latlng: latlng, bounds: bounds, w: textWidth(text, px) + 8, h: px + 8, on: false };
  }

  // Shows the names that fit inside their area without covering one another: communities
  // first, then grids from the largest down.
  function relabel(ctx) {
    var map = ctx.lmap;
    if (!map || !ctx.grids.length) { return; }
    var z = map.getZoom();
    var placed = [];
    function free(b) {
      for (var i = 0; i < placed.length; i++) {
        var o = placed[i];
        if (b[0] < o[2] && o[0] < b[2] && b[1] < o[3] && o[1] < b[3]) { return false; }
      }
      return true;
    }
    function place(lb) {
      var nw = map.project(lb.bounds.getNorthWest(), z);
      var se = map.project(lb.bounds.getSouthEast(), z);
      var show = false;
      if (se.x - nw.x >= lb.w && se.y - nw.y >= lb.h) {
        var c = map.project(lb.latlng, z);
        var box = [c.x - lb.w / 2 - 2, c.y - lb.h / 2 - 2, c.x + lb.w / 2 + 2, c.y + lb.h / 2 + 2];
        if (free(box)) {
          placed.push(box);
          show = true;
        }
      }
      if (show && !lb.on) { map.addLayer(lb.tip); }
      if (!show && lb.on) { map.removeLayer(lb.tip); }
      lb.on = show;
    }
    ctx.communities.forEach(function (c) { place(c.label); });
    ctx.grids.forEach(function (g) { place(g.label); });
  }

  // ---- cases and their clusters ------------------------------------------------------------

  function addCases(ctx, geojson) {
    var L = window.L;
    ctx.cases = [];
    geojson.features.forEach(function (f) {
      var g = f && f.geometry;
      if (!g || g.type !== "Point" || !g.coordinates) { return; }
      var lon = num(g.coordinates[0], NaN);
      var lat = num(g.coordinates[1], NaN);
      if (!isFinite(lon) || !isFinite(lat)) { return; }
      ctx.cases.push({ latlng: L.latLng(lat, lon), props: f.properties || {}, marker: null });
    });
    ctx.caseLayer = L.layerGroup().addTo(ctx.lmap);
    ctx.shown = [];
    ctx.lmap.whenReady(function () { recluster(ctx); });
  }

  function caseText(p) {
    return [p.category, p.status, p.reported_at].filter(function (x) { return x; }).join(" · ");
  }

  function casePopup(p) {
    var box = el("div", "map-case-popup");
    box.appendChild(el("strong", null, p.category || p.public_id || ""));
    var meta = [p.status, p.reported_at].filter(function (x) { return x; }).join(" · ");
    if (meta) { box.appendChild(el("div", null, meta)); }
    var href = safeHref(p.url);
    if (href) {
      var a = el("a", null, p.public_id || href);
      a.href = href;
      box.appendChild(a);
    }
    return box;
  }

  function caseMarker(c) {
    if (c.marker) { return c.marker; }
    var L = window.L;
    var p = c.props;
    var code = /^[a-z_]{1,32}$/.test(p.status_code || "") ? p.status_code : "other";
    c.marker = L.marker(c.latlng, {
      icon: L.divIcon({ className: "map-case status-" + code, iconSize: [16, 16], html: "" }),
      title: caseText(p) || String(p.public_id || ""),
      keyboard: true,
      riseOnHover: true
    }).bindPopup(casePopup(p));
    return c.marker;
  }

  function clusterMarker(ctx, list) {
    var L = window.L;
    var lat = 0;
    var lon = 0;
    var bounds = L.latLngBounds(list[0].latlng, list[0].latlng);
    list.forEach(function (c) {
      lat += c.latlng.lat;
      lon += c.latlng.lng;
      bounds.extend(c.latlng);
    });
    var n = list.length;
    var size = n < 10 ? 30 : n < 100 ? 36 : 44;
    var m = L.marker([lat / n, lon / n], {
      icon: L.divIcon({
        className: "map-cluster map-cluster-" + (n < 10 ? "s" : n < 100 ? "m" : "l"),
        html: "<span>" + n + "</span>",
        iconSize: [size, size]
      }),
      title: fill(ctx.labels.cases, { count: n }),
      keyboard: true,
      riseOnHover: true
    });
    var open = function (byKey) { openCluster(ctx, list, bounds, byKey); };
    m.on("click", function () { open(false); });
    m.on("keypress", function (e) {
      var k = e.originalEvent.key;
      if (k === "Enter" || k === " ") {
        e.originalEvent.preventDefault();
        open(true);
      }
    });
    return m;
  }

  // Zooms in on a cluster; one that does not come apart at the deepest zoom lists its cases.
  function openCluster(ctx, list, bounds, byKey) {
    var L = window.L;
    var map = ctx.lmap;
    var z = map.getZoom();
    var max = map.getMaxZoom();
    if (z < max) {
      var target = Math.min(map.getBoundsZoom(bounds, false, L.point(CLUSTER_PX, CLUSTER_PX)), max);
      map.setView(bounds.getCenter(), Math.max(target, z + 1));
      if (byKey) { map.getContainer().focus(); }
      return;
    }
    var box = el("div", "map-case-popup");
    var ul = el("ul", "map-case-list");
    list.forEach(function (c) {
      var li = el("li");
      var href = safeHref(c.props.url);
      var text = (c.props.public_id ? c.props.public_id + " " : "") + caseText(c.props);
      if (href) {
        var a = el("a", null, text);
        a.href = href;
        li.appendChild(a);
      } else {
        li.textContent = text;
      }
      ul.appendChild(li);
    });
    box.appendChild(ul);
    L.popup({ maxHeight: 240 }).setLatLng(bounds.getCenter()).setContent(box).openOn(map);
  }

  // Groups the cases into CLUSTER_PX squares of the world at this zoom: a square with one
  // case shows it, a square with more shows their number.
  function recluster(ctx) {
    var map = ctx.lmap;
    if (!map || !ctx.cases || !ctx.caseLayer) { return; }
    var z = map.getZoom();
    var cells = {};
    var keys = [];
    ctx.cases.forEach(function (c) {
      var p = map.project(c.latlng, z);
      var key = Math.floor(p.x / CLUSTER_PX) + ":" + Math.floor(p.y / CLUSTER_PX);
      if (!cells[key]) {
        cells[key] = [];
        keys.push(key);
      }
      cells[key].push(c);
    });
    var next = [];
    keys.forEach(function (k) {
      var list = cells[k];
      next.push(list.length === 1 ? caseMarker(list[0]) : clusterMarker(ctx, list));
    });
    // Case markers that stay keep their place (and an open popup); the rest are replaced.
    var keep = {};
    next.forEach(function (m) { keep[window.L.stamp(m)] = true; });
    ctx.shown.forEach(function (m) {
      if (!keep[window.L.stamp(m)]) { ctx.caseLayer.removeLayer(m); }
    });
    next.forEach(function (m) {
      if (!ctx.caseLayer.hasLayer(m)) { ctx.caseLayer.addLayer(m); }
    });
    ctx.shown = next;
  }

  // ---- start ----------------------------------------------------------------------------------

  function startAll() {
    var wraps = document.querySelectorAll("[data-map]");
    for (var i = 0; i < wraps.length; i++) {
      if (!wraps[i].getAttribute("data-cg-started")) {
        wraps[i].setAttribute("data-cg-started", "1");
        setup(wraps[i], i);
      }
    }
  }

  function whenLeafletMayBeThere() {
    // Leaflet is loaded with `defer` like this script; should it come later, wait for the load.
    var wantsTiles = false;
    var wraps = document.querySelectorAll("[data-map]");
    for (var i = 0; i < wraps.length; i++) {
      if (/"tiles"\s*:\s*"/.test(wraps[i].getAttribute("data-map") || "")) { wantsTiles = true; }
    }
    if (wantsTiles && !window.L && document.readyState !== "complete") {
      window.addEventListener("load", startAll);
    } else {
      startAll();
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", whenLeafletMayBeThere);
  } else {
    whenLeafletMayBeThere();
  }
})();
