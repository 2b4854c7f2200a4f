/* The kanban board (templates/sfa/_board.html): drag a card with SortableJS, post the move
   with htmx, and swap in the board the server answers. The server answers the refreshed board
   for every outcome: 200 moved, 409 someone moved the card first, 400 a bad move; so the
   board always shows what is stored. Dropping on a won or lost column first asks why.
   A card's "Move…" link opens the board's one move form (#sfa-move) as a dialog for that
   card, for keyboards and phones; without this script the link reloads the board with the
   form open. "Show more" links are plain htmx (hx-get) and need nothing here. */
(function () {
  "use strict";

  function board() {
    return document.getElementById("sfa-board");
  }

  function refresh() {
    var b = board();
    if (b) htmx.ajax("GET", b.dataset.refreshUrl, { target: "#sfa-board", swap: "outerHTML" });
  }

  function post(card, stageId, reason) {
    var b = board();
    b.classList.add("sfa-busy");
    htmx.ajax("POST", b.dataset.moveUrl.replace("DEAL_ID", card.dataset.dealId), {
      source: b, // inherits hx-headers (the CSRF token) from <body>
      target: "#sfa-board",
      swap: "outerHTML",
      values: { stage_id: stageId, version: card.dataset.version, close_reason: reason || "" }
    }).catch(refresh);
  }

  function ask(card, list) {
    var dialog = document.getElementById("sfa-close-dialog");
    var outcome = list.dataset.outcome;
    var title = document.getElementById("sfa-close-title");
    var reason = document.getElementById("sfa-close-reason");
    var error = document.getElementById("sfa-close-error");
    title.textContent = title.dataset[outcome];
    document.getElementById("sfa-close-deal").textContent =
      card.dataset.name + " \u2192 " + list.dataset.stageName;
    reason.value = "";
    error.hidden = true;
    dialog.querySelector("form").onsubmit = function (event) {
      var saving = event.submitter && event.submitter.value === "save";
      if (saving && outcome === "lost" && !reason.value.trim()) {
        event.preventDefault();
        error.hidden = false;
        reason.focus();
      }
    };
    dialog.onclose = function () {
      if (dialog.returnValue === "save") post(card, list.dataset.stageId, reason.value);
      else refresh(); // cancelled: the card goes back where it was
    };
    dialog.returnValue = "";
    dialog.showModal();
    reason.focus();
  }

  function openMove(card) {
    var dialog = document.getElementById("sfa-move");
    if (!dialog || typeof dialog.showModal !== "function") return false;
    var form = dialog.querySelector("form");
    var list = card.closest(".sfa-cards");
    var select = document.getElementById("sfa-move-stage");
    var reason = document.getElementById("sfa-move-reason");
    var error = document.getElementById("sfa-move-error");
    if (dialog.open) dialog.close();
    document.getElementById("sfa-move-deal").textContent = card.dataset.name;
    form.elements.version.value = card.dataset.version;
    if (list) select.value = list.dataset.stageId;
    reason.value = "";
    error.hidden = true;
    form.onsubmit = function (event) {
      event.preventDefault();
      var option = select.options[select.selectedIndex];
      if (option && option.dataset.outcome === "lost" && !reason.value.trim()) {
        error.hidden = false;
        reason.focus();
        return;
      }
      dialog.close();
      if (list && select.value === list.dataset.stageId) return; // not moved
      post(card, select.value, reason.value);
    };
    dialog.showModal();
    select.focus();
    return true;
  }

  // One listener for the whole page: cards come and go (board swaps, "show more").
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("#sfa-board .sfa-move");
    if (link) {
      var card = link.closest(".sfa-card");
      if (card && openMove(card)) event.preventDefault();
      return;
    }
    var cancel = event.target.closest && event.target.closest("#sfa-move-cancel");
    var dialog = document.getElementById("sfa-move");
    if (cancel && dialog && dialog.open) {
      event.preventDefault();
      dialog.close();
    }
  });

  function init(root) {
    var b = root.id === "sfa-board" ? root : root.querySelector && root.querySelector("#sfa-board");
    if (!b || b.dataset.canWrite !== "true" || typeof Sortable === "undefined") return;
    b.querySelectorAll(".sfa-cards").forEach(function (list) {
      Sortable.create(list, {
        group: "sfa-deals",
        draggable: ".sfa-card",
        filter: ".sfa-move, .sfa-more-item, select, input, textarea, button",
        preventOnFilter: false,
        forceFallback: true, // pointer events: the same on mice, touch screens and tests
        fallbackTolerance: 4,
        delay: 200, // on touch screens a long press drags; a swipe still scrolls the board
        delayOnTouchOnly: true,
        animation: 120,
        ghostClass: "sfa-ghost",
        onEnd: function (event) {
          if (event.from === event.to) return;
          var outcome = event.to.dataset.outcome;
          if (outcome === "won" || outcome === "lost") ask(event.item, event.to);
          else post(event.item, event.to.dataset.stageId, "");
        }
      });
    });
  }

  // A refused move (409 stale card, 400 bad stage) still answers the refreshed board: show it.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    var target = event.detail.target;
    if ((status === 400 || status === 409) && target && target.id === "sfa-board") {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  htmx.onLoad(init);
})();
