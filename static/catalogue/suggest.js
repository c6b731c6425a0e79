// Suggests keywords, authors and journals as one types in a search box
// with data-suggest="<url of suggest.json>". Without JavaScript the box is a
// plain search box; with it, the browser's own list (a <datalist>) offers
// the names, so keyboard and screen reader use work as for any input.
(function () {
  "use strict";
  var DELAY_MS = 150;

  function attach(input, index) {
    var list = document.createElement("datalist");
    list.id = "search-suggestions-" + index;
    input.after(list);
    input.setAttribute("list", list.id);
    var timer = null;
    var latest = 0;

    input.addEventListener("input", function () {
      clearTimeout(timer);
      var text = input.value.trim();
      if (text.length < 2) { list.replaceChildren(); return; }
      timer = setTimeout(function () {
        var asked = ++latest;
        fetch(input.dataset.suggest + "?q=" + encodeURIComponent(text), {headers: {Accept: "application/json"}})
          .then(function (response) { return response.ok ? response.json() : {results: []}; })
          .then(function (data) {
            if (asked !== latest) { return; }  // an answer to an older keystroke
            list.replaceChildren.apply(list, data.results.map(function (item) {
              var option = document.createElement("option");
              option.value = item.label;
              option.label = item.kind;
              return option;
            }));
          })
          .catch(function () { /* suggestions are a help, not a need */ });
      }, DELAY_MS);
    });
  }

  document.querySelectorAll("input[data-suggest]").forEach(attach);
})();
