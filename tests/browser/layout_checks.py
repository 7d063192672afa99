"""What a page's layout owes its readers, measured in the browser: targets, reflow, focus.

Each check is a script run in the page; it returns what is wrong, in words, or nothing.
"""

from __future__ import annotations

from playwright.sync_api import Page

# The smallest target a thumb hits reliably: WCAG 2.5.5 (AAA) asks 44 x 44 CSS px, and we ask
# it of the subject's pages. 2.5.8 (AA, 24 px) and 2.5.5 share the exceptions taken below.
TARGET_PX = 44

_DESCRIBE = """
const describe = element => {
  const id = element.id ? "#" + element.id : "";
  const classes = typeof element.className === "string" && element.className.trim()
    ? "." + element.className.trim().split(/\\s+/).join(".") : "";
  const text = (element.innerText || element.value || element.getAttribute("aria-label") || "")
    .replace(/\\s+/g, " ").trim().slice(0, 40);
  return `${element.tagName.toLowerCase()}${id}${classes}${text ? ` "${text}"` : ""}`;
};
// Shown to screen readers only: a box of one pixel, clipped (the visually-hidden pattern).
const forScreenReadersOnly = element => {
  for (let node = element; node && node !== document.body; node = node.parentElement) {
    const box = node.getBoundingClientRect();
    if (box.width <= 1 && box.height <= 1) { return true; }
  }
  return false;
};
"""

_TARGETS = (
    "minimum => {"
    + _DESCRIBE
    + """
  const found = [];
  const blockOf = element => {
    let node = element.parentElement;
    while (node && getComputedStyle(node).display.startsWith("inline")) {
      node = node.parentElement;
    }
    return node;
  };
  const words = node => (node.textContent || "").replace(/\\s+/g, " ").trim();
  // WCAG's "inline" exception: a link laid out in the lines of a sentence, among other words,
  // whose size the line height of the text sets. A link alone on its line is not exempt.
  const inSentence = element => {
    if (element.tagName !== "A" || getComputedStyle(element).display !== "inline") { return false; }
    const block = blockOf(element);
    return block !== null && words(block).length > words(element).length;
  };
  const selector = "a[href], button, input:not([type=hidden]), select, textarea, summary,"
    + " [tabindex]:not([tabindex='-1'])";
  for (const element of document.body.querySelectorAll(selector)) {
    if (!element.getClientRects().length || getComputedStyle(element).visibility === "hidden") {
      continue;
    }
    if (forScreenReadersOnly(element) || inSentence(element)) { continue; }
    // A box or a round button inside its label: the label is what one taps.
    let target = element;
    if (["checkbox", "radio"].includes(element.type) && element.labels && element.labels.length) {
      target = element.labels[0];
    }
    const box = target.getBoundingClientRect();
    // Above the top of the page until it has the focus (the skip link): nothing to tap.
    if (box.bottom + window.scrollY <= 0) { continue; }
    // A link laid out as text is as tall as its lines, however many: measure each line.
    const parts = getComputedStyle(target).display === "inline"
      ? Array.from(target.getClientRects()) : [box];
    const small = parts.find(part => part.width < minimum - 0.01 || part.height < minimum - 0.01);
    if (small) {
      found.push(`${describe(target)}: ${small.width.toFixed(1)} x ${small.height.toFixed(1)} px`);
    }
  }
  return found;
}"""
)

_REFLOW = (
    "() => {"
    + _DESCRIBE
    + """
  const root = document.documentElement;
  const width = root.clientWidth;
  const found = [];
  if (root.scrollWidth > width) {
    found.push(`the page scrolls sideways: ${root.scrollWidth} px wide on a ${width} px screen`);
  }
  const reported = new Set();
  // A box that scrolls sideways on purpose (a table of figures): what it holds may be wider.
  const scrolls = element => ["auto", "scroll"].includes(getComputedStyle(element).overflowX);
  const insideScroller = element => {
    for (let node = element.parentElement; node !== document.body; node = node.parentElement) {
      if (scrolls(node)) { return true; }
    }
    return false;
  };
  const controls = ["INPUT", "TEXTAREA", "SELECT"];
  for (const element of document.body.querySelectorAll("*")) {
    if (reported.has(element.parentElement)) { reported.add(element); continue; }
    if (!element.getClientRects().length || forScreenReadersOnly(element)) { continue; }
    if (insideScroller(element)) { continue; }
    const style = getComputedStyle(element);
    const box = element.getBoundingClientRect();
    if (box.right > width + 1 || box.left < -1) {
      found.push(`${describe(element)} reaches past the screen: ${Math.round(box.left)} to `
        + `${Math.round(box.right)} px`);
      reported.add(element);
    } else if (element instanceof SVGElement) {
      // A drawing's parts have no scroll box of their own: only their place on the screen counts.
      continue;
    } else if (!controls.includes(element.tagName) && ["hidden", "clip"].includes(style.overflowX)
        && element.scrollWidth > element.clientWidth + 1) {
      found.push(`${describe(element)} cuts off its content: ${element.scrollWidth} px in `
        + `${element.clientWidth} px`);
      reported.add(element);
    } else if (!controls.includes(element.tagName) && style.overflowX === "visible"
        && !style.display.startsWith("inline") && element.clientWidth > 0
        && element.scrollWidth > element.clientWidth + 1) {
      found.push(`${describe(element)} spills out of its box: ${element.scrollWidth} px in `
        + `${element.clientWidth} px`);
      reported.add(element);
    }
  }
  return found;
}"""
)

_FOCUS = (
    "() => {"
    + _DESCRIBE
    + """
  const element = document.activeElement;
  if (!element || element === document.body) { return null; }
  const style = getComputedStyle(element);
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2;
  const shadow = style.boxShadow && style.boxShadow !== "none";
  return outline || shadow ? null : `${describe(element)} has the focus but no visible ring`;
}"""
)


def small_targets(page: Page, minimum: int = TARGET_PX) -> list[str]:
    """Interactive elements smaller than ``minimum`` x ``minimum`` CSS px, from the page's top.

    Measured: links, buttons, fields, selects, summaries and other focusable elements; for a
    checkbox or a radio button, its label (tapping the label ticks the box); for a link laid
    out as text, each of its lines (a link wrapped on two lines is two thin strips, not one
    tall target). Not measured:
    a link inside a sentence (WCAG's "inline" exception: the line height of the text around it
    sets its size), what is visible to screen readers only, and what sits above the page until
    it has the focus (the skip link).
    """
    page.evaluate("() => window.scrollTo(0, 0)")
    found: list[str] = page.evaluate(_TARGETS, minimum)
    return found


def reflow_problems(page: Page) -> list[str]:
    """Sideways scrolling, and boxes that reach past the screen, cut off or spill their content.

    Form fields scroll their own text and are not counted; neither is what a box that scrolls
    sideways on purpose holds (WCAG 1.4.10 exempts tables that need both dimensions).
    """
    found: list[str] = page.evaluate(_REFLOW)
    return found


def focus_not_visible(page: Page) -> str | None:
    """Why the element that has the focus shows no focus ring; None when it shows one."""
    problem: str | None = page.evaluate(_FOCUS)
    return problem
