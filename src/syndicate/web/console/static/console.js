// Live counts on the edition page: poll /progress every few seconds while the edition
// is not finished. Without JavaScript the page refreshes itself instead (<noscript>).
(function () {
  "use strict";
  var box = document.getElementById("progress");
  if (!box) { return; }
  var url = box.getAttribute("data-url");
  var done = ["sent", "missed", "cancelled"];
  function show(data) {
    document.getElementById("progress-state").textContent = data.state;
    var list = document.getElementById("progress-counts");
    list.textContent = "";
    var names = Object.keys(data.counts).sort();
    if (!names.length) {
      var none = document.createElement("li");
      none.textContent = "no deliveries yet";
      list.appendChild(none);
    }
    names.forEach(function (name) {
      var item = document.createElement("li");
      var n = document.createElement("strong");
      n.textContent = String(data.counts[name]);
      item.appendChild(n);
      item.appendChild(document.createTextNode(" " + name));
      list.appendChild(item);
    });
    var rate = "";
    if (data.rate) {
      rate = data.rate + " messages/s";
      if (data.seconds_left) { rate += ", about " + data.seconds_left + " s to go"; }
    }
    document.getElementById("progress-rate").textContent = rate;
    return done.indexOf(data.state) === -1;
  }
  function tick() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data && show(data)) { setTimeout(tick, 2000); } })
      .catch(function () { setTimeout(tick, 5000); });
  }
  setTimeout(tick, 1000);
})();
