// The book's own site behaviour: figures enlarge on click; solutions open for printing.
(function () {
  "use strict";

  function zoom(image) {
    const overlay = document.createElement("div");
    overlay.className = "book-figure-zoom";
    overlay.setAttribute("role", "dialog");
    overlay.setAttribute("aria-label", image.alt || "figure");
    const copy = document.createElement("img");
    copy.src = image.currentSrc || image.src;
    copy.alt = image.alt;
    // At least the figure's natural (1x) size, where its text is >= 11 px, scrolling on a phone;
    // up to the screen's width, as far as the 2x pixels allow, on a desktop.
    const natural = parseFloat(image.style.width) || image.naturalWidth / 2;
    copy.width = Math.max(natural, Math.min(image.naturalWidth, window.innerWidth * 0.96));
    overlay.appendChild(copy);
    const close = () => overlay.remove();
    overlay.addEventListener("click", close);
    document.addEventListener("keydown", function onKey(event) {
      if (event.key === "Escape") {
        close();
        document.removeEventListener("keydown", onKey);
      }
    });
    document.body.appendChild(overlay);
  }

  // A figure wider than its column (on a phone) scrolls sideways: mark it so its caption says so.
  function markWide() {
    document.querySelectorAll(".bd-article .cell_output figure").forEach((figure) => {
      const frame = figure.querySelector("a.image-reference");
      if (frame) {
        figure.classList.toggle("book-figure-wide", frame.scrollWidth > frame.clientWidth + 1);
      }
    });
  }

  function setUp() {
    markWide();
    window.addEventListener("resize", markWide);
    document.querySelectorAll(".bd-article .cell_output img").forEach((image) => {
      image.addEventListener("load", markWide);
      // A captioned figure's image is a link to the PNG: enlarge in place instead of leaving.
      image.addEventListener("click", (event) => {
        event.preventDefault();
        zoom(image);
      });
    });
  }

  // Solutions are folded on screen; a printed page shows them (and the exercises' answers).
  window.addEventListener("beforeprint", () => {
    document.querySelectorAll(".toggle-hidden").forEach((node) => {
      node.classList.remove("toggle-hidden");
      node.dataset.bookPrintOpened = "1";
    });
    document.querySelectorAll("details").forEach((node) => {
      if (!node.open) {
        node.open = true;
        node.dataset.bookPrintOpened = "1";
      }
    });
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
